// One simulated world: a real in-process server, two or three devices each
// running the real Engine over its own SimDisk, and simulated users editing
// the folders. One seed decides everything: which parked call resumes next,
// what the users do and when, which calls fail, whether the devices follow
// the server over the Subscribe stream or the longpoll (test/sim/
// sim-notify.ts) and which messages are lost, duplicated or stalled, when a
// device crashes and what its disk keeps.
// After the stormy phase, faults stop and every device syncs until all
// agree; then the invariants of DESIGN.md are checked.

import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../src/client/agent/engine.js';
import { silentLog } from '../../src/client/agent/log.js';
// the engine imports the executor lazily; loaded here, that import resolves
// at once instead of on a file read the scheduler cannot see
import '../../src/client/exec/executor.js';
import { plan } from '../../src/core/plan/index.js';
import { RemoteClient } from '../../src/client/remote/remote.js';
import { StateDB } from '../../src/client/state/db.js';
import { ROOT_ID, type WireNode } from '../../src/protocol/types.js';
import { TRASH_DIR } from '../../src/core/syncd-names.js';
import type { FolderMode } from '../../src/core/policy/mode-names.js';
import { addDevice } from '../../src/server/admin.js';
import { startServer, type RunningServer } from '../../src/server/app.js';
import { Scheduler, type Proc } from './scheduler.js';
import { SimDisk } from './sim-disk.js';
import { newNotifyCounters, SimFollower, type NotifyCounters, type NotifyPath } from './sim-notify.js';
import { SimRemote } from './sim-remote.js';

export interface SimOptions {
  seed: number;
  devices?: number;
  /** scheduler decisions in the stormy phase */
  steps?: number;
  /** most crashes per run */
  crashes?: number;
  /** fault rates in the stormy phase */
  diskFault?: number;
  refuse?: number;
  loseReply?: number;
  dropNotification?: number;
  duplicateNotification?: number;
  /** chance an opened Subscribe stream stalls */
  stallStream?: number;
  /** how the devices follow the server; by default the seed picks (the stream in two seeds of three) */
  notify?: 'stream' | 'longpoll';
  /** some user writes are large files (over 4 MiB: uploaded and downloaded as chunks); default: every sixth seed */
  bigFiles?: boolean;
  /**
   * the last device is a receive-only folder (docs/folder-modes.md): what its
   * user writes never reaches the server, and the calm phase ends with a
   * `syncd revert`, after which that content must be in its local trash;
   * default: seeds ≡ 3 (mod 5)
   */
  receiveOnly?: boolean;
  /**
   * the first device excludes `docs` at the folder's root from the start
   * (selective sync): its folder must end equal to the server without that
   * subtree; default: seeds ≡ 4 (mod 5)
   */
  exclude?: boolean;
  /**
   * every round without a usable plan base plans in batches of top-level
   * names this small (a first plan, new rules, a mode change, a revert), not
   * over the whole trees: client/agent/round-trees.ts; default
   * SYNCD_SIM_BATCHES, else the agent's own sizes (batches from 20,000 nodes)
   */
  batchNodes?: number;
}

/** the path the first device excludes when `exclude` is on */
const EXCLUDED = 'docs';

/**
 * A seeded pseudo-random text of `n` letters: large files are slices of it
 * at different offsets, so they share content-defined chunks with each
 * other and with their previous versions.
 */
function bigText(seed: number, n: number): string {
  const b = Buffer.allocUnsafe(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = 97 + ((x >>> 0) % 26);
  }
  return b.toString('latin1');
}

