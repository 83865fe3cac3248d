// undici's Pool without undici's index. `import … from 'undici'` loads every
// dispatcher, the mock agents, the caches, fetch and WebSocket: about 200 ms
// of CPU at every start of `syncd sync` (90 ms more than the Pool and its
// request API; docs/performance.md, "Start-up"). The index does two things
// we need, and only these are repeated here: it mixes the request API into
// Dispatcher.prototype, and exports the Pool. undici has no "exports" map,
// so its lib/ paths resolve (their types: undici-lib.d.ts). They are static
// imports so that the CLI bundle (scripts/bundle.mjs) inlines them too;
// test/e2e/noop-sync-modules.test.ts checks the no-op sync path never loads
// the index again.

import Dispatcher from 'undici/lib/dispatcher/dispatcher.js';
import request from 'undici/lib/api/api-request.js';
import UndiciPool from 'undici/lib/dispatcher/pool.js';

Object.assign(Dispatcher.prototype, { request });

export const Pool = UndiciPool;
