// The work of syncd history | restore | deleted | rewind | activity. Each
// finds the linked folder that holds its PATH, asks the server (so they
// work whether or not an agent runs on the folder) and prints; restore and
// rewind commit ordinary changes that the agents then pull.

import { existsSync, mkdirSync, statSync, symlinkSync } from 'node:fs';
import { basename, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { parseWhen } from '../core/history/when.js';
import { HistoryApi } from '../client/history/api.js';
import type { ChangeReply } from '../protocol/history.js';
import { locate, type Located } from '../client/history/locate.js';
import { StateDB } from '../client/state/db.js';
import { SyncdError, UsageError } from '../protocol/errors.js';
import { VERSION } from '../version.js';
import { printJson } from './folder.js';

function apiFor(loc: Located): HistoryApi {
  const db = new StateDB(loc.paths.db, { readonly: true });
  try {
    const m = db.meta.link();
    return new HistoryApi({ server: m.server, token: m.token, userAgent: `syncd/${VERSION}` });
  } finally {
    db.close();
  }
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/** local `YYYY-MM-DD HH:MM:SS`, or `before history` for a time the server no longer knows */
export function localTime(ms: number | null): string {
  if (ms === null) return 'earlier            ';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

function size(n: number | undefined): string {
  if (n === undefined) return '';
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(1)} GiB`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

function whenArg(text: string): number {
  const w = parseWhen(text, Date.now());
  if (!w.ok) throw new UsageError(`--at: ${w.reason}`);
  return w.ms;
}

function shown(rel: string | null): string {
  return rel === null ? '(unknown path)' : rel === '' ? '.' : rel;
}

export async function runHistory(path: string, o: { json?: boolean; limit?: string }): Promise<void> {
  const limit = limitOf(o.limit ?? '1000');
  const loc = locate(path);
  if (loc.rel === '') throw new UsageError('the linked folder itself has no versions; name a file or folder inside it (or see `syncd activity`)');
  const h = await apiFor(loc).history(loc.rel, limit);
  // the JSON stays a list of versions; that older ones were left out goes to stderr
  if (h.more) process.stderr.write(`syncd: older versions of ${shown(h.node.path)} are not shown (the newest ${limit}; see --limit)\n`);
  if (o.json) {
    printJson(
      h.versions.map((v) => ({
        rev: v.rev,
        seq: v.seq,
        op: v.op,
        hash: v.node.hash ?? null,
        size: v.node.size ?? null,
        time: iso(v.time),
        device: v.device_label ?? v.device,
        device_id: v.device,
        name: v.node.name,
        kind: v.node.kind,
        ...(v.node.target !== undefined ? { target: v.node.target } : {}),
      })),
    );
    return;
  }
  process.stdout.write(`${shown(h.node.path)} (${h.node.kind}${h.node.deleted ? ', deleted' : ''})\n`);
  const rows = [['REV', 'TIME', 'DEVICE', 'OP', 'SIZE', 'CONTENT', 'NAME']];
  for (const v of h.versions) {
    rows.push([String(v.rev), localTime(v.time), v.device_label ?? v.device ?? '?', v.op ?? '?', size(v.node.size), v.node.hash?.slice(0, 12) ?? v.node.target ?? '', v.node.name]);
  }
  process.stdout.write(table(rows));
}

export async function runDeleted(dir: string | undefined, o: { json?: boolean }): Promise<void> {
  const loc = locate(dir);
  const items = await apiFor(loc).deleted(loc.rel);
  if (o.json) {
    printJson(items.map((d) => ({ path: d.path, kind: d.kind, deleted_at: iso(d.time), rev: d.rev, size: d.size ?? null, device: d.device_label ?? d.device })));
    return;
  }
  if (items.length === 0) {
    process.stdout.write(`nothing deleted under ${shown(loc.rel)} can be restored\n`);
    return;
  }
  const rows = [['DELETED', 'DEVICE', 'KIND', 'SIZE', 'PATH']];
  for (const d of items) rows.push([localTime(d.time), d.device_label ?? d.device ?? '?', d.kind, size(d.size), `${shown(d.path)}${d.kind === 'dir' ? '/' : ''}`]);
  process.stdout.write(table(rows));
  process.stdout.write('restore one with: syncd restore PATH\n');
}

function limitOf(raw: string): number {
  if (!/^[0-9]{1,5}$/.test(raw) || Number(raw) < 1 || Number(raw) > 10_000) throw new UsageError(`--limit must be an integer from 1 to 10000, got "${raw}"`);
  return Number(raw);
}

export async function runActivity(dir: string | undefined, o: { json?: boolean; limit: string }): Promise<void> {
  const limit = limitOf(o.limit);
  const loc = locate(dir);
  const items = await apiFor(loc).activity(loc.rel, limit);
  if (o.json) {
    printJson(items.map((a) => ({ time: iso(a.time), device: a.device_label ?? a.device, op: a.op, path: a.path, kind: a.kind, rev: a.rev, seq: a.seq })));
    return;
  }
  const rows = [['TIME', 'DEVICE', 'OP', 'PATH']];
  for (const a of items) rows.push([localTime(a.time), a.device_label ?? a.device, a.op, `${shown(a.path)}${a.kind === 'dir' ? '/' : ''}`]);
  process.stdout.write(items.length === 0 ? 'no changes yet\n' : table(rows));
}

function moment(o: { rev?: string; at?: string }): { rev?: number; at?: number } {
  if (o.rev !== undefined && o.at !== undefined) throw new UsageError('--rev and --at are exclusive');
  if (o.rev !== undefined) {
    if (!/^[0-9]{1,15}$/.test(o.rev) || Number(o.rev) < 1) throw new UsageError(`--rev must be a positive integer, got "${o.rev}"`);
    return { rev: Number(o.rev) };
  }
  return o.at !== undefined ? { at: whenArg(o.at) } : {};
}

function reportChanges(r: ChangeReply, verb: string): void {
  for (const s of r.steps) {
    if (r.dry_run) {
      process.stdout.write(`would ${s.action} ${s.path}${s.message ? ` (${s.message})` : ''}\n`);
    } else if (s.status !== 'ok') {
      process.stderr.write(`${s.status}: ${s.action} ${s.path}${s.message ? `: ${s.message}` : ''}\n`);
    } else if (s.name !== undefined) {
      process.stdout.write(`${s.path} is taken: restored as ${s.name}\n`);
    }
  }
  for (const l of r.left ?? []) process.stdout.write(`left as it is: ${l} (it was elsewhere at that time)\n`);
  if (r.dry_run) {
    process.stdout.write(r.steps.length === 0 ? 'nothing to do\n' : `${r.steps.length} change(s) would be committed; run again without --dry-run\n`);
    return;
  }
  process.stdout.write(`${verb}: ${r.ok} change(s) committed${r.conflicts ? `, ${r.conflicts} conflict(s)` : ''}${r.errors ? `, ${r.errors} error(s)` : ''}\n`);
  if (r.conflicts + r.errors > 0) {
    throw new SyncdError('partly_done', `some changes were not made (another device changed those paths meanwhile, or they failed); see above, then run the command again`);
  }
}

export async function runRestore(path: string, o: { rev?: string; at?: string; to?: string }): Promise<void> {
  const loc = locate(path);
  if (loc.rel === '' && o.to === undefined) throw new UsageError('to bring the whole folder back to a moment, use `syncd rewind DIR --at TIME`');
  const m = moment(o);
  const api = apiFor(loc);
  if (o.to !== undefined) {
    await restoreTo(api, loc, m, o.to);
    return;
  }
  const r = await api.restore(loc.rel, m);
  reportChanges(r, `restored ${shown(r.restored.path)}`);
}

function safeSegments(p: string): string[] {
  const parts = p === '' ? [] : p.split('/');
  for (const s of parts) {
    if (s === '' || s === '.' || s === '..' || s.includes('\u0000') || s.includes(sep)) throw new SyncdError('protocol', `the server sent an unsafe path: ${JSON.stringify(p)}`);
  }
  return parts;
}

/** `--to DEST`: the version (a file, or a folder with its content) written outside the folder; nothing committed. */
/** file contents `restore --to` downloads at once (the history client's connections) */
const DOWNLOADS_AT_ONCE = 8;

async function restoreTo(api: HistoryApi, loc: Located, m: { rev?: number; at?: number }, to: string): Promise<void> {
  let dest = resolve(to);
  const folder = loc.paths.folder;
  const inside = (p: string): boolean => {
    const r = relative(folder, p);
    return r === '' || (!r.startsWith('..') && !isAbsolute(r));
  };
  if (existsSync(dest) && statSync(dest).isDirectory()) dest = join(dest, loc.rel === '' ? basename(folder) : basename(loc.abs));
  if (inside(dest)) {
    throw new UsageError(`--to must be outside the synced folder ${folder} (restore without --to brings a version back inside it)`);
  }
  if (existsSync(dest)) throw new UsageError(`${dest} already exists; --to never overwrites`);
  const snap = await api.snapshot(loc.rel, m);
  // folders and links first (sorted by path: a folder comes before what it holds), then
  // the files' contents, DOWNLOADS_AT_ONCE at a time; the first failure stops the rest
  const files: Array<{ hash: string; target: string; mode: number }> = [];
  for (const e of snap.entries) {
    const target = join(dest, ...safeSegments(e.path));
    const n = e.node;
    if (n.kind === 'dir') mkdirSync(target, { recursive: true });
    else if (n.kind === 'symlink') symlinkSync(n.target ?? '', target);
    else files.push({ hash: n.hash!, target, mode: n.exec ? 0o755 : 0o644 });
  }
  let next = 0;
  let failed: unknown = null;
  const worker = async (): Promise<void> => {
    while (failed === null && next < files.length) {
      const f = files[next++]!;
      try {
        await api.download(f.hash, f.target, f.mode);
      } catch (e) {
        failed ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(DOWNLOADS_AT_ONCE, files.length) }, worker));
  if (failed !== null) throw failed;
  process.stdout.write(`wrote ${shown(loc.rel)} as of seq ${snap.seq} to ${dest} (${files.length} file(s)); nothing was committed\n`);
}

export async function runRewind(dir: string, o: { at: string; dryRun?: boolean }): Promise<void> {
  const loc = locate(dir);
  const at = whenArg(o.at);
  const r = await apiFor(loc).rewind(loc.rel, at, o.dryRun === true);
  if (!r.dry_run) process.stdout.write(`rewinding ${shown(loc.rel)} to ${localTime(at)} (journal seq ${r.restored.seq})\n`);
  reportChanges(r, `rewound ${shown(loc.rel)}`);
}
