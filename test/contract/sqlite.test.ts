// The HTTP contract suite against the embedded default: SQLite + local blobs.

import { startTestServer } from '../helpers/server.js';
import { serverContract } from './server-contract.js';

serverContract('sqlite', () => startTestServer());
