// The engine: orders the steps of the loop (DESIGN.md "Client: the loop").
// It decides nothing itself: the planner decides, the executor acts, the
// scanner and puller observe. One cycle = pull, observe, then plan/execute
// rounds until the plan is empty or stops making progress.

import { join } from 'node:path';
import { checkGuards, type GuardTrip } from '../../core/guards.js';
import type { PlanProblem } from '../../core/ops.js';
import { narrowPlanInput } from '../../core/plan/index.js';
import { planInMode } from '../../core/policy/modes.js';
import { afterFailure, afterRound, endOfCycle, FIRST_PLAN_BATCH_NODES, fruitlessAfter, planMemoKey, MAX_FRUITLESS_ROUNDS, nextWait, PAUSED_RECHECK_MS, pendingOf, pullBeforeSending, rescanBeforeDeleting, roundLimit, transferTotals, usesDeleteAllowance } from '../../core/policy/cycle.js';
import { resetLabel } from '../../core/policy/reset.js';
import { SyncdError } from '../../protocol/errors.js';
import { PROTOCOL_VERSION } from '../../protocol/types.js';
import { VERSION } from '../../version.js';
import { Backoff, sleep } from './backoff.js';
import { ROOT_MARKER } from '../../core/syncd-names.js';
import { DirWatcher } from '../disk/watcher.js';
import type { Unconfirmed } from '../exec/executor.js';
import { nodeFsys } from '../disk/fsys.js';
import { collectGarbage } from './memory.js';
import { followServer } from './notify.js';
import { pull } from '../exec/pull.js';
import { RemoteError } from '../remote/errors.js';
import { observe } from './observe.js';
import type { StateDB } from '../state/db.js';
import type { MetaKey, MetaValue } from '../state/meta.js';
import { exclusionsKey, exclusionsToPlan, watchExclusions } from '../state/exclusions.js';
import { loadIgnore, SYNCIGNORE, type IgnoreMatcher } from '../disk/syncignore.js';
import { tokenBucket, type Throttle } from '../transfer/throttle.js';
import { Partials } from '../transfer/partials.js';
import { isWatchLimit } from '../disk/errno.js';
import { rootIdentity, writeMarker } from '../disk/marker.js';
import type { CycleResult, EngineOptions } from './engine-options.js';
import { RoundPlanner } from './round-trees.js';
import { Sleeper } from './sleeper.js';
import type { Seeds } from '../../core/plan/select.js';
import { silentLog } from './log.js';
import { TrashKeeper } from './trash-keeper.js';

/** file-system events within this window become one cycle (an editor's save is several events) */
const HINT_COALESCE_MS = 10;
/** an agent idle this long lets go of its in-memory trees (EngineOptions.releaseIdleMs) */
const RELEASE_IDLE_MS = 10_000;

export class Engine {
  readonly o: Required<Omit<EngineOptions, 'onTransfer' | 'onPlan' | 'extraIgnore' | 'bandwidthLimit' | 'downloadRetries' | 'downloadPartFiles' | 'releaseIdleMs' | 'trash' | 'firstPlanBatchNodes' | 'firstPlanWholeMax' | 'random'>> & Pick<EngineOptions, 'onTransfer' | 'onPlan' | 'extraIgnore' | 'bandwidthLimit' | 'downloadRetries' | 'downloadPartFiles' | 'releaseIdleMs' | 'random'>;
  #ignore: IgnoreMatcher;
  #dirty = new Set<string>();
  #fullScanNeeded = true;
  #pullNeeded = true;
  /** the loop's sleep, woken by hints, pull requests and exclusion edits */
  readonly #sleeper = new Sleeper();
  #watcher: DirWatcher | null = null;
  #pollFallback = false;
  /** Local was last updated from watcher hints, not a full scan */
  #partialView = false;
  /** called when a cycle ends with nothing left to do (progress displays stop here) */
  onIdle: (() => void) | null = null;

