// The state DB's meta table: what the agent knows about its link and its
// progress, one row per key. Every key is declared once below with its type
// and meaning; all reads and writes go through MetaTable's typed get/set,
// which encode values exactly as the rows have always been stored (numbers
// as decimal text, flags as '1' or no row, the last error as JSON), so DBs
// written before the keys were typed read the same.

import type { GuardTrip } from '../../core/guards.js';
import type { Exclusion } from '../../core/policy/exclusions.js';
import { SyncdError } from '../../protocol/errors.js';
import type { StateStore } from './store.js';

/** What the agent is doing, as `syncd status` shows it. */
type AgentState = 'starting' | 'syncing' | 'idle' | 'paused' | 'offline' | 'error' | 'stopped';

/** Why syncing is paused: a guard tripped, or the user said `syncd pause`. */
type PauseCode = GuardTrip['code'] | 'user';

/** The last error that stopped a cycle. */
interface LastError {
  code: string;
  message: string;
  at: number;
}

/** How one key's value is stored: `null` is no row. */
interface Codec<T> {
  encode(v: T): string | null;
  decode(raw: string | null): T;
}

const text = <T extends string = string>(): Codec<T | null> => ({ encode: (v) => v, decode: (raw) => raw as T | null });
const int: Codec<number | null> = { encode: (v) => (v === null ? null : String(v)), decode: (raw) => (raw === null ? null : Number(raw)) };
const count: Codec<number> = { encode: (v) => String(v), decode: (raw) => Number(raw ?? '0') };
// only '1' ever meant set; false removes the row, as `set(key, null)` did
const flag: Codec<boolean> = { encode: (v) => (v ? '1' : null), decode: (raw) => raw === '1' };
const json = <T>(): Codec<T | null> => ({ encode: (v) => (v === null ? null : JSON.stringify(v)), decode: (raw) => (raw === null ? null : (JSON.parse(raw) as T)) });

/** Every meta key, with its type (by its codec) and what it means. */
export const META = {
  // ---- the link, written by `syncd init`
  /** the server's base URL */
  server: text(),
  /** this device's bearer token */
  token: text(),
  /** the namespace the token belongs to */
  namespace: text(),
  /** this device's id on the server */
  device: text(),
  /** this device's label: names our conflicted copies */
  device_label: text(),
  /** the synced folder (absolute) */
  folder: text(),
  /** the namespace's epoch when linked */
  epoch: text(),

  // ---- the pull (moved only in the transaction that stores what it covers)
  /** the opaque cursor of the last stored page; none: the next pull lists the whole tree */
  cursor: text(),
  /** the journal seq the cursor stands at (0 before the first listing) */
  cursor_seq: count,
  /** the server's head as last seen (the times below are Date.now() ms) */
  head_seq: int,
  /** when head_seq was seen */
  head_seen_at: int,
  /** when a pull last reached the head: the lag's age counts from it */
  caught_up_at: int,
  /** a reset has begun (cursor dropped) and its listing has not landed: why */
  pending_reset_reason: text(),
  /** the pending reset's history is not the one Synced was built on: drop Synced when it lands */
  distrust_synced: flag,
  /** when the last reset's listing landed */
  last_reset_at: int,
  /** why the last reset happened ('first sync', 'journal gap', 'reset: <reason>') */
  last_reset_reason: text(),

  // ---- what the agent is doing (shown by status, waited on by `syncd wait`)
  state: text<AgentState>(),
  /** planned ops left (held-back ones included); no row: unknown, the agent is starting */
  pending: int,
  /** when a cycle last ended with nothing left to do */
  last_sync_at: int,
  last_error: json<LastError>(),
  /** the OS refused more watches: periodic scanning stands in */
  watch_warning: text(),
  /** how the running agent hears of server changes (notify.ts); no row: no agent */
  channel: text<'stream' | 'longpoll'>(),

  // ---- pause and resume
  paused: flag,
  pause_code: text<PauseCode>(),
  /** the pause's message for the user */
  pause_reason: text(),
  /** the user resumed after a mass-delete pause: the next plan's deletions pass the guard once */
  allow_deletes: flag,

  // ---- folder modes (core/policy/modes.ts)
  /** `syncd revert` / `syncd override` asked for one pass in that direction; cleared when it is done */
  mode_request: text<'revert' | 'override'>(),
  // ---- selective sync (`syncd exclude`; core/policy/exclusions.ts)
  /** the paths this device keeps out of the folder, each with the server node it named */
  exclusions: json<Exclusion[]>(),
  /** the exclusion paths (JSON) the agent last planned with: `syncd wait` waits until they are the current ones */
  exclusions_seen: text(),
} satisfies Record<string, Codec<unknown>>;

export type MetaKey = keyof typeof META;
export type MetaValue<K extends MetaKey> = (typeof META)[K] extends Codec<infer T> ? T : never;

/** The link to the server, as the commands need it. */
interface Link {
  server: string;
  token: string;
  namespace: string;
  device: string;
  deviceLabel: string;
  folder: string;
  epoch: string;
  cursor: string | null;
  cursorSeq: number;
}

export class MetaTable {
  readonly #s: StateStore;

  constructor(store: StateStore) {
    this.#s = store;
  }

  #raw(key: MetaKey): string | null {
    const row = this.#s.stmt('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
    return row?.value ?? null;
  }

  get<K extends MetaKey>(key: K): MetaValue<K> {
    return (META[key] as Codec<MetaValue<K>>).decode(this.#raw(key));
  }

  set<K extends MetaKey>(key: K, value: MetaValue<K>): void {
    const raw = (META[key] as Codec<MetaValue<K>>).encode(value);
    if (raw === null) this.#s.stmt('DELETE FROM meta WHERE key = ?').run(key);
    else this.#s.stmt('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, raw);
  }

  /** Whether `set(key, value)` would change the stored row (callers skip writing otherwise). */
  differs<K extends MetaKey>(key: K, value: MetaValue<K>): boolean {
    return this.#raw(key) !== (META[key] as Codec<MetaValue<K>>).encode(value);
  }

  /** The link `syncd init` stored; throws `not_linked` before that. */
  link(): Link {
    const server = this.get('server');
    if (!server) throw new SyncdError('not_linked', 'this folder is not linked to a server; run `syncd init DIR --server URL --token T`');
    return {
      server,
      token: this.get('token') ?? '',
      namespace: this.get('namespace') ?? '',
      device: this.get('device') ?? '',
      deviceLabel: this.get('device_label') ?? 'device',
      folder: this.get('folder') ?? '',
      epoch: this.get('epoch') ?? '',
      cursor: this.get('cursor'),
      cursorSeq: this.get('cursor_seq'),
    };
  }
}
