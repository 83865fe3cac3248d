// Association: which local entry is which synced node, by inode (moves),
// by path (save-by-rename), and which NFC twin keeps a path.

import { describe, expect, it } from 'vitest';
import { associate, type SyncedNode, type SyncedTree } from '../../../src/core/associate.js';
import type { LocalEntry, LocalTree } from '../../../src/core/local.js';
import { resolvePaths, type Tree } from '../../../src/core/tree.js';

const s = (id: string, parent: string, name: string, ino: number | null, kind: SyncedNode['kind'] = 'file', hash: string | null = 'h'): SyncedNode => ({
  id, parent, name, kind, rev: 1, size: kind === 'file' ? 1 : null, hash: kind === 'file' ? hash : null, mtime: 0, exec: false, target: null, ino,
});
const l = (diskPath: string, ino: number, kind: LocalEntry['kind'] = 'file', hash: string | null = 'h'): LocalEntry => ({
  path: diskPath.normalize('NFC'), diskPath, kind, size: kind === 'file' ? 1 : null, mtimeMs: 1, ino, hash: kind === 'file' ? hash : null, exec: false, target: null,
});

interface Case {
  name: string;
  synced: SyncedNode[];
  local: LocalEntry[];
  /** synced id → [local NFC path, parentId, name]; absent: gone locally */
  want: Record<string, [string, string | null, string]>;
  twins?: string[];
}

const cases: Case[] = [
  { name: 'unchanged: same path, same inode', synced: [s('a', 'root', 'a.txt', 10)], local: [l('a.txt', 10)], want: { a: ['a.txt', 'root', 'a.txt'] } },
  { name: 'a rename keeps the inode', synced: [s('a', 'root', 'a.txt', 10)], local: [l('b.txt', 10)], want: { a: ['b.txt', 'root', 'b.txt'] } },
  { name: 'a moved directory keeps its children their parent', synced: [s('d', 'root', 'd', 1, 'dir'), s('f', 'd', 'f', 2)], local: [l('e', 1, 'dir'), l('e/f', 2)], want: { d: ['e', 'root', 'e'], f: ['e/f', 'd', 'f'] } },
  { name: 'save-by-rename: a new inode at the same path is the same node', synced: [s('a', 'root', 'a.txt', 10)], local: [l('a.txt', 99, 'file', 'new')], want: { a: ['a.txt', 'root', 'a.txt'] } },
  { name: 'a reused inode with other content elsewhere is not a move', synced: [s('a', 'root', 'a.txt', 10)], local: [l('other.txt', 10, 'file', 'different')], want: {} },
  { name: 'an edited file whose directory moved is still the same node', synced: [s('d', 'root', 'd', 1, 'dir'), s('f', 'd', 'f', 2)], local: [l('e', 1, 'dir'), l('e/f', 2, 'file', 'edited')], want: { d: ['e', 'root', 'e'], f: ['e/f', 'd', 'f'] } },
  { name: 'hard links (two entries, one inode) are matched by path only', synced: [s('a', 'root', 'a', 10)], local: [l('a', 10), l('b', 10)], want: { a: ['a', 'root', 'a'] } },
  { name: 'a kind change at the same path is not the same node', synced: [s('a', 'root', 'a', 10)], local: [l('a', 11, 'dir')], want: {} },
  { name: 'deleted locally', synced: [s('a', 'root', 'a', 10)], local: [], want: {} },
  { name: 'an entry under a new directory has no parent id yet', synced: [s('a', 'root', 'a', 10)], local: [l('new', 5, 'dir'), l('new/a', 10)], want: { a: ['new/a', null, 'a'] } },
  { name: 'NFC twins: the one Synced has at that path (by inode) keeps it', synced: [s('a', 'root', 'caf\u00e9', 10)], local: [l('cafe\u0301', 11), l('caf\u00e9', 10)], want: { a: ['caf\u00e9', 'root', 'caf\u00e9'] }, twins: ['cafe\u0301'] },
  { name: 'NFC twins, neither synced: the smaller disk spelling keeps the path', synced: [], local: [l('caf\u00e9', 11), l('cafe\u0301', 10)], want: {}, twins: ['caf\u00e9'] },
];

describe('associate', () => {
  for (const c of cases) {
    it(c.name, () => {
      const synced: SyncedTree = new Map(c.synced.map((n) => [n.id, n]));
      const local: LocalTree = new Map(c.local.map((e) => [e.diskPath, e]));
      const a = associate(synced, resolvePaths(synced as Tree), local);
      const got = Object.fromEntries([...a.localOf].map(([id, v]) => [id, [v.entry.path, v.parentId, v.name]]));
      expect(got).toEqual(c.want);
      for (const [id, [path]] of Object.entries(c.want)) expect(a.claimedAt.get(path)).toBe(id);
      expect(a.twins.map((t) => t.diskPath)).toEqual(c.twins ?? []);
    });
  }
});
