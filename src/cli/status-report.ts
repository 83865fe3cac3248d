// The work of syncd status [DIR] [--json] and syncd wait [DIR] [--timeout S]
// (src/cli/status.ts defines their arguments and imports this when they run).

import { loadConfig } from '../client/state/config.js';
import { lockHolder } from '../client/state/lock.js';
import { exclusionsKey } from '../client/state/exclusions.js';
import type { StateDB } from '../client/state/db.js';
import { differences, type Difference } from '../core/policy/modes.js';
import type { FolderMode } from '../core/policy/mode-names.js';
import { SyncdError, UsageError } from '../protocol/errors.js';
import type { StatusReply } from '../protocol/types.js';
import { openLinked, printJson, remoteFor } from './folder.js';
import { folderModePlan } from './mode-plan.js';
import { formatBytes } from './progress-core.js';

/** Differences listed in `status --json` (the count is exact). */
const MAX_LISTED_DIFFERENCES = 100;

export interface FolderStatus {
  folder: string;
  server: string;
  namespace: string;
  device: string;
  state: string;
  cursor_seq: number;
  head_seq: number | null;
  /** the head as last seen by the agent (when the server cannot be asked now) */
  last_known_head_seq: number | null;
  lag: number | null;
  lag_age_s: number | null;
  server_reachable: boolean;
  pending_uploads: number;
  pending_downloads: number;
  pending_other: number;
  pending_bytes: number;
  conflicts: number;
  problems: { path: string; code: string; message: string }[];
  last_error: { code: string; message: string; at: number } | null;
  last_sync_at: number | null;
  retention_warning: string | null;
  /** set when the OS refused file watches and the agent scans periodically instead */
  watch_warning: string | null;
  daemon: { running: boolean; pid: number | null };
  /** the folder's mode (docs/folder-modes.md) */
  mode: FolderMode;
  /** what the mode keeps apart (not pending work): local changes of a receive-only folder, server changes of a send-only one; the first 100 */
  differences: Difference[];
  differences_total: number;
  /** a `syncd revert` / `syncd override` not finished yet */
  mode_request: 'revert' | 'override' | null;
  /** how a running agent learns that the server moved: "stream" (Subscribe), "longpoll", or null when no agent runs */
  channel: 'stream' | 'longpoll' | null;
  /** paths this device excludes (selective sync), relative to the folder */
  exclusions: string[];
  /** what the local trash (`.syncd-trash/`, `syncd trash list`) holds */
  trash: { files: number; bytes: number };
}

function channelOf(v: unknown): FolderStatus['channel'] {
  return v === 'stream' || v === 'longpoll' ? v : null;
}

async function serverStatus(db: StateDB): Promise<StatusReply | null> {
  const remote = remoteFor(db);
  try {
    return await Promise.race([
      remote.status(),
      new Promise<null>((resolve) => setTimeout(() => resolve(null), 3000).unref()),
    ]);
  } catch {
    return null;
  } finally {
    void remote.close();
  }
}

