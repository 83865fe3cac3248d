// The version-history API on both stores: SQLite and PostgreSQL.

import { SKIP_PG } from '../helpers/pg.js';
import { startTestServer } from '../helpers/server.js';
import { historyContract } from './history-contract.js';
import { startPgContractServer } from './pg-server.js';

historyContract('sqlite', () => startTestServer());
historyContract('postgres', startPgContractServer, { skip: SKIP_PG });
