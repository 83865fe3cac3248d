// Cross-process wakes through NATS: one subject per namespace
// (`<prefix>.<namespace>`, dots in the name escaped as `~`), payload the head
// as decimal text. Core NATS, fire-and-forget: lossy like the rest of the
// notifier. A process subscribes only to the namespaces it has waiters on,
// so fan-out scales with interest, not with the number of namespaces.
//
// The client reconnects forever; while it is disconnected `healthy` is false
// and the shared bus publishes through PostgreSQL instead.
//
// A new subscription takes effect only once the server has processed it: an
// advance published before that is missed. So after subscribing we flush (a
// round trip to the server) and have the bus re-read that namespace's head.
// Subscriptions linger a while after the last waiter leaves, because a
// client's next longpoll follows right after its pull.

import { connect, type NatsConnection, type Subscription } from 'nats';
import { redactUrl } from '../store/postgres/store.js';
import type { Transport, TransportHooks } from './shared.js';

export interface NatsOptions {
  /** nats://host:port, or several separated by commas */
  servers: string;
  /** subject prefix (default "syncd.advanced"), so several deployments can share one NATS */
  prefix?: string;
  log?: (line: string) => void;
  /** how long start() waits for the first connection before serving without it, ms (default 2000) */
  firstConnectMs?: number;
  /** delay between reconnect attempts, ms (default 250) */
  reconnectMs?: number;
  /** how long a subscription outlives the namespace's last local waiter, ms (default 60 s) */
  lingerMs?: number;
}

export function natsSubject(prefix: string, namespace: string): string {
  return `${prefix}.${namespace.replaceAll('.', '~')}`;
}

export class NatsTransport implements Transport {
  readonly name = 'nats';
  readonly #opts: Required<NatsOptions>;
  readonly #subs = new Map<string, Subscription | null>();
  readonly #lingering = new Map<string, NodeJS.Timeout>();
  #nc: NatsConnection | null = null;
  #hooks: TransportHooks | null = null;
  #healthy = false;
  #closed = false;
  #retry: NodeJS.Timeout | null = null;

  constructor(opts: NatsOptions) {
    this.#opts = {
      servers: opts.servers,
      prefix: opts.prefix ?? 'syncd.advanced',
      log: opts.log ?? (() => undefined),
      firstConnectMs: opts.firstConnectMs ?? 2000,
      reconnectMs: opts.reconnectMs ?? 250,
      lingerMs: opts.lingerMs ?? 60_000,
    };
  }

  get healthy(): boolean {
    return this.#healthy;
  }

  async start(hooks: TransportHooks): Promise<void> {
    this.#hooks = hooks;
    let timer: NodeJS.Timeout | undefined;
    const first = await Promise.race([
      this.#tryConnect(),
      new Promise<false>((r) => (timer = setTimeout(() => r(false), this.#opts.firstConnectMs))),
    ]);
    clearTimeout(timer);
    if (!first && !this.#closed) {
      this.#opts.log(`syncd: NATS at ${this.#opts.servers.split(',').map(redactUrl).join(',')} is not reachable yet; waking other processes through PostgreSQL until it is`);
    }
  }

  /**
   * The first connection, retried here until it succeeds (the client's own
   * reconnect loop only starts once it has connected, and a pending
   * waitOnFirstConnect could not be cancelled by close()).
   */
  async #tryConnect(): Promise<boolean> {
    const servers = this.#opts.servers.split(',').map((s) => s.trim()).filter((s) => s !== '');
    while (!this.#closed) {
      try {
        const nc = await connect({
          servers,
          name: `syncd serve ${process.pid}`,
          noEcho: true,
          reconnect: true,
          maxReconnectAttempts: -1,
          reconnectTimeWait: this.#opts.reconnectMs,
          reconnectJitter: 50,
          timeout: 2000,
          pingInterval: 10_000,
          maxPingOut: 2,
        });
        this.#connected(nc);
        return true;
      } catch {
        await new Promise<void>((r) => {
          this.#retry = setTimeout(r, this.#opts.reconnectMs);
          this.#retry.unref();
        });
        this.#retry = null;
      }
    }
    return false;
  }

  #connected(nc: NatsConnection): void {
    if (this.#closed) {
      void nc.close();
      return;
    }
    this.#nc = nc;
    for (const ns of this.#subs.keys()) this.#subscribe(ns);
    this.#setHealthy(true);
    // advances published before the subscriptions above took effect
    void nc.flush().then(
      () => this.#hooks?.gap(),
      () => undefined,
    );
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') {
          this.#opts.log(`syncd: NATS disconnected (${String(s.data)}); waking other processes through PostgreSQL`);
          this.#setHealthy(false);
        } else if (s.type === 'reconnect') {
          this.#opts.log(`syncd: NATS reconnected (${String(s.data)})`);
          this.#setHealthy(true);
          // whatever was published while we were away is gone
          this.#hooks?.gap();
        }
      }
    })();
    void nc.closed().then(() => this.#setHealthy(false));
  }

  #setHealthy(v: boolean): void {
    if (this.#healthy === v) return;
    this.#healthy = v;
    this.#hooks?.health();
  }

  #subscribe(namespace: string): void {
    const nc = this.#nc;
    if (!nc || nc.isClosed()) return;
    const sub = nc.subscribe(natsSubject(this.#opts.prefix, namespace), {
      callback: (err, msg) => {
        if (err) return;
        const head = Number(Buffer.from(msg.data).toString('latin1'));
        if (Number.isSafeInteger(head)) this.#hooks?.deliver(namespace, head);
      },
    });
    this.#subs.set(namespace, sub);
  }

  /** subscribes now and, once the server has it, has the bus re-read the namespace's head */
  #subscribeFresh(namespace: string): void {
    this.#subscribe(namespace);
    const nc = this.#nc;
    if (!nc || nc.isClosed() || !this.#healthy) return;
    void nc.flush().then(
      () => this.#hooks?.gap([namespace]),
      () => undefined,
    );
  }

  send(namespace: string, head: number): void {
    const nc = this.#nc;
    if (!this.#healthy || !nc || nc.isClosed()) return;
    try {
      nc.publish(natsSubject(this.#opts.prefix, namespace), Buffer.from(String(head)));
    } catch {
      // a connection closing under us: lossy by contract
    }
  }

  watch(namespace: string): void {
    const linger = this.#lingering.get(namespace);
    if (linger) {
      clearTimeout(linger);
      this.#lingering.delete(namespace);
    }
    if (this.#subs.has(namespace)) return;
    this.#subs.set(namespace, null);
    this.#subscribeFresh(namespace);
  }

  unwatch(namespace: string): void {
    if (!this.#subs.has(namespace) || this.#lingering.has(namespace)) return;
    const timer = setTimeout(() => {
      this.#lingering.delete(namespace);
      const sub = this.#subs.get(namespace);
      this.#subs.delete(namespace);
      try {
        sub?.unsubscribe();
      } catch {
        // already closed
      }
    }, this.#opts.lingerMs);
    timer.unref();
    this.#lingering.set(namespace, timer);
  }

  /** namespaces with a live or lingering subscription (for tests) */
  get subscribed(): string[] {
    return [...this.#subs.keys()];
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#healthy = false;
    const nc = this.#nc;
    this.#nc = null;
    if (this.#retry) clearTimeout(this.#retry);
    for (const t of this.#lingering.values()) clearTimeout(t);
    this.#lingering.clear();
    // a connect() in flight ends within its timeout; #connected closes what it brings
    if (nc) await nc.close().catch(() => undefined);
  }
}
