// The simulation's scheduler. Every file-system call and every server
// round trip of a simulated agent parks at a "point"; the scheduler resumes
// one parked point at a time, chosen by a seeded PRNG, and lets the program
// run until it parks again (or finishes) before choosing the next. So the
// interleaving of concurrent transfers, scans and commits, and of several
// devices, is a function of the seed alone: the same seed replays the same
// run. Real I/O (loopback HTTP to the in-process server) happens only
// between points and is awaited before the next choice.

import { seededRandom } from '../../src/client/agent/backoff.js';

/** One simulated process: a device's agent incarnation. A crash kills it. */
export interface Proc {
  readonly name: string;
  dead: boolean;
  /** called when one of this process's points is resumed (before it runs) */
  onResume?: () => void;
}

interface Parked {
  proc: Proc;
  label: string;
  resume: () => void;
}

export class Scheduler {
  readonly rng: () => number;
  #parked: Parked[] = [];
  #real = 0;
  #realIdle: (() => void)[] = [];
  /** bumped at every registration, so settle() can tell "nothing moved" */
  #activity = 0;
  /** points resumed so far */
  resumed = 0;
  /** with SYNCD_SIM_TRACE set: every resumed point and world event, for replaying a failure by eye */
  readonly log: string[] | null = process.env.SYNCD_SIM_TRACE !== undefined ? [] : null;

  trace(line: string): void {
    this.log?.push(`${this.resumed} ${line}`);
  }

  constructor(seed: number) {
    this.rng = seededRandom(seed);
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.rng() * n);
  }

  chance(p: number): boolean {
    return p > 0 && this.rng() < p;
  }

  /** Parks the caller until the scheduler picks it; a dead process's point never resumes. */
  point(proc: Proc, label: string): Promise<void> {
    this.#activity++;
    if (proc.dead) return new Promise<void>(() => {});
    return new Promise<void>((resume) => this.#parked.push({ proc, label, resume }));
  }

  /** Runs real I/O (the in-process server over loopback); settle() waits for it. */
  async real<T>(fn: () => Promise<T>): Promise<T> {
    this.#real++;
    this.#activity++;
    try {
      return await fn();
    } finally {
      this.#real--;
      if (this.#real === 0) for (const w of this.#realIdle.splice(0)) w();
    }
  }

  get parked(): number {
    return this.#parked.length;
  }

  parkedOf(proc: Proc): number {
    return this.#parked.filter((p) => p.proc === proc).length;
  }

  /** Waits until the program is quiet: no real I/O in flight and nothing new parked for two turns. */
  async settle(): Promise<void> {
    let stable = 0;
    let last = -1;
    while (stable < 2) {
      if (this.#real > 0) await new Promise<void>((r) => this.#realIdle.push(r));
      await new Promise<void>((r) => setImmediate(r));
      if (this.#real === 0 && this.#activity === last) stable++;
      else stable = 0;
      last = this.#activity;
    }
  }

  /** Resumes one parked point chosen by the PRNG (only `proc`'s when given). False when none. */
  step(proc?: Proc): boolean {
    const candidates = proc ? this.#parked.filter((p) => p.proc === proc) : this.#parked;
    if (candidates.length === 0) return false;
    const chosen = candidates[this.int(candidates.length)]!;
    this.#parked.splice(this.#parked.indexOf(chosen), 1);
    this.resumed++;
    this.trace(`${chosen.proc.name} ${chosen.label}`);
    chosen.proc.onResume?.();
    chosen.resume();
    return true;
  }

  /** A crash: the process's parked points never resume, and it never parks again. */
  kill(proc: Proc): void {
    proc.dead = true;
    this.#parked = this.#parked.filter((p) => p.proc !== proc);
  }
}
