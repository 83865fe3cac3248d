// A move that never replaces what appeared at its target after the executor
// looked (client/exec/no-replace.ts), on the real disk.

import { lstat, mkdir, mkdtemp, readFile, readlink, readdir, rename, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeFsys, type FsStat } from '../../../../src/client/disk/fsys.js';
import { moveNoReplace } from '../../../../src/client/exec/no-replace.js';
import type { LocalExpect } from '../../../../src/core/local.js';

async function look(p: string): Promise<{ ex: LocalExpect; st: FsStat }> {
  const st = await nodeFsys.lstat(p);
  const kind = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'file';
  return { ex: { kind, size: kind === 'file' ? st.size : null, mtimeMs: st.mtimeMs, ino: st.ino }, st };
}

describe('moveNoReplace', () => {
  it('moves a file under its inode, and the old name goes', async () => {
    const d = await mkdtemp(join(tmpdir(), 'syncd-move-'));
    await writeFile(join(d, 'a'), 'A');
    const { ex, st } = await look(join(d, 'a'));
    const moved = await moveNoReplace(nodeFsys, join(d, 'a'), join(d, 'b'), ex, st);
    expect(moved?.ino).toBe(st.ino);
    expect((await lstat(join(d, 'b'))).ino).toBe(st.ino);
    expect(await readdir(d)).toEqual(['b']);
  });

  it('leaves a file, symlink or directory where it is when the target was taken since the check: the taker is untouched', async () => {
    const d = await mkdtemp(join(tmpdir(), 'syncd-move-'));
    await writeFile(join(d, 'f'), 'F');
    await symlink('elsewhere', join(d, 'l'));
    await mkdir(join(d, 'dir'));
    await writeFile(join(d, 'dir', 'x'), 'X');
    for (const name of ['f', 'l', 'dir']) {
      const taken = join(d, `${name}-target`);
      await writeFile(taken, `the user's ${name}`); // appeared after the executor looked
      const { ex, st } = await look(join(d, name));
      expect(await moveNoReplace(nodeFsys, join(d, name), taken, ex, st)).toBeNull();
      expect(await readFile(taken, 'utf8')).toBe(`the user's ${name}`);
      expect((await lstat(join(d, name))).ino).toBe(st.ino);
    }
  });

  it('makes a symlink again at the new name (a new inode), and moves a directory whole', async () => {
    const d = await mkdtemp(join(tmpdir(), 'syncd-move-'));
    await symlink('../t', join(d, 'l'));
    await mkdir(join(d, 'dir'));
    await writeFile(join(d, 'dir', 'x'), 'X');
    const l = await look(join(d, 'l'));
    const movedLink = await moveNoReplace(nodeFsys, join(d, 'l'), join(d, 'l2'), l.ex, l.st);
    expect(await readlink(join(d, 'l2'))).toBe('../t');
    expect(movedLink?.ino).toBe((await lstat(join(d, 'l2'))).ino);
    const dir = await look(join(d, 'dir'));
    expect((await moveNoReplace(nodeFsys, join(d, 'dir'), join(d, 'dir2'), dir.ex, dir.st))?.ino).toBe(dir.st.ino);
    expect((await readdir(d)).sort()).toEqual(['dir2', 'l2']);
    expect(await readFile(join(d, 'dir2', 'x'), 'utf8')).toBe('X');
  });

  it('never deletes a file the user put at the old name after the check', async () => {
    const d = await mkdtemp(join(tmpdir(), 'syncd-move-'));
    await writeFile(join(d, 'a'), 'A');
    const { ex, st } = await look(join(d, 'a'));
    await writeFile(join(d, 'new'), "the user's new a");
    await rename(join(d, 'new'), join(d, 'a'));
    await moveNoReplace(nodeFsys, join(d, 'a'), join(d, 'b'), ex, st);
    // the checked delete of the old name finds another file there and puts it back
    expect(await readFile(join(d, 'a'), 'utf8')).toBe("the user's new a");
  });
});
