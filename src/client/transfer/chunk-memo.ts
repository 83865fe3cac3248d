// The chunk lists of the large files hashed lately, each with the identity
// (size, mtime, inode) the file had throughout its read. The scan hashes a
// changed large file in the same pass that chunks it and leaves the result
// here; the upload that follows takes it instead of reading the file a
// second time. A hint like the chunk index: the server still checks every
// chunk sent and the whole-file hash on assembly, and the upload re-checks
// the identity before and after. An entry is taken once, so an upload that
// fails (say, the file changed in place) reads the file on its retry.
// Kept per file system (the engine simulation runs several in one process).

import type { Fsys } from '../disk/fsys.js';
import { sameIdentity, type ChunkedFile, type FileIdentity } from './chunk-file.js';

/** files remembered (a 512 MiB file's list is ~500 chunks: a few tens of KiB) */
const MEMO_FILES = 64;

type Memo = Map<string, { identity: FileIdentity; file: ChunkedFile }>;
const memos = new WeakMap<Fsys, Memo>();

/** Remembers the chunk list of `absPath` on `fs` as it was, with `identity`, for the whole read. */
export function rememberChunks(fs: Fsys, absPath: string, identity: FileIdentity, file: ChunkedFile): void {
  let memo = memos.get(fs);
  if (!memo) memos.set(fs, (memo = new Map()));
  memo.delete(absPath);
  memo.set(absPath, { identity: { size: identity.size, mtimeMs: identity.mtimeMs, ino: identity.ino }, file });
  if (memo.size > MEMO_FILES) memo.delete(memo.keys().next().value!);
}

/** Takes the remembered chunk list of `absPath` on `fs` if it was made with exactly `identity`, else null. */
export function takeChunks(fs: Fsys, absPath: string, identity: FileIdentity): ChunkedFile | null {
  const memo = memos.get(fs);
  const m = memo?.get(absPath);
  if (!m) return null;
  memo!.delete(absPath);
  return sameIdentity(m.identity, identity) ? m.file : null;
}
