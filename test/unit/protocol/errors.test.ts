// The error catalogue: its codes are stable strings that scripts read, each
// documented, and every code src/ raises or records is in it.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ERROR_CODES, HTTP_ERROR_STATUS, HttpError, SyncdError, UsageError, type ErrorCode } from '../../../src/protocol/errors.js';
import { OP_ERROR_CODES } from '../../../src/protocol/types.js';
import { REMOTE_ERROR_CODES } from '../../../src/client/remote/errors.js';
import { ERRNO_CODES } from '../../../src/client/disk/errno.js';
import { reportError } from '../../../src/cli/main.js';
import { REPO_ROOT } from '../../helpers/server.js';

/**
 * The codes as released. Scripts and `syncd status --json` readers match on
 * these strings: a rename breaks them, so change this list only on purpose.
 */
const RELEASED = [
  'already_linked', 'bad_config', 'bad_request', 'blob_missing', 'blob_store', 'changed_during_upload', 'chunks_missing',
  'conflict', 'cross_device', 'cycle', 'dir_not_empty', 'disk_full', 'download_failed', 'error', 'excluded_kept', 'hash_mismatch', 'http_error',
  'incomplete', 'invalid_argument', 'invalid_name', 'io_error', 'journal_gap', 'locked', 'mass_delete',
  'method_not_allowed', 'name_taken', 'network', 'no_agent', 'not_a_directory', 'not_a_file', 'not_converged', 'not_found',
  'not_linked', 'not_permitted', 'not_supported', 'occupied', 'orphan', 'parent_missing', 'parent_not_dir',
  'parent_not_found', 'partly_done', 'path_is_symlink', 'path_missing', 'path_not_dir', 'path_taken', 'path_too_long',
  'permission_denied', 'protocol', 'protocol_error', 'range_not_satisfiable', 'rate_limited', 'remote_cycle',
  'remote_invalid_name', 'remote_orphan', 'remote_parent_not_dir', 'remote_path_too_long', 'reset', 'reset_loop',
  'root_empty', 'root_missing', 'server_error', 'server_too_old', 'server_version', 'service_error', 'special_file',
  'state_db', 'state_db_too_new', 'still_empty', 'store_corrupt', 'store_too_new', 'store_unavailable', 'timeout',
  'token_file', 'too_deep', 'too_large', 'too_many_files', 'trash_not_found', 'unauthorized', 'unavailable', 'unreadable', 'unsafe_path',
  'unsupported', 'unsupported_media_type', 'upload_failed', 'usage', 'user',
];

const codes = Object.keys(ERROR_CODES) as ErrorCode[];

describe('the error catalogue', () => {
  test('holds exactly the released codes', () => {
    expect([...codes].sort()).toEqual(RELEASED);
  });

  test.each(codes.map((code) => ({ code, doc: ERROR_CODES[code] })))('$code is snake_case and documented in one line', ({ code, doc }) => {
    expect(code).toMatch(/^[a-z]+(_[a-z]+)*$/);
    expect(doc.trim().length).toBeGreaterThan(10);
    expect(doc).not.toMatch(/\n/);
  });

  test('no two codes share a doc line (each says what sets it apart)', () => {
    expect(new Set(Object.values(ERROR_CODES)).size).toBe(codes.length);
  });

  const subsets: { desc: string; list: readonly string[] }[] = [
    { desc: 'HTTP reply codes', list: Object.keys(HTTP_ERROR_STATUS) },
    { desc: 'commit op result codes', list: OP_ERROR_CODES },
    { desc: 'remote adapter codes', list: REMOTE_ERROR_CODES },
    { desc: "the disk adapter's names for errno", list: Object.values(ERRNO_CODES) },
  ];
  test.each(subsets)('$desc are all in the catalogue', ({ list }) => {
    expect(list.filter((c) => !(c in ERROR_CODES))).toEqual([]);
  });
});

