// A namespace's view of stored content: a hash it may read, served from its
// blob file when the content was uploaded whole, or from its chunks in
// order when it was assembled from a chunk list (no second copy is kept).
// Both `GET /v1/blobs/{hash}` and the chunk routes read through here, so old
// clients download files that new clients uploaded as chunks.

import type { BlobStore } from './blobs.js';
import type { FileRecipe } from './store/content-types.js';
import type { JournalStore, NamespaceRef } from './store/types.js';

export interface ContentSource {
  size: number;
  /** the bytes [start, end] inclusive */
  read(range: { start: number; end: number }): AsyncIterable<Buffer>;
}

/** null when the namespace may not read `hash`, or it is not stored */
export async function openContent(store: JournalStore, blobs: BlobStore, ns: NamespaceRef, hash: string): Promise<ContentSource | null> {
  const ref = await store.blobRef(ns, hash);
  if (!ref) return null;
  const size = await blobs.size(hash);
  if (size !== null) return { size, read: (r) => blobs.read(hash, r) };
  const recipe = await store.content.recipe(hash);
  if (!recipe) return null;
  return { size: recipe.size, read: (r) => readChunks(blobs, recipe, r) };
}

async function* readChunks(blobs: BlobStore, recipe: FileRecipe, range: { start: number; end: number }): AsyncIterable<Buffer> {
  let off = 0;
  for (const c of recipe.chunks) {
    const first = off;
    const last = off + c.size - 1;
    off += c.size;
    if (last < range.start || c.size === 0) continue;
    if (first > range.end) return;
    yield* blobs.read(c.hash, { start: Math.max(range.start, first) - first, end: Math.min(range.end, last) - first });
  }
}