export interface SimResult {
  seed: number;
  /** sorted JSON of the final server tree and every folder: equal across replays of a seed */
  fingerprint: string;
  violations: string[];
  stats: {
    points: number;
    userOps: number;
    cycles: number;
    cycleErrors: number;
    crashes: number;
    powerLosses: number;
    dbRollbacks: number;
    metadataUndone: number;
    dataLost: number;
    dataTorn: number;
    diskFaults: number;
    refused: number;
    /** user writes of large files (chunked transfers) */
    bigWrites: number;
    /** user writes on a receive-only device, and how many of them its revert put in its trash */
    roWrites: number;
    roTrashed: number;
    /** server paths inside an exclusion at the end (not on the excluding device) */
    excludedServerPaths: number;
    /** chunk uploads and fetches (of the devices' last incarnations) */
    chunkCalls: number;
    lostReplies: number;
    calmRounds: number;
    /** plans in batches begun on a device with Synced (the top-level links looked up: TreeRows.topLinks) */
    linkedBatchPasses: number;
    /** files in the devices' local trash at the end, and how many of them a crash left unindexed (the next prune adopts them) */
    trashed: number;
    trashUnindexed: number;
    /** devices that could hold the Subscribe stream (the others: longpoll only, or no stream on their path) */
    streamDevices: number;
  } & NotifyCounters;
}

const FOLDER = '/sync';
const OUTSIDE = '/outside';
const CANARY = 'do not touch';
const NAMES = ['a.txt', 'b.txt', 'C.txt', 'c.txt', 'notes', 'docs', '\u00e9.md', 'e\u0301.md', 'x'];
const LINK_TARGETS = ['a.txt', '../outside/canary', '/outside', 'docs', '..'];

class SimStateDB extends StateDB {
  onTx: (() => void) | null = null;
  override tx<T>(fn: () => T): T {
    this.onTx?.();
    return super.tx(fn);
  }
}

interface Device {
  name: string;
  disk: SimDisk;
  token: string;
  dbPath: string;
  incarnation: number;
  proc: Proc;
  db: SimStateDB;
  remote: SimRemote;
  engine: Engine;
  real: RemoteClient;
  running: boolean;
  needPrepare: boolean;
  wantCycle: boolean;
  /** the DB as it was before the transactions since the last resumed point (a crash may roll back to it) */
  rollbackImage: Buffer | null;
  snapshotArmed: boolean;
  lastCursorSeq: number;
  lastResult: { converged: boolean; rounds: number } | null;
  path: NotifyPath;
  follower: SimFollower;
  mode: FolderMode;
}

/** Errors a cycle may end with when the world misbehaves; anything else is a bug. */
const EXPECTED = /^(network|unavailable|server_error|disk_full|ENOSPC|EIO|reset_loop|journal_gap|protocol|changed_during_upload|ENOENT|ENOTDIR|EEXIST|ENOTEMPTY|EISDIR|ELOOP|parent_missing|parent_not_dir|hash_mismatch|not_found)$/;