/** The places a code is written as a literal in src/, by the pattern that finds them. */
const USES: { desc: string; re: RegExp }[] = [
  { desc: 'a thrown error', re: /new (?:SyncdError|RemoteError|HttpError)\(\s*'([a-z_]+)'/g },
  { desc: "an error subclass's code", re: /super\(\s*'([a-z_]+)'/g },
  { desc: 'a problem or trip object', re: /\bcode: '([a-z_]+)'/g },
  // not `typeof x.code === 'string'`: no `=` between a typeof and its comparison
  { desc: 'a comparison', re: /(?<!typeof [^=;]*)\bcode [!=]== '([a-z_]+)'/g },
  { desc: 'a fallback code', re: /\bcode \?\? '([a-z_]+)'/g },
  { desc: 'a recorded problem', re: /\.problem\([^,]+, '([a-z_]+)'/g },
  { desc: 'a code type', re: /\bcode: ((?:'[a-z_]+'(?: \| )?)+);/g },
];

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

function codesUsedIn(text: string, re: RegExp): string[] {
  return [...text.matchAll(re)].flatMap((m) => (m[1] ?? '').split('|').map((s) => s.trim().replace(/'/g, '')));
}

describe('every code src/ uses is catalogued', () => {
  const files = sources(join(REPO_ROOT, 'src')).map((p) => ({ file: relative(REPO_ROOT, p), text: readFileSync(p, 'utf8') }));

  test.each(USES)('as $desc', ({ re }) => {
    const missing: string[] = [];
    let found = 0;
    for (const { file, text } of files) {
      for (const code of codesUsedIn(text, re)) {
        found++;
        if (!(code in ERROR_CODES)) missing.push(`${file}: ${code}`);
      }
    }
    expect(found).toBeGreaterThan(0);
    expect(missing).toEqual([]);
  });

  test("the planner's remote_<tree problem> codes", () => {
    // src/core/plan.ts reports a server tree's problems as `remote_${code}`
    const tree = files.find((f) => f.file === join('src', 'core', 'tree.ts'))!;
    const treeCodes = codesUsedIn(tree.text, /\bcode: '([a-z_]+)'/g);
    expect(treeCodes.length).toBeGreaterThan(0);
    expect(treeCodes.map((c) => `remote_${c}`).filter((c) => !(c in ERROR_CODES))).toEqual([]);
  });

  test('the checks above catch a code that is not catalogued', () => {
    const text = "throw new SyncdError('made_up', 'x'); if (typeof e.code === 'string' && e.code === 'also_made_up') {} problems.push({ code: 'third_one' });";
    const found = USES.flatMap(({ re }) => codesUsedIn(text, re));
    expect(found.filter((c) => !(c in ERROR_CODES)).sort()).toEqual(['also_made_up', 'made_up', 'third_one']);
  });
});

describe('error classes', () => {
  const cases: { desc: string; err: SyncdError; code: ErrorCode; name: string; exit: number }[] = [
    { desc: 'a usage mistake exits 2', err: new UsageError('--timeout must be positive'), code: 'usage', name: 'UsageError', exit: 2 },
    { desc: 'a runtime error exits 1', err: new SyncdError('locked', 'another agent is syncing'), code: 'locked', name: 'SyncdError', exit: 1 },
    { desc: 'an HTTP error carries its status', err: new HttpError('too_large', 'blob exceeds 10 bytes'), code: 'too_large', name: 'HttpError', exit: 1 },
  ];
  test.each(cases)('$desc', ({ err, code, name, exit }) => {
    expect(err).toBeInstanceOf(SyncdError);
    expect(err.code).toBe(code);
    expect(err.name).toBe(name);
    const written: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((s: string) => written.push(s) > 0) as unknown as typeof process.stderr.write;
    try {
      expect(reportError(err, false)).toBe(exit);
    } finally {
      process.stderr.write = write;
    }
    expect(written).toEqual([`syncd: ${err.message}\n`]);
  });

  test('an HTTP error maps its code to the status of the protocol', () => {
    expect(new HttpError('rate_limited', 'slow down', {}, 3)).toMatchObject({ status: 429, retryAfter: 3 });
  });
});
