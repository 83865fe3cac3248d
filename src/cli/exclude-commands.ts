// The work of syncd exclude add | remove | list (src/cli/exclude.ts parses
// their arguments). They edit the state DB's exclusion list in one
// transaction, with or without a running agent: a running agent sees the
// change within a second (client/state/exclusions.ts) and applies it; a
// stopped one applies it at its next `syncd sync` or `syncd watch`.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { locate, type Located } from '../client/history/locate.js';
import { StateDB } from '../client/state/db.js';
import { editExclusions } from '../client/state/exclusions.js';
import { lockHolder } from '../client/state/lock.js';
import { checkExclusionPath, coveringExclusion, type Exclusion } from '../core/policy/exclusions.js';
import { resolvePaths } from '../core/tree.js';
import { SyncdError, UsageError } from '../protocol/errors.js';
import { printJson } from './folder.js';

/** Each PATH as a path in one linked folder. */
function locateAll(args: readonly string[]): { at: Located; rels: string[] } {
  const located = args.map((a) => locate(a));
  const at = located[0]!;
  const rels = located.map((l, i) => {
    if (l.paths.db !== at.paths.db) throw new UsageError(`${args[i]} is in another linked folder (${l.paths.folder}) than ${args[0]} (${at.paths.folder}): one folder per command`);
    const c = checkExclusionPath(l.rel);
    if (!c.ok) throw new UsageError(`cannot exclude ${args[i]}: ${c.reason}`);
    return c.path;
  });
  return { at, rels: [...new Set(rels)] };
}

function afterEdit(at: Located, what: string): void {
  const running = lockHolder(at.paths.lock) !== null;
  process.stdout.write(running
    ? `the running agent ${what} (\`syncd wait\` returns once it has)\n`
    : `no agent is running: \`syncd sync ${at.paths.folder}\` or \`syncd watch\` ${what}\n`);
}

export function runExcludeAdd(args: string[]): void {
  const { at, rels } = locateAll(args);
  const db = new StateDB(at.paths.db);
  try {
    const { idAt } = resolvePaths(db.loadRemote());
    const listed = (db.meta.get('exclusions') ?? []).map((x) => x.path);
    // only what the server has (as last pulled) can be excluded: something
    // new here would have to be uploaded first, or it would be lost to sight
    const add: Exclusion[] = rels.map((rel) => {
      const id = idAt.get(rel);
      if (id === undefined) {
        throw new SyncdError('not_found', existsSync(join(at.paths.folder, rel))
          ? `"${rel}" is not on the server yet (it is new in ${at.paths.folder}): let it sync first, then exclude it; nothing was excluded`
          : `nothing is at "${rel}" on the server; nothing was excluded`);
      }
      return { path: rel, id };
    });
    const { added } = editExclusions(db, { add });
    for (const rel of rels) {
      const outer = coveringExclusion(rel, listed.filter((p) => p !== rel));
      if (!added.includes(rel)) process.stdout.write(`already excluded: ${rel}\n`);
      else process.stdout.write(`excluded ${rel}${outer ? ` (inside the excluded ${outer}: it stays excluded if that one is removed)` : ''}\n`);
    }
    if (added.length) afterEdit(at, 'removes the local copies once every local change in them has reached the server; nothing is deleted on the server');
  } finally {
    db.close();
  }
}

export function runExcludeRemove(args: string[]): void {
  const { at, rels } = locateAll(args);
  const db = new StateDB(at.paths.db);
  try {
    const listed = (db.meta.get('exclusions') ?? []).map((x) => x.path);
    // every argument is checked before anything changes
    const notListed = rels.filter((r) => !listed.includes(r));
    if (notListed.length) {
      const why = notListed.map((r) => {
        const outer = coveringExclusion(r, listed);
        return outer ? `"${r}" is not excluded itself; it is inside the excluded "${outer}" (\`syncd exclude remove ${outer}\`)` : `"${r}" is not excluded`;
      });
      throw new UsageError(`${why.join('; ')}; nothing was changed`);
    }
    const { removed } = editExclusions(db, { remove: rels });
    const rest = listed.filter((p) => !removed.includes(p));
    for (const rel of removed) {
      const outer = coveringExclusion(rel, rest);
      process.stdout.write(`included ${rel}${outer ? ` (still inside the excluded ${outer})` : ''}\n`);
    }
    afterEdit(at, 'downloads the included content');
  } finally {
    db.close();
  }
}

export function runExcludeList(dir: string | undefined, o: { json?: boolean }): void {
  const at = locate(dir);
  const db = new StateDB(at.paths.db, { readonly: true });
  try {
    const list = (db.meta.get('exclusions') ?? []).map((x) => x.path);
    if (o.json) return printJson(list);
    process.stdout.write(list.length ? list.map((p) => `${p}\n`).join('') : 'no exclusions\n');
  } finally {
    db.close();
  }
}
