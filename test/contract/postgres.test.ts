// The HTTP contract suite against the scale-out stores: PostgreSQL journal,
// shared blob folder, LISTEN/NOTIFY bus. Needs PostgreSQL (test/helpers/pg.ts).

import { SKIP_PG } from '../helpers/pg.js';
import { startPgContractServer } from './pg-server.js';
import { serverContract } from './server-contract.js';

serverContract('postgres', startPgContractServer, { skip: SKIP_PG });