export async function folderStatus(dir: string | undefined): Promise<FolderStatus> {
  const { paths, db } = openLinked(dir, { readonly: true });
  try {
    const meta = db.meta.link();
    const srv = await serverStatus(db);
    const pid = lockHolder(paths.lock);
    // exact lag needs the server's head now; a remembered head is shown apart, never as lag
    const head = srv?.head ?? null;
    const lastKnownHead = db.meta.get('head_seq');
    const lag = head === null ? null : Math.max(0, head - meta.cursorSeq);
    const caughtUp = db.meta.get('caught_up_at') ?? 0;
    const config = loadConfig(paths.folder);
    const request = db.meta.get('mode_request');
    const exclusions = (db.meta.get('exclusions') ?? []).map((x) => x.path);
    const p = folderModePlan(paths, db, config, request, exclusions);
    const diffs = differences(p.held);
    let up = 0, down = 0, other = 0, bytes = 0;
    for (const op of p.ops) {
      if (op.type === 'download') { down++; bytes += op.node.size ?? 0; }
      else if (op.type === 'create' || op.type === 'update') { up++; bytes += op.local.size ?? 0; }
      else other++;
    }
    other += p.deferred; // held back (waiting on another op): not in agreement either
    let retention: string | null = null;
    if (srv && srv.retention.max_entries && head !== null) {
      const room = srv.retention.max_entries - (head - meta.cursorSeq);
      if (meta.cursorSeq < srv.floor - 1) retention = 'the cursor is below the server\'s retention floor: the next pull rebuilds from a full listing (nothing local is lost)';
      else if (room < srv.retention.max_entries * 0.2) retention = `the cursor is within ${room} entries of the server's retention floor; keep the agent running to avoid a full re-listing`;
    }
    const lastError = db.meta.get('last_error');
    const state = db.meta.get('paused') ? 'paused' : pid === null ? 'stopped' : (db.meta.get('state') ?? 'unknown');
    return {
      folder: paths.folder, server: meta.server, namespace: meta.namespace, device: meta.deviceLabel,
      state, cursor_seq: meta.cursorSeq, head_seq: head, last_known_head_seq: lastKnownHead, lag,
      lag_age_s: lag === null ? null : lag === 0 ? 0 : caughtUp ? Math.round((Date.now() - caughtUp) / 1000) : null,
      server_reachable: srv !== null,
      pending_uploads: up, pending_downloads: down, pending_other: other, pending_bytes: bytes,
      conflicts: db.conflicts().length,
      problems: db.problems().slice(0, 20).map(({ path, code, message }) => ({ path, code, message })),
      last_error: lastError,
      last_sync_at: db.meta.get('last_sync_at'),
      retention_warning: retention,
      watch_warning: db.meta.get('watch_warning'),
      daemon: { running: pid !== null, pid },
      mode: config.mode, differences: diffs.slice(0, MAX_LISTED_DIFFERENCES), differences_total: diffs.length, mode_request: request,
      channel: pid === null ? null : channelOf(db.meta.get('channel')),
      exclusions,
      trash: db.trashSummary(),
    };
  } finally {
    db.close();
  }
}

function ago(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 90) return `${s} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 3600)} h`;
}

export function renderStatus(s: FolderStatus, pauseReason: string | null): string {
  const lines: string[] = [];
  const verdict = s.state === 'paused' ? 'PAUSED'
    : s.lag === null ? 'UNKNOWN: the server is unreachable, so the lag cannot be measured'
      : s.lag === 0 && s.pending_uploads + s.pending_downloads + s.pending_other === 0 ? 'up to date' : 'behind';
  lines.push(`${s.folder}: ${verdict}`);
  lines.push(`  server     ${s.server} (namespace ${s.namespace}, device ${s.device})${s.server_reachable ? '' : ' — unreachable'}`);
  lines.push(`  agent      ${s.daemon.running ? `running (pid ${s.daemon.pid}), ${s.state}` : 'not running (start it with `syncd watch`)'}`);
  if (s.channel) lines.push(`  channel    ${s.channel === 'stream' ? 'stream (Subscribe)' : 'longpoll'}`);
  lines.push(s.lag === null
    ? `  lag        unknown (applied seq ${s.cursor_seq}; the server's head was ${s.last_known_head_seq ?? '?'} when last seen)`
    : `  lag        ${s.lag} entries (applied seq ${s.cursor_seq} of ${s.head_seq})${s.lag && s.lag_age_s !== null ? `, behind for ${s.lag_age_s} s` : ''}`);
  lines.push(`  pending    ${s.pending_uploads} uploads, ${s.pending_downloads} downloads, ${s.pending_other} other (${s.pending_bytes} bytes)`);
  if (s.mode !== 'two-way' || s.differences_total > 0) lines.push(...modeLines(s));
  lines.push(`  conflicts  ${s.conflicts}${s.conflicts ? ' (see `syncd conflicts`)' : ''}`);
  if (s.trash.files) lines.push(`  trash      ${s.trash.files} file${s.trash.files === 1 ? '' : 's'} (${formatBytes(s.trash.bytes)}; see \`syncd trash list\`)`);
  if (s.exclusions.length) lines.push(`  excluded   ${s.exclusions.join(', ')} (see \`syncd exclude list\`)`);
  if (s.last_sync_at) lines.push(`  last sync  ${ago(Date.now() - s.last_sync_at)} ago`);
  if (pauseReason && s.state === 'paused') lines.push(`  why        ${pauseReason}`);
  if (s.last_error) lines.push(`  last error ${s.last_error.message}`);
  if (s.retention_warning) lines.push(`  warning    ${s.retention_warning}`);
  if (s.watch_warning) lines.push(`  warning    ${s.watch_warning}`);
  for (const p of s.problems.slice(0, 5)) lines.push(`  problem    ${p.path}: ${p.message}`);
  if (s.problems.length > 5) lines.push(`  …and ${s.problems.length - 5} more problems (--json lists them)`);
  return lines.join('\n') + '\n';
}