  readonly #throttle: Throttle;
  /** the local trash: its bin and its prune */
  readonly #trash: TrashKeeper;
  /** large downloads cut short (`.syncd-part-*`), resumed by the next download in their directory */
  readonly #partials: Partials;
  /** commits whose reply was lost, re-sent before the next plan */
  readonly #unconfirmed: Unconfirmed[] = [];
  /** ops done and files moved since the agent started, also by rounds that failed part-way (the failure backoff asks) */
  #progress = 0;
  readonly #countDone = (ops: number): void => {
    this.#progress += ops;
  };
  readonly #rounds: RoundPlanner;

  constructor(opts: EngineOptions) {
    this.o = {
      concurrency: 8, maxDeleteShare: 0.5, minDeleteCount: 20, longpollTimeoutS: 60, safetyPullIntervalS: 300,
      notifyChannel: 'stream', streamIdleMs: 50_000,
      log: silentLog, now: () => Date.now(), fs: nodeFsys, mode: () => 'two-way', ...opts,
    } as Engine['o'];
    this.#ignore = loadIgnore(opts.folder, opts.extraIgnore ?? [], this.o.fs);
    this.#throttle = tokenBucket(opts.bandwidthLimit ?? 0);
    this.#trash = new TrashKeeper(opts.folder, this.o.fs, opts.db, opts.trash ?? { days: 30, maxBytes: 1024 * 1024 * 1024 }, this.o.now);
    this.#partials = new Partials(this.o.fs, this.o.now);
    this.#rounds = new RoundPlanner(opts.db, opts.firstPlanBatchNodes ?? FIRST_PLAN_BATCH_NODES, opts.firstPlanWholeMax);
  }

  get db(): StateDB {
    return this.o.db;
  }

  /** Start-up housekeeping: the server's protocol, the chunk index's stale rows, leftover temp files, the root marker. */
  async prepare(): Promise<void> {
    try {
      const st = await this.o.remote.status();
      if (st.protocol !== undefined && st.protocol !== PROTOCOL_VERSION) {
        throw new SyncdError('server_version', `the server at ${this.o.remote.server} speaks protocol v${st.protocol} and this syncd speaks v${PROTOCOL_VERSION}: upgrade ${st.protocol > PROTOCOL_VERSION ? 'syncd on this machine' : 'the server'}`);
      }
    } catch (err) {
      if ((err as SyncdError).code === 'server_version' || (err as SyncdError).code === 'unauthorized') throw err;
      // unreachable now: the loop retries with backoff and status says so
    }
    const pruned = this.db.pruneChunkOrphans();
    if (pruned) this.o.log.debug('dropped the chunk lists of files no longer there', { count: pruned });
    const { fs } = this.o;
    if (!fs.statSync(this.o.folder)) return;
    // leftover temp files (a crash between download and rename) lie in synced
    // directories: every scan removes those it passes, the first one all
    const marker = join(this.o.folder, ROOT_MARKER);
    if (!fs.statSync(marker) && this.db.syncedCount() === 0) writeMarker(this.o.folder, fs);
  }

  markDirty(diskPath: string): void {
    if (diskPath === SYNCIGNORE) this.#fullScanNeeded = true;
    this.#dirty.add(diskPath);
    this.#sleeper.wake(HINT_COALESCE_MS);
  }

  /** The next cycle scans the whole folder (no watcher was running, or hints were lost). */
  rescan(): void {
    this.#fullScanNeeded = true;
    this.#sleeper.wake(0);
  }

  /** The server moved on (a longpoll answered): pull now, no coalescing needed. */
  requestPull(): void {
    this.#pullNeeded = true;
    this.#sleeper.wake(0);
  }

  async #observe(): Promise<void> {
    const { db } = this;
    const ig = loadIgnore(this.o.folder, this.o.extraIgnore ?? [], this.o.fs);
    if (ig.version !== this.#ignore.version) this.#fullScanNeeded = true;
    this.#ignore = ig;
    const dirty = [...this.#dirty];
    this.#dirty.clear();
    const full = this.#fullScanNeeded || this.#pollFallback || dirty.includes('');
    if (!full && dirty.length === 0) return; // no hints: Local stands as it is
    this.#rounds.abandon(); // the disk changed: batches of a first plan are not independent any more
    const problems = await observe({ db, folder: this.o.folder, fs: this.o.fs, log: this.o.log, ignore: this.#ignore, trash: this.#trash, partials: this.#partials, full, dirty });
    this.#fullScanNeeded = false;
    this.#partialView = full ? false : this.#partialView || dirty.length > 0;
    // a full scan replaces what scans reported; a partial one adds to it
    if (full) this.#setProblemsIfChanged(problems, 'scan');
    else for (const p of problems) db.addProblem(p, 'scan');
  }

  /**
   * The planner's inputs besides the trees. A plan that came out empty is
   * remembered under this key (StateDB.setPlanMemo, dropped by any tree
   * write): while it holds, the trees are known to plan to nothing.
   */
  #memoKey(device: string, mode: string, request: string | null): string {
    return planMemoKey({ version: VERSION, ignoreVersion: this.#ignore.version, extraIgnore: this.o.extraIgnore ?? [], device, mode, request, exclusions: exclusionsKey(this.db) });
  }

  /** A meta write (of what the agent is doing: not waited for on disk) only when the value changes. */
  #setIfChanged<K extends MetaKey>(key: K, value: MetaValue<K>): void {
    if (this.db.meta.differs(key, value)) this.db.lightTx(() => this.db.meta.set(key, value));
  }

  #setProblemsIfChanged(problems: PlanProblem[], scope: 'plan' | 'scan'): void {
    const had = this.db.problemsOf(scope);
    if (had.length === problems.length && had.every((p, i) => p.path === problems[i]!.path && p.code === problems[i]!.code && p.message === problems[i]!.message)) return;
    this.db.lightTx(() => this.db.setProblems(problems, scope));
  }

  /**
   * The plan is empty: `memo` when nothing is held back either (then the
   * trees agree, and they become the plan base with what was unsettled in
   * them), `deferred` ops otherwise.
   */
  async #idle(memo: { key: string; unsettled: Seeds } | null, deferred = 0, request: string | null = null): Promise<void> {
    const { db } = this;
    // nothing left to fetch: no partial will be resumed
    if (deferred === 0 && (await this.#partials.dropAll()) > 0) this.o.log.debug('removed the partials of downloads cut short');
    this.onIdle?.();
    // a revert/override is done once its plan has nothing left to run
    if (request !== null) db.meta.set('mode_request', null);
    // what the agent is doing, and the memo: a power cut may lose them, a replan recovers
    db.lightTx(() => {
      if (memo !== null) {
        db.clearAllIntents(); // every op's outcome is in the trees now
        db.setProblems([], 'exec'); // so what an earlier execution met is solved or moot
        db.setPlanMemo(memo.key);
        db.setPlanBase(memo.key, memo.unsettled);
      }
      this.#setIfChanged('pending', deferred);
      this.#setIfChanged('state', 'idle');
      db.meta.set('last_sync_at', this.o.now());
    });
  }

  /** One full cycle: pull, observe, plan and execute until nothing is left. */
  async cycle(signal?: AbortSignal): Promise<CycleResult> {
    const { db, o } = this;
    if (!o.fs.statSync(o.folder)?.isDirectory()) {
      const trip: GuardTrip = { code: 'root_missing', message: `the synced folder ${o.folder} is gone (unmounted disk or moved folder?); syncing is paused so nothing is deleted on the server. Restore it, then run \`syncd resume\`` };
      this.#pause(trip);
      return { converged: false, rounds: 0, pending: 0, problems: [], paused: trip };
    }
    if (db.meta.get('paused')) {
      if (this.#pullNeeded) await this.#pull();
      return { converged: false, rounds: 0, pending: 0, problems: [], paused: { code: (db.meta.get('pause_code') ?? 'mass_delete') as GuardTrip['code'], message: db.meta.get('pause_reason') ?? 'paused' } };
    }
    this.#setIfChanged('state', 'syncing');
    await this.#trash.maybePrune(o.log);
    // commits whose reply was lost go again first, verbatim (same op_ids)
    if (this.#unconfirmed.length) {
      const { confirm } = await import('../exec/executor.js');
      await confirm({ root: o.folder, db, remote: o.remote, concurrency: o.concurrency, signal, fs: o.fs, unconfirmed: this.#unconfirmed, countDone: this.#countDone });
    }
    // one changes request (a cycle never plans on a stale Remote) while the
    // disk is looked at: the two touch different trees
    const first = await Promise.allSettled([this.#pull(), this.#observe()]);
    for (const r of first) if (r.status === 'rejected') throw r.reason;
    let problems: PlanProblem[] = [];
    let pending = 0;
    let stuck = 0;
    const begun = this.#rounds.batchesBegun;
    let round = 1;
    for (; round <= roundLimit(this.#rounds.batchesBegun - begun); round++) {
      if (signal?.aborted) {
        db.meta.set('state', 'idle');
        return { converged: false, rounds: round, pending, problems, paused: null };
      }
      const device = db.meta.get('device_label') ?? 'device';
      const mode = o.mode();
      const request = db.meta.get('mode_request');
      const memoKey = this.#memoKey(device, mode, request);
      if (db.planMemo() === memoKey) {
        // nothing changed since a plan over these trees came out empty: it still does
        o.log.debug('nothing changed since the last empty plan', { round });
        await this.#idle(null, 0, request);
        return { converged: true, rounds: round, pending: 0, problems: db.problemsOf('plan'), paused: null };
      }
      // over the nodes around what changed since the plan base (or a batch, or the whole trees);
      // the settled bulk of the trees cannot change the plan: narrowed out
      const { synced, localFiles, syncedFiles, narrowed, plan: p } = this.#rounds.plan(memoKey, (t) => {
        const narrowed = narrowPlanInput({ ...t, device, now: o.now(), isIgnored: this.#ignore, excluded: exclusionsToPlan(db, t.remote) });
        return { narrowed, plan: planInMode(narrowed, mode, request) };
      });
      problems = p.problems;
      // held-back ops count: `wait` and status must not call a deferring plan agreement
      pending = pendingOf(p);
      this.#setProblemsIfChanged(p.problems, 'plan');
      const end = endOfCycle(p);
      if (end) {
        await this.#idle(end.remember ? { key: memoKey, unsettled: narrowed.unsettled } : null, p.deferred, request);
        return { converged: end.converged, rounds: round, pending, problems, paused: null };
      }
      this.#setIfChanged('pending', pending);
      if (rescanBeforeDeleting(this.#partialView, p.ops)) {
        this.#fullScanNeeded = true;
        await this.#observe();
        continue;
      }
      const trip = checkGuards({
        rootExists: o.fs.statSync(o.folder) !== null, markerPresent: o.fs.statSync(join(o.folder, ROOT_MARKER)) !== null,
        localFiles, synced, syncedFiles, plan: p,
        maxDeleteShare: o.maxDeleteShare, minDeleteCount: o.minDeleteCount, allowDeletes: db.meta.get('allow_deletes'),
      });
      if (trip) {
        this.#pause(trip);
        return { converged: false, rounds: round, pending, problems, paused: trip };
      }
      if (usesDeleteAllowance(db.meta.get('allow_deletes'), p.ops)) db.meta.set('allow_deletes', false);
      const { files, bytes } = transferTotals(p.ops);
      if (pullBeforeSending(p.ops, synced)) {
        // if anything arrived, plan again with it
        if (await this.#pull()) continue;
      }
      o.onPlan?.(files, bytes);
      o.log.debug('round', { round, ops: p.ops.length, deferred: p.deferred });
      // the executor (and its queue) is loaded once there is work: a no-op run never needs it
      const { execute } = await import('../exec/executor.js');
      const res = await execute({ root: o.folder, db, remote: o.remote, concurrency: o.concurrency, onTransfer: (f, b) => { this.#countDone(f); o.onTransfer?.(f, b); }, countDone: this.#countDone, throttle: this.#throttle, signal, fs: o.fs, downloadRetries: o.downloadRetries, downloadPartFiles: o.downloadPartFiles, unconfirmed: this.#unconfirmed, trash: this.#trash.bin, partials: this.#partials, trashCause: request === 'revert' ? 'revert' : undefined }, p.ops);
      for (const pr of res.problems) db.addProblem(pr);
      for (const d of res.dirty) this.#dirty.add(d);
      // a path that changed again since the scan is left alone (and reported), not reverted or pushed next round
      if (request !== null && res.dirty.size > 0) db.meta.set('mode_request', null);
      const next = afterRound(p.ops, res.needPull);
      if (next.fullScan) this.#fullScanNeeded = true;
      if (next.pull) this.#pullNeeded = true;
      stuck = fruitlessAfter(stuck, res.done);
      if (res.done === 0) this.#rounds.fruitless();
      if (stuck >= MAX_FRUITLESS_ROUNDS) {
        db.meta.set('state', 'idle');
        return { converged: false, rounds: round, pending, problems: [...problems, ...res.problems], paused: null };
      }
      if (this.#pullNeeded) await this.#pull();
      if (this.#dirty.size || this.#fullScanNeeded) await this.#observe();
    }
    db.meta.set('state', 'idle');
    return { converged: false, rounds: round - 1, pending, problems, paused: null };
  }

  /** Pulls the journal; true when anything arrived (batches of a first plan are then not independent any more). */
  async #pull(): Promise<boolean> {
    this.#pullNeeded = false;
    const r = await pull(this.db, this.o.remote, { maxListEntries: this.o.maxListEntries });
    const reason = this.db.meta.get('last_reset_reason');
    if (r.resets && reason !== resetLabel({ kind: 'first_sync' })) this.o.log.info('rebuilt the remote tree from a full listing', { reason });
    if (r.applied > 0 || r.resets > 0) this.#rounds.abandon();
    return r.applied > 0 || r.resets > 0;
  }

  #pause(trip: GuardTrip): void {
    const { db } = this;
    if (!db.meta.get('paused')) this.o.log.warn(trip.message, { code: trip.code });
    db.meta.set('paused', true);
    db.meta.set('pause_code', trip.code);
    db.meta.set('pause_reason', trip.message);
    db.meta.set('state', 'paused');
  }

  /**
   * The agent: cycles whenever the server (stream or longpoll) or the folder (watcher)
   * says something moved, and at a slow safety-net interval otherwise.
   */
  async watch(outer: AbortSignal): Promise<void> {
    const { o, db } = this;
    // our own signal, so the helpers stop even if this loop fails
    const ac = new AbortController();
    const signal = ac.signal;
    const stop = () => ac.abort();
    outer.addEventListener('abort', stop, { once: true });
    if (outer.aborted) ac.abort();
    let longpoll: Promise<void> = Promise.resolve();
    let stopExclusions = (): void => undefined;
    try {
      // whatever an earlier `syncd sync` left in state/pending is not ours: `wait` must not trust it
      this.#setMeta('state', 'starting');
      this.#setMeta('pending', null);
      this.#setMeta('channel', null);
      await this.prepare();
      db.meta.set('watch_warning', null);
      // the watcher is ready before the first full scan, so nothing changed
      // after the scan goes unseen while the watches are still being set up
      await this.#startWatcher();
      let rootId = rootIdentity(o.folder, o.fs);
      longpoll = this.#followServer(signal);
      stopExclusions = watchExclusions(db, () => this.#sleeper.wake(0));
      const backoff = new Backoff({ random: o.random });
      const stuckBackoff = new Backoff({ baseMs: 1000, capMs: 60_000 });
      let progressBefore = this.#progress;
      let lastSafety = o.now();
      while (!signal.aborted) {
        try {
          // a folder replaced under us (restored, re-mounted) leaves the
          // watcher on the old directory: watch the new one, scan it all
          const id = rootIdentity(o.folder, o.fs);
          if (id !== rootId) {
            rootId = id;
            await this.#watcher?.close();
            await this.#startWatcher();
            this.#fullScanNeeded = true;
          }
          const asked = db.meta.get('mode_request');
          progressBefore = this.#progress;
          const r = await this.cycle(signal);
          // a revert/override gets the one cycle that saw it (a pause keeps it)
          if (asked !== null && !r.paused && !signal.aborted) this.#setMeta('mode_request', null);
          this.#setMeta('last_error', null);
          backoff.reset();
          const wait = nextWait(r, this.#dirty.size > 0 || this.#pullNeeded);
          if (wait === 'paused') await this.#sleeper.sleep(signal, PAUSED_RECHECK_MS);
          else if (wait === 'stuck') {
            // nothing moved (a path that stays stale, an entry we cannot
            // sync): wait longer each time instead of spinning; news wakes us
            await this.#sleeper.sleep(signal, stuckBackoff.next());
          } else if (wait === 'idle') {
            stuckBackoff.reset();
            const safety = o.safetyPullIntervalS * 1000 - (o.now() - lastSafety);
            const releaseMs = o.releaseIdleMs ?? RELEASE_IDLE_MS;
            const release = releaseMs > 0 ? setTimeout(() => this.#releaseMemory(), releaseMs) : null;
            try {
              await this.#sleeper.sleep(signal, this.#pollFallback ? Math.min(safety, 30_000) : Math.max(0, safety));
            } finally {
              if (release) clearTimeout(release);
            }
            if (o.now() - lastSafety >= o.safetyPullIntervalS * 1000) {
              lastSafety = o.now();
              // the safety net: a pull, and a full scan in case a watch event was lost
              this.#pullNeeded = true;
              this.#fullScanNeeded = true;
            }
          }
        } catch (err) {
          if (signal.aborted) break;
          const e = err as SyncdError;
          this.#setMeta('last_error', { code: e.code ?? 'error', message: e.message, at: o.now() });
          const failure = afterFailure(e.code, e instanceof RemoteError && e.code === 'network');
          this.#setMeta('state', failure.state);
          // a cycle that got something done before it failed (a flaky link, a proxy cutting now and
          // then) retries after the first delay; only failures that get nowhere wait longer each time
          if (this.#progress > progressBefore) backoff.reset();
          const waitMs = failure.waitMs ?? backoff.nextFor(err);
          o.log.warn(e.message, { code: e.code, retry_in_ms: waitMs });
          this.#pullNeeded = true;
          this.#fullScanNeeded = true;
          if (failure.waitMs !== null) await this.#sleeper.sleep(signal, waitMs);
          else await sleep(waitMs, signal).catch(() => undefined);
        }
      }
    } finally {
      ac.abort();
      stopExclusions();
      outer.removeEventListener('abort', stop);
      await this.#watcher?.close();
      this.#watcher = null;
      await longpoll;
      this.#setMeta('state', 'stopped');
      this.#setMeta('channel', null);
    }
  }

  /**
   * An idle agent needs none of its per-entry memory: the three trees
   * (~100 MiB at 100,000 entries, loaded by a full scan or a plan without
   * a usable base) and the ignore matcher's per-path cache go, then one
   * full GC hands the start-up's heap back (an idle agent on 100,000
   * files: ~440 → ~125 MiB RSS). The next cycle does not reload them: it
   * plans over the nodes around what changed (round-trees.ts).
   */
  #releaseMemory(): void {
    this.db.dropCaches();
    this.#ignore = loadIgnore(this.o.folder, this.o.extraIgnore ?? []);
    const t = performance.now();
    collectGarbage();
    this.o.log.debug('idle: released the in-memory trees', { gc_ms: Math.round(performance.now() - t) });
  }

  /** Meta writes on the way out of an error must not throw again (e.g. a full disk). */
  #setMeta<K extends MetaKey>(key: K, value: MetaValue<K>): void {
    try {
      this.db.meta.set(key, value);
    } catch (err) {
      this.o.log.warn(`cannot record ${key}: ${(err as Error).message}`);
    }
  }

  /** The stream (or the longpoll when the stream cannot be held) says when to pull. */
  #followServer(signal: AbortSignal): Promise<void> {
    return followServer(
      {
        remote: this.o.remote,
        cursor: () => ({ cursor: this.db.meta.get('cursor'), seq: Number(this.db.meta.get('cursor_seq') ?? '0') }),
        onNews: () => this.requestPull(),
        onChannel: (channel) => {
          this.#setMeta('channel', channel);
          this.o.log.info(`following the server over ${channel === 'stream' ? 'the Subscribe stream' : 'longpoll'}`, { channel });
        },
        longpollTimeoutS: this.o.longpollTimeoutS,
        streamIdleMs: this.o.streamIdleMs,
        random: this.o.random,
        useStream: this.o.notifyChannel !== 'longpoll',
        now: this.o.now,
        debug: (msg, fields) => this.o.log.debug(msg, fields),
      },
      signal,
    );
  }

  /** Starts watching the folder; resolves once the watches are set up (or failed over to scanning). */
  #startWatcher(): Promise<void> {
    const w = new DirWatcher({
      root: this.o.folder,
      onDirty: (rel) => this.markDirty(rel),
      onError: (err) => this.watcherFailed(err),
    });
    this.#watcher = w;
    return w.ready;
  }

  /**
   * The watcher reported an error. When the OS refuses more watches
   * (inotify limit), say so and fall back to periodic full scans instead of
   * going stale.
   */
  watcherFailed(err: unknown): void {
    if (isWatchLimit(err)) {
      if (!this.#pollFallback) {
        this.#pollFallback = true;
        const msg = 'the OS refused more file watches (inotify limit: raise fs.inotify.max_user_watches); falling back to a full scan every 30 s';
        this.o.log.warn(msg);
        this.db.meta.set('watch_warning', msg);
        this.rescan();
      }
    } else {
      this.o.log.warn(`file watcher error: ${(err as Error).message}`);
    }
  }

  /** True while changes are found by periodic scans instead of watches. */
  get polling(): boolean {
    return this.#pollFallback;
  }
}
