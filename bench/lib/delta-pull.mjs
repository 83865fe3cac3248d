// One delta pull with the agent's own code (dist/): opens a folder's state DB
// (a copy made before the entries were committed) and runs pull() until the
// cursor reaches the head. Prints {"entries", "ms", "applied"} as JSON.
//   node bench/lib/delta-pull.mjs <state.db>
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dist = join(dirname(fileURLToPath(import.meta.url)), '../../dist');
const { StateDB } = await import(pathToFileURL(join(dist, 'client/state/db.js')).href);
const { pull } = await import(pathToFileURL(join(dist, 'client/exec/pull.js')).href);
const { remoteFor } = await import(pathToFileURL(join(dist, 'cli/folder.js')).href);

const db = new StateDB(process.argv[2]);
const remote = remoteFor(db);
const before = Number(db.meta.get('cursor_seq'));
const t = performance.now();
const r = await pull(db, remote);
const ms = performance.now() - t;
const after = Number(db.meta.get('cursor_seq'));
await remote.close();
db.close();
process.stdout.write(`${JSON.stringify({ entries: after - before, applied: r.applied, resets: r.resets, ms })}\n`);
