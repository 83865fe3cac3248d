import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BlobStore } from '../../../src/server/blobs.js';

let dir: string;
const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');
async function* chunks(...parts: string[]): AsyncGenerator<Buffer> {
  for (const p of parts) yield Buffer.from(p);
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'syncd-blobs-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('BlobStore', () => {
  it('stores content under blobs/ab/cd/<hash> and reads it back by range', async () => {
    const b = await BlobStore.open(dir);
    const h = sha('hello world');
    expect(await b.put(chunks('hello ', 'world'), h, 100)).toEqual({ ok: true, size: 11 });
    expect(b.pathOf(h)).toBe(join(dir, 'blobs', h.slice(0, 2), h.slice(2, 4), h));
    expect(readFileSync(b.pathOf(h), 'utf8')).toBe('hello world');
    expect(await b.size(h)).toBe(11);
    let got = '';
    for await (const c of b.read(h, { start: 6, end: 10 })) got += c;
    expect(got).toBe('world');
    expect(await b.tempCount()).toBe(0);
  });

  it('readWhole: the whole blob in one read, into a given buffer when it fits; null when missing or not that size', async () => {
    const b = await BlobStore.open(dir);
    const h = sha('hello world');
    await b.put(chunks('hello world'), h, 100);
    expect((await b.readWhole(h, 11))?.toString()).toBe('hello world');
    const into = Buffer.alloc(32);
    const got = await b.readWhole(h, 11, into);
    expect(got?.toString()).toBe('hello world');
    expect(got?.buffer).toBe(into.buffer); // no new allocation
    expect((await b.readWhole(h, 11, Buffer.alloc(4)))?.toString()).toBe('hello world'); // too small: a fresh buffer
    expect(await b.readWhole(h, 10)).toBeNull();
    expect(await b.readWhole(h, 12)).toBeNull();
    expect(await b.readWhole(sha('absent'), 6)).toBeNull();
  });

  it('a hash mismatch stores nothing and leaves no temp file', async () => {
    const b = await BlobStore.open(dir);
    const h = sha('expected');
    expect(await b.put(chunks('something else'), h, 100)).toEqual({ ok: false, code: 'hash_mismatch', size: 14 });
    expect(await b.exists(h)).toBe(false);
    expect(await b.tempCount()).toBe(0);
  });

  it('stops at maxBytes', async () => {
    const b = await BlobStore.open(dir);
    const r = await b.put(chunks('0123456789', 'abc'), sha('0123456789abc'), 12);
    expect(r).toMatchObject({ ok: false, code: 'too_large' });
    expect(await b.tempCount()).toBe(0);
  });

  it('a failing body stream (client abort) removes the temp file and rethrows', async () => {
    const b = await BlobStore.open(dir);
    async function* broken(): AsyncGenerator<Buffer> {
      yield Buffer.from('partial');
      throw new Error('aborted');
    }
    await expect(b.put(broken(), sha('x'), 100)).rejects.toThrow('aborted');
    expect(await b.tempCount()).toBe(0);
  });

  it('an existing blob is verified without being rewritten', async () => {
    const b = await BlobStore.open(dir);
    const h = sha('same');
    await b.put(chunks('same'), h, 100);
    expect(await b.put(chunks('sa', 'me'), h, 100)).toEqual({ ok: true, size: 4 });
    expect(await b.put(chunks('diff'), h, 100)).toMatchObject({ ok: false, code: 'hash_mismatch' });
    expect(readFileSync(b.pathOf(h), 'utf8')).toBe('same');
  });

  it('open() clears temp files a crash left and provides the empty blob', async () => {
    mkdirSync(join(dir, 'tmp'), { recursive: true });
    writeFileSync(join(dir, 'tmp', 'leftover'), 'junk');
    const b = await BlobStore.open(dir);
    expect(await b.tempCount()).toBe(0);
    expect(await b.size(sha(''))).toBe(0);
    expect(existsSync(join(dir, 'tmp'))).toBe(true);
    await expect(b.probe()).resolves.toBeUndefined();
  });
});
