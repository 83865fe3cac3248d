// The notifier of a server process that shares its store with others: local
// subscribers are served by the in-process LocalBus, and each advance also
// travels to the other processes over cross-process transports (NATS, then
// PostgreSQL LISTEN/NOTIFY as the fallback).
//
// Still lossy by contract (the pull is authoritative), but it heals itself:
// - a publish goes out on the first healthy transport, so with NATS down the
//   processes keep waking each other through PostgreSQL;
// - after a transport (re)connects, messages sent while it was down are gone,
//   so the heads of every watched namespace are re-read from the store and
//   delivered locally (a waiter whose cursor is behind wakes);
// - while any transport is down, a process cannot know which one the others
//   publish on, so it polls the watched heads every `pollMs`.

import { LocalBus, type AdvanceListener, type Notifier } from '../bus.js';

export interface TransportHooks {
  /** an advance another process published */
  deliver(namespace: string, head: number): void;
  /** messages may have been lost (a reconnect; a subscription that only now took effect): re-read these heads (default: all watched) */
  gap(namespaces?: string[]): void;
  /** `healthy` changed */
  health(): void;
}

export interface Transport {
  /** for logs */
  readonly name: string;
  /** true while this transport is connected both ways */
  readonly healthy: boolean;
  /** connects (or keeps trying in the background); never throws for an unreachable peer */
  start(hooks: TransportHooks): Promise<void>;
  send(namespace: string, head: number): void;
  /** the process has local subscribers of this namespace from now on / no longer */
  watch(namespace: string): void;
  unwatch(namespace: string): void;
  close(): Promise<void>;
}

export interface SharedBusOptions {
  /** current heads of the named namespaces (from the shared store) */
  heads(namespaces: string[]): Promise<Map<string, number>>;
  /** poll period while a transport is down, ms (default 1000) */
  pollMs?: number;
  log?: (line: string) => void;
}

export class SharedBus implements Notifier {
  readonly #local = new LocalBus();
  readonly #transports: Transport[];
  readonly #opts: Required<SharedBusOptions>;
  #poll: NodeJS.Timeout | null = null;
  #refreshing: Promise<void> | null = null;
  #closed = false;
  #refreshFailing = false;

  /** `transports` in order of preference; the last one is the fallback of all the others. */
  constructor(transports: Transport[], opts: SharedBusOptions) {
    if (transports.length === 0) throw new RangeError('SharedBus needs at least one transport');
    this.#transports = transports;
    this.#opts = { heads: opts.heads, pollMs: opts.pollMs ?? 1000, log: opts.log ?? (() => undefined) };
  }

  async start(): Promise<void> {
    const hooks: TransportHooks = {
      deliver: (ns, head) => this.#local.publish(ns, head),
      gap: (names) => void this.refresh(names),
      health: () => this.#checkHealth(),
    };
    for (const t of this.#transports) await t.start(hooks);
    this.#checkHealth();
  }

  /** names of the transports that are up, in order of preference */
  get healthy(): string[] {
    return this.#transports.filter((t) => t.healthy).map((t) => t.name);
  }

  publish(namespace: string, head: number): void {
    this.#local.publish(namespace, head);
    const t = this.#transports.find((x) => x.healthy) ?? this.#transports[this.#transports.length - 1]!;
    t.send(namespace, head);
  }

  subscribe(namespace: string, listener: AdvanceListener): () => void {
    const first = this.#local.listenerCount(namespace) === 0;
    const unsubscribe = this.#local.subscribe(namespace, listener);
    if (first) for (const t of this.#transports) t.watch(namespace);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      unsubscribe();
      if (this.#local.listenerCount(namespace) === 0) for (const t of this.#transports) t.unwatch(namespace);
    };
  }

  /** Re-reads the heads of the watched namespaces (all, or those named) and delivers them locally. */
  async refresh(only?: string[]): Promise<void> {
    if (only === undefined) {
      // a full refresh already running covers this request
      this.#refreshing ??= this.#refresh(this.#local.namespaces()).finally(() => (this.#refreshing = null));
      return this.#refreshing;
    }
    const watched = new Set(this.#local.namespaces());
    await this.#refresh(only.filter((n) => watched.has(n)));
  }

  async #refresh(names: string[]): Promise<void> {
    if (names.length === 0 || this.#closed) return;
    try {
      for (const [ns, head] of await this.#opts.heads(names)) this.#local.publish(ns, head);
      this.#refreshFailing = false;
    } catch (err) {
      // once per outage, not once per poll
      if (!this.#refreshFailing) this.#opts.log(`syncd: re-reading namespace heads failed: ${(err as Error).message}`);
      this.#refreshFailing = true;
    }
  }

  #checkHealth(): void {
    const degraded = !this.#closed && this.#transports.some((t) => !t.healthy);
    if (degraded && this.#poll === null) {
      this.#poll = setInterval(() => void this.refresh(), this.#opts.pollMs);
      this.#poll.unref();
    } else if (!degraded && this.#poll !== null) {
      clearInterval(this.#poll);
      this.#poll = null;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#checkHealth();
    await Promise.allSettled(this.#transports.map((t) => t.close()));
    await this.#refreshing;
    await this.#local.close();
  }
}