function modeLines(s: FolderStatus): string[] {
  const side = s.mode === 'send-only' ? 'server' : 'local';
  const fix = s.mode === 'send-only' ? '`syncd override` pushes this folder over them' : s.mode === 'receive-only' ? '`syncd revert` puts the server\'s version back' : 'they sync now';
  const out = [`  mode       ${s.mode}${s.differences_total ? `: ${s.differences_total} ${side} difference${s.differences_total === 1 ? '' : 's'} kept (${fix})` : ''}${s.mode_request ? `; ${s.mode_request} in progress` : ''}`];
  for (const d of s.differences.slice(0, 10)) out.push(`  differs    ${d.change.padEnd(8)} ${d.path}`);
  if (s.differences_total > 10) out.push(`  …and ${s.differences_total - 10} more differences (--json lists ${MAX_LISTED_DIFFERENCES})`);
  return out;
}

export async function runStatus(dir: string | undefined, o: { json?: boolean }): Promise<void> {
  const s = await folderStatus(dir);
  if (o.json) return printJson(s);
  const { db } = openLinked(dir, { readonly: true });
  const reason = db.meta.get('pause_reason');
  db.close();
  process.stdout.write(renderStatus(s, reason));
}

export async function runWait(dir: string | undefined, o: { timeout: string }): Promise<void> {
  const timeoutS = Number(o.timeout);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) throw new UsageError('--timeout must be a positive number of seconds');
  const deadline = Date.now() + timeoutS * 1000;
  const { paths, db } = openLinked(dir, { readonly: true });
  try {
    const srv = await serverStatus(db);
    if (!srv) throw new SyncdError('network', `cannot reach ${db.meta.get('server')}; is the server running?`);
    const target = srv.head;
    // an agent that is just starting gets a few seconds to take its lock
    const graceUntil = Math.min(deadline, Date.now() + 5000);
    for (;;) {
      const pid = lockHolder(paths.lock);
      if (pid === null) {
        if (Date.now() < graceUntil) {
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
        throw new SyncdError('no_agent', `no agent is running for ${paths.folder}; start one with \`syncd watch ${paths.folder}\``);
      }
      const seq = db.meta.get('cursor_seq');
      // an exclusion edited since the agent last planned is not applied yet
      const idle = db.meta.get('state') === 'idle' && db.meta.get('pending') === 0 && exclusionsKey(db) === (db.meta.get('exclusions_seen') ?? '[]');
      if (seq >= target && idle) return;
      if (Date.now() > deadline) {
        throw new SyncdError('timeout', `timed out after ${timeoutS} s: applied seq ${seq} of ${target}, state ${db.meta.get('state')}, ${db.meta.get('pending') ?? '?'} operations pending`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    db.close();
  }
}
