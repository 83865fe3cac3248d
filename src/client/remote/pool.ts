// undici's Pool without undici's index. `import … from 'undici'` loads every
// dispatcher, the mock agents, the caches, fetch and WebSocket: about 200 ms
// of CPU at every start of `syncd sync` (90 ms more than the Pool and its
// request API; docs/performance.md, "Start-up"). The index does two things
// we need, and only these are repeated here: it mixes the request API into
// Dispatcher.prototype, and exports the Pool. undici has no "exports" map,
// so its lib/ paths resolve; test/e2e/noop-sync-modules.test.ts checks the
// no-op sync path never loads the index again.

import { createRequire } from 'node:module';
import type { Pool as UndiciPool } from 'undici';

const require = createRequire(import.meta.url);
const Dispatcher = require('undici/lib/dispatcher/dispatcher.js') as { prototype: object };
Object.assign(Dispatcher.prototype, { request: require('undici/lib/api/api-request.js') as unknown });

export const Pool = require('undici/lib/dispatcher/pool.js') as typeof UndiciPool;