export async function runSim(o: SimOptions): Promise<SimResult> {
  const sched = new Scheduler(o.seed);
  const nDevices = o.devices ?? 2 + sched.int(2);
  const steps = o.steps ?? 1500;
  const violations: string[] = [];
  const stats: SimResult['stats'] = {
    points: 0, userOps: 0, cycles: 0, cycleErrors: 0, crashes: 0, powerLosses: 0, dbRollbacks: 0, metadataUndone: 0, dataLost: 0, dataTorn: 0,
    diskFaults: 0, refused: 0, bigWrites: 0, roWrites: 0, roTrashed: 0, excludedServerPaths: 0, chunkCalls: 0, lostReplies: 0, calmRounds: 0, linkedBatchPasses: 0, trashed: 0, trashUnindexed: 0, streamDevices: 0, ...newNotifyCounters(),
  };
  const notifyMode = o.notify ?? (sched.int(3) < 2 ? 'stream' : 'longpoll');
  const work = await mkdtemp(join(tmpdir(), 'syncd-sim-'));
  let nodeCounter = 0;
  const server: RunningServer = await startServer({
    dataDir: join(work, 'server'), port: 0, host: '127.0.0.1', trimIntervalMs: 0, log: () => {},
    newNodeId: () => `n_${(++nodeCounter).toString(36).padStart(6, '0')}`,
  });
  const devices: Device[] = [];
  const written = new Set<string>();
  const superseded = new Set<string>();
  /** what the user of the receive-only device wrote (never to reach the server) */
  const roWritten = new Set<string>();
  const receiveOnly = o.receiveOnly ?? o.seed % 5 === 3;
  const exclude = o.exclude ?? o.seed % 5 === 4;
  let serverHead = 0;
  let onNews: (d: Device) => void = () => undefined;
  let tag = 0;
  const bigFiles = o.bigFiles ?? o.seed % 6 === 0;
  const batchNodes = o.batchNodes ?? (process.env.SYNCD_SIM_BATCHES ? Number(process.env.SYNCD_SIM_BATCHES) : undefined);
  const batches = batchNodes === undefined ? {} : { firstPlanBatchNodes: batchNodes, firstPlanWholeMax: 0 };
  // odd seeds place a round's downloads in parts of one to three files, each placed while the next arrives
  const parts = o.seed % 2 === 1 ? { downloadPartFiles: 1 + ((o.seed >> 1) % 3) } : {};
  const big = bigFiles ? bigText(o.seed, 6 * 1024 * 1024) : '';

  const fail = (msg: string) => violations.push(`seed ${o.seed}: ${msg}`);

  const incarnate = (d: Omit<Device, 'proc' | 'db' | 'remote' | 'engine' | 'follower'> & Partial<Device>): Device => {
    const proc: Proc = { name: `${d.name}#${d.incarnation}`, dead: false };
    const db = new SimStateDB(d.dbPath);
    const rows = db.treeRows;
    const topLinks = rows.topLinks.bind(rows);
    rows.topLinks = () => {
      // a new device's first plan looks its links up too; only passes over a Synced tree count
      if (rows.rows().synced > 0) stats.linkedBatchPasses++;
      return topLinks();
    };
    const remote = new SimRemote(d.real, sched, proc);
    const dev = d as Device;
    const engine = new Engine({
      folder: FOLDER, db, remote: remote as unknown as RemoteClient, fs: d.disk.view(proc), log: silentLog, now: () => d.disk.clock,
      concurrency: 4, downloadRetries: 0, minDeleteCount: 1_000_000, mode: () => dev.mode, ...batches, ...parts,
    });
    // a restarted agent starts its notify loop afresh (the stream first, unless its path has none)
    const follower = new SimFollower(d.path, sched, stats, () => Number(db.meta.get('cursor_seq') ?? 0), () => onNews(dev));
    follower.faults = { drop: o.dropNotification ?? 0.2, duplicate: o.duplicateNotification ?? 0.2, stall: o.stallStream ?? 0.15 };
    follower.advance(serverHead);
    Object.assign(dev, { proc, db, remote, engine, follower });
    proc.onResume = () => {
      dev.rollbackImage = null;
      dev.snapshotArmed = true;
    };
    db.onTx = () => {
      if (dev.snapshotArmed && sched.chance(0.5)) dev.rollbackImage = db.db.serialize();
      dev.snapshotArmed = false;
    };
    remote.onCommitted = (head) => {
      serverHead = Math.max(serverHead, head);
      for (const each of devices) each.follower.advance(serverHead);
    };
    remote.faults = { refuse: o.refuse ?? 0.05, loseReply: o.loseReply ?? 0.05 };
    return dev;
  };

  try {
    for (let i = 0; i < nDevices; i++) {
      const name = `dev${i}`;
      const disk = new SimDisk(sched);
      disk.mkdir(FOLDER, false);
      disk.mkdir(OUTSIDE, false);
      disk.userWrite(`${OUTSIDE}/canary`, CANARY);
      disk.faults = { p: o.diskFault ?? 0.01 };
      const { token } = await addDevice(join(work, 'server'), 'sim', name);
      const dbPath = join(work, `${name}-0.db`);
      const boot = new StateDB(dbPath);
      boot.tx(() => {
        boot.meta.set('device_label', name);
        boot.meta.set('namespace', 'sim');
        if (exclude && i === 0) boot.meta.set('exclusions', [{ path: EXCLUDED, id: null }]);
      });
      boot.close();
      const real = new RemoteClient({ server: server.url, token, connections: 2 });
      const path: NotifyPath = notifyMode === 'longpoll' ? 'longpoll-only' : sched.chance(0.2) ? 'no-stream' : 'stream';
      if (path === 'stream') stats.streamDevices++;
      devices.push(incarnate({ name, disk, token, dbPath, incarnation: 0, real, running: false, needPrepare: true, wantCycle: true, rollbackImage: null, snapshotArmed: false, lastCursorSeq: 0, lastResult: null, path, mode: receiveOnly && i === nDevices - 1 ? 'receive-only' : 'two-way' }));
    }

    // ---- the agents ---------------------------------------------------------

    const kick = (d: Device): void => {
      d.wantCycle = true;
      if (d.running) return;
      d.running = true;
      d.wantCycle = false;
      const me = d.proc;
      void (async () => {
        try {
          if (d.needPrepare) {
            await d.engine.prepare();
            d.needPrepare = false;
          }
          const r = await d.engine.cycle();
          stats.cycles++;
          d.lastResult = { converged: r.converged, rounds: r.rounds };
          if (r.paused) fail(`${d.name} paused: ${r.paused.message}`);
        } catch (err) {
          stats.cycleErrors++;
          d.lastResult = null;
          const code = String((err as { code?: unknown }).code ?? '');
          if (!EXPECTED.test(code)) fail(`${d.name}: a cycle threw ${(err as Error).stack ?? String(err)}`);
          d.wantCycle = true; // the real agent retries after a backoff
        }
        if (me.dead) return;
        const seq = Number(d.db.meta.get('cursor_seq') ?? 0);
        if (seq < d.lastCursorSeq) fail(`${d.name}: cursor went back from ${d.lastCursorSeq} to ${seq} within one run of the agent`);
        d.lastCursorSeq = seq;
        d.running = false;
        if (d.wantCycle) kick(d);
      })();
    };

    const crash = (d: Device): void => {
      stats.crashes++;
      sched.trace(`${d.name} CRASH`);
      sched.kill(d.proc);
      if (sched.chance(0.5)) {
        stats.powerLosses++;
        const r = d.disk.crash();
        stats.metadataUndone += r.metadataUndone;
        stats.dataLost += r.dataLost;
        stats.dataTorn += r.dataTorn;
      }
      const image = d.rollbackImage && sched.chance(0.5) ? d.rollbackImage : null;
      d.db.close();
      d.incarnation++;
      if (image) {
        stats.dbRollbacks++;
        d.dbPath = join(work, `${d.name}-${d.incarnation}.db`);
        writeFileSync(d.dbPath, image);
      }
      Object.assign(d, { running: false, needPrepare: true, wantCycle: true, rollbackImage: null, snapshotArmed: false, lastResult: null });
      incarnate(d);
      d.lastCursorSeq = Number(d.db.meta.get('cursor_seq') ?? 0);
    };

    onNews = (d) => {
      d.engine.requestPull();
      kick(d);
    };

    // ---- the users ----------------------------------------------------------

    const userOp = (d: Device): void => {
      const disk = d.disk;
      const items = Object.entries(disk.snapshot(FOLDER, (n) => n.startsWith('.syncd')));
      const dirs = ['', ...items.filter(([p]) => p.endsWith('/')).map(([p]) => p.slice(0, -1))];
      const entries = items.map(([p]) => (p.endsWith('/') ? p.slice(0, -1) : p));
      const abs = (rel: string) => (rel ? `${FOLDER}/${rel}` : FOLDER);
      const under = (rel: string) => items.filter(([p, c]) => !p.endsWith('/') && !c.startsWith('-> ') && (p === rel || p.startsWith(rel + '/'))).map(([, c]) => c);
      const pickOf = <T>(xs: T[]): T => xs[sched.int(xs.length)]!;
      const parent = pickOf(dirs);
      const target = (parent ? parent + '/' : '') + pickOf(NAMES);
      // on the receive-only device only its own content can be superseded (the server's stays)
      const ro = d.mode === 'receive-only';
      const supersede = (c: string): void => {
        if (!ro || roWritten.has(c)) superseded.add(c);
      };
      const hint = (...paths: string[]) => {
        for (const p of paths) d.engine.markDirty(p);
        kick(d);
      };
      const k = sched.rng();
      try {
        const st = disk.lstat(abs(target));
        if (k < 0.4) {
          if (st && !st.isFile()) return;
          const head = `${o.seed}/${d.name}/${++tag}:`;
          // a large file: a slice of the seed's text (4 MiB and up), sharing chunks with the others
          const at = bigFiles && sched.int(8) === 0 ? sched.int(512 * 1024) : -1;
          if (at >= 0) stats.bigWrites++;
          const content = at >= 0
            ? head + big.slice(at, at + 4 * 1024 * 1024 + 1 + sched.int(1024 * 1024))
            : head + 'x'.repeat(sched.int(3) === 0 ? sched.int(5000) : sched.int(40));
          if (st) supersede(disk.readFile(abs(target)).toString('utf8'));
          sched.trace(`${d.name} USER write ${target} ${content.slice(0, content.indexOf(':') + 1)}`);
          disk.userWrite(abs(target), content);
          written.add(content);
          if (ro) {
            roWritten.add(content);
            stats.roWrites++;
          }
          hint(target);
        } else if (k < 0.55) {
          if (st) return;
          sched.trace(`${d.name} USER mkdir ${target}`);
          disk.user(() => disk.mkdir(abs(target), false));
          hint(target);
        } else if (k < 0.7) {
          if (entries.length === 0) return;
          const victim = pickOf(entries);
          for (const c of under(victim)) supersede(c);
          sched.trace(`${d.name} USER rm ${victim}`);
          disk.userRemove(abs(victim));
          hint(victim);
        } else if (k < 0.92) {
          if (entries.length === 0) return;
          const from = pickOf(entries);
          if (target === from || target.startsWith(from + '/')) return;
          const fromSt = disk.lstat(abs(from))!;
          if (st && (st.isDirectory() || fromSt.isDirectory())) return;
          if (st) for (const c of under(target)) supersede(c);
          sched.trace(`${d.name} USER mv ${from} ${target}`);
          disk.user(() => disk.rename(abs(from), abs(target), false));
          hint(from, target);
        } else {
          if (st) return;
          disk.user(() => disk.symlink(pickOf(LINK_TARGETS), abs(target), false));
          hint(target);
        }
        stats.userOps++;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? '';
        if (!/^(ENOENT|ENOTDIR|EEXIST|EISDIR|ENOTEMPTY|EINVAL|ELOOP)$/.test(code)) throw err;
      }
    };

    // ---- the stormy phase -----------------------------------------------------

    let crashesLeft = o.crashes ?? 4;
    for (const d of devices) kick(d);
    for (let i = 0; i < steps; i++) {
      await sched.settle();
      const k = sched.rng();
      if (k < 0.7 && sched.parked > 0) sched.step();
      else if (k < 0.84) userOp(devices[sched.int(devices.length)]!);
      else if (k < 0.9) kick(devices[sched.int(devices.length)]!);
      else if (k < 0.905 && crashesLeft > 0) {
        // a crash in the middle of work finds more: prefer a device with calls in flight
        const busy = devices.filter((d) => sched.parkedOf(d.proc) > 0);
        crashesLeft--;
        crash(busy.length > 0 ? busy[sched.int(busy.length)]! : devices[sched.int(devices.length)]!);
      } else devices[sched.int(devices.length)]!.follower.turn();
    }

    // ---- the calm phase: no faults, every device syncs until all agree --------

    for (const d of devices) {
      d.disk.faults = { p: 0 };
      d.remote.faults = { refuse: 0, loseReply: 0 };
      d.follower.faults = { drop: 0, duplicate: 0, stall: 0 };
    }
    let calmSteps = 0;
    const drive = async (): Promise<boolean> => {
      for (let n = 0; n < 200_000; n++) {
        if (++calmSteps > 40_000) {
          fail(`the calm phase took over 40,000 steps (a device keeps working without converging): ${devices.map((d) => `${d.name} running=${d.running} problems ${JSON.stringify(d.db.problems().map((x) => `${x.path}: ${x.code}`))}`).join('; ')}`);
          if (sched.log) writeFileSync(join(process.env.SYNCD_SIM_LOGDIR ?? tmpdir(), `syncd-sim-${o.seed}.log`), sched.log.join('\n') + '\n');
          if (process.env.SYNCD_SIM_DUMP) {
            for (const d of devices) {
              console.log(d.name, 'DISK', JSON.stringify(Object.keys(d.disk.snapshot(FOLDER)).filter((k) => !k.includes('conflicted'))));
              console.log(d.name, 'LOCAL', JSON.stringify([...d.db.loadLocal().values()].filter((e) => !e.path.includes('conflicted')).map((e) => [e.path, e.diskPath, e.kind, e.ino])));
              console.log(d.name, 'SYNCED', JSON.stringify([...d.db.loadSynced().values()].filter((e) => !e.name.includes('conflicted')).map((e) => [e.id, e.parent, e.name, e.kind, e.ino])));
              console.log(d.name, 'REMOTE', JSON.stringify([...d.db.loadRemote().values()].filter((e) => !e.name.includes('conflicted')).map((e) => [e.id, e.parent, e.name, e.kind])));
            }
          }
          return false;
        }
        await sched.settle();
        if (!devices.some((d) => d.running)) return true;
        if (!sched.step()) {
          fail(`a device is running but nothing is parked (a hang outside the scheduler)`);
          return false;
        }
      }
      return true;
    };
    if (!(await drive())) return { seed: o.seed, fingerprint: '', violations, stats };
    let agreed = false;
    for (let round = 0; round < 30 && !agreed; round++) {
      stats.calmRounds++;
      const head = (await sched.real(() => devices[0]!.real.status())).head;
      for (const d of devices) {
        // the receive-only device puts the server's version back (its own changes go to its trash);
        // its user asks again while anything is left: a revert leaves alone what a crash
        // recovery or an edit brought back during its cycle (kept as a difference, never lost)
        if (d.mode === 'receive-only') d.db.meta.set('mode_request', 'revert');
        d.engine.rescan();
        d.engine.requestPull();
        kick(d);
      }
      if (!(await drive())) return { seed: o.seed, fingerprint: '', violations, stats };
      const headAfter = (await sched.real(() => devices[0]!.real.status())).head;
      agreed = headAfter === head && devices.every((d) => d.lastResult?.converged && d.lastResult.rounds === 1 && Number(d.db.meta.get('cursor_seq')) === headAfter);
    }

    // ---- invariants ------------------------------------------------------------

    const serverTree = await sched.real(() => serverSnapshot(devices[0]!.real));
    if (!agreed) {
      const why = devices.map((d) => {
        const p = plan({ remote: d.db.loadRemote(), synced: d.db.loadSynced(), local: d.db.loadLocal(), device: d.name, now: d.disk.clock, isIgnored: () => false });
        const ops = p.ops.slice(0, 6).map((op) => JSON.stringify(op).slice(0, 300));
        if (process.env.SYNCD_SIM_DUMP) {
          console.log(d.name, 'REMOTE', [...d.db.loadRemote().values()].map((n) => `${n.id} ${n.parent}/${n.name} ${n.kind} r${n.rev}`).join('\n'));
          console.log(d.name, 'SYNCED', [...d.db.loadSynced().values()].map((n) => `${n.id} ${n.parent}/${n.name} ${n.kind} r${n.rev} ino${n.ino}`).join('\n'));
          console.log(d.name, 'LOCAL', [...d.db.loadLocal().values()].map((n) => `${n.diskPath} ${n.kind} ino${n.ino}`).join('\n'));
          console.log(d.name, 'PLAN', p.ops.map((op) => JSON.stringify(op)).join('\n'));
        }
        return `${d.name} ${JSON.stringify(d.lastResult)} cursor ${d.db.meta.get('cursor_seq')} problems ${JSON.stringify(d.db.problems().map((x) => `${x.path}: ${x.code}`))} plan ${ops.join(' | ')}`;
      });
      fail(`no agreement after ${stats.calmRounds} calm rounds:\n  ${why.join('\n  ')}`);
    }
    // names as the server knows them (NFC); a user's NFD name stays NFD on disk
    const folders = devices.map((d) => {
      const out: Record<string, string> = {};
      for (const [p, c] of Object.entries(d.disk.snapshot(FOLDER, (n) => n === '.syncd' || n === TRASH_DIR))) {
        const k = p.normalize('NFC');
        if (k in out) fail(`${d.name} holds NFC/NFD twins at ${JSON.stringify(k)}`);
        out[k] = c;
      }
      return out;
    });
    devices.forEach((d, i) => {
      const f = folders[i]!;
      const extra = Object.keys(f).filter((p) => p.split('/').some((s) => s.startsWith('.syncd')));
      if (extra.length) fail(`${d.name} has leftover syncd files: ${extra.join(', ')}`);
      // an excluded subtree (where the server has it now) is not in that folder
      const excluded = (d.db.meta.get('exclusions') ?? []).map((x) => x.path);
      const outside = (p: string): boolean => !excluded.some((x) => p === x || p === `${x}/` || p.startsWith(`${x}/`));
      // except directories with no file below them that the device reports it keeps
      // (docs/folder-modes.md: an empty folder at an excluded path is left alone)
      const kept = d.db.problems().filter((x) => x.code === 'excluded_kept').map((x) => `${x.path}/`);
      const keptDir = (p: string): boolean => kept.some((k) => p.startsWith(k)) && Object.keys(f).every((q) => !q.startsWith(p) || f[q] === 'dir');
      for (const p of Object.keys(f)) {
        if (outside(p)) continue;
        if (keptDir(p)) delete f[p];
        else fail(`${d.name} holds "${p}", inside its exclusion`);
      }
      if (excluded.length) stats.excludedServerPaths += Object.keys(serverTree).filter((p) => !outside(p)).length;
      const diff = diffTrees(Object.fromEntries(Object.entries(serverTree).filter(([p]) => outside(p))), f);
      if (diff.length) fail(`${d.name} differs from the server: ${diff.slice(0, 8).join('; ')}`);
      const top = d.disk.list('/').map((e) => e.name).sort().join(',');
      if (top !== 'outside,sync') fail(`${d.name} wrote outside its folder: / holds ${top}`);
      const out = d.disk.snapshot(OUTSIDE);
      if (JSON.stringify(out) !== JSON.stringify({ canary: CANARY })) fail(`${d.name} changed ${OUTSIDE}: ${JSON.stringify(out)}`);
      if (Number(d.db.meta.get('cursor_seq') ?? -1) !== Number(d.db.meta.get('head_seq') ?? -2)) fail(`${d.name} is behind: cursor ${d.db.meta.get('cursor_seq')} head ${d.db.meta.get('head_seq')}`);
      // Local is a tree: every entry's parent is a directory Local holds
      const local = d.db.loadLocal();
      const orphans = [...local.keys()].filter((k) => k.includes('/') && local.get(k.slice(0, k.lastIndexOf('/')))?.kind !== 'dir');
      if (orphans.length) fail(`${d.name}'s Local holds entries with no directory above them: ${orphans.slice(0, 8).join(', ')}`);
    });
    const present = new Set<string>();
    for (const [p, c] of Object.entries(serverTree)) {
      if (p.endsWith('/') || c.startsWith('-> ')) continue;
      present.add(c);
      if (!written.has(c)) fail(`"${p}" holds bytes no user wrote (torn or foreign): ${JSON.stringify(c.slice(0, 60))}`);
    }
    // a receive-only device never uploads; what its user wrote is in its trash after the revert
    const leaked = [...roWritten].filter((c) => present.has(c));
    if (leaked.length) fail(`the receive-only device uploaded: ${leaked.map((c) => c.slice(0, c.indexOf(':') + 1)).join(', ')}`);
    const roTrash = new Set<string>();
    for (const d of devices.filter((x) => x.mode === 'receive-only')) {
      if (d.db.meta.get('mode_request') !== null) fail(`${d.name}: the revert never finished`);
      if (d.disk.lstat(`${FOLDER}/${TRASH_DIR}`)) for (const c of Object.values(d.disk.snapshot(`${FOLDER}/${TRASH_DIR}`))) roTrash.add(c);
    }
    stats.roTrashed = [...roWritten].filter((c) => roTrash.has(c)).length;
    const lost = [...written].filter((c) => !superseded.has(c) && !present.has(c) && !(roWritten.has(c) && roTrash.has(c)));
    if (lost.length) fail(`contents lost: ${lost.map((c) => c.slice(0, c.indexOf(':') + 1)).join(', ')}`);
    // the local trash holds only what users wrote, and its index matches it
    for (const d of devices) {
      const trash = d.disk.lstat(`${FOLDER}/${TRASH_DIR}`) ? d.disk.snapshot(`${FOLDER}/${TRASH_DIR}`) : {};
      const files = Object.entries(trash).filter(([p]) => !p.endsWith('/'));
      for (const [p, c] of files) if (!c.startsWith('-> ') && !written.has(c)) fail(`${d.name} trash "${p}" holds bytes no user wrote`);
      const indexed = new Set(d.db.trashEntries().map((e) => e.stored));
      const unindexed = files.filter(([p]) => !indexed.has(`${TRASH_DIR}/${p}`)).length;
      stats.trashed += files.length;
      stats.trashUnindexed += unindexed;
    }

    for (const d of devices) {
      stats.diskFaults += Object.values(d.disk.injected).reduce((a, b) => a + b, 0);
      stats.refused += d.remote.counters.refused;
      stats.lostReplies += d.remote.counters.lostReplies;
      stats.chunkCalls += d.remote.counters.chunks;
    }
    stats.points = sched.resumed;
    if (sched.log) writeFileSync(join(process.env.SYNCD_SIM_LOGDIR ?? tmpdir(), `syncd-sim-${o.seed}.log`), sched.log.join('\n') + '\n');
    const fingerprint = JSON.stringify({ server: serverTree, folders });
    return { seed: o.seed, fingerprint, violations, stats };
  } finally {
    for (const d of devices) {
      try {
        d.db.close();
      } catch {
        // closed by a crash already
      }
      await d.real.close().catch(() => undefined);
    }
    await server.close();
    await rm(work, { recursive: true, force: true });
  }
}

/** The server's tree as path → content ("dir", "-> target" or the file's text). */
async function serverSnapshot(remote: RemoteClient): Promise<Record<string, string>> {
  const nodes: WireNode[] = [];
  let pageToken: string | undefined;
  for (;;) {
    const page = await remote.list({ pageToken, limit: 1000 });
    nodes.push(...page.entries);
    if (!page.has_more || !page.page_token) break;
    pageToken = page.page_token;
  }
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const pathOf = (n: WireNode): string => (n.parent === ROOT_ID ? n.name : `${pathOf(byId.get(n.parent)!)}/${n.name}`);
  const out: Record<string, string> = {};
  for (const n of nodes) {
    const p = pathOf(n);
    if (n.kind === 'dir') out[p + '/'] = 'dir';
    else if (n.kind === 'symlink') out[p] = `-> ${n.target}`;
    else {
      const got = await remote.getBlob(n.hash!);
      const chunks: Buffer[] = [];
      for await (const c of got.body as AsyncIterable<Buffer>) chunks.push(c);
      out[p] = Buffer.concat(chunks).toString('utf8');
    }
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function diffTrees(a: Record<string, string>, b: Record<string, string>): string[] {
  const out: string[] = [];
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (a[k] !== b[k]) out.push(`${k}: server ${JSON.stringify(a[k]?.slice(0, 30))} folder ${JSON.stringify(b[k]?.slice(0, 30))}`);
  }
  return out;
}

