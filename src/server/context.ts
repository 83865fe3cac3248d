// What every route handler can reach. Built once by app.ts.

import type { CursorCodec } from '../protocol/cursor.js';
import type { ActivityRecorder } from './activity.js';
import type { BlobStore } from './blobs.js';
import type { Notifier } from './bus.js';
import type { EventStreams } from './events.js';
import type { LongpollHub } from './longpoll.js';
import type { ServerMetrics } from './metrics.js';
import type { ResolvedOptions } from './options.js';
import type { RateLimiter } from './ratelimit.js';
import type { JournalStore } from './store/types.js';
import type { BodyBudget } from './http/body-budget.js';

export interface ServerContext {
  store: JournalStore;
  blobs: BlobStore;
  bus: Notifier;
  hub: LongpollHub;
  events: EventStreams;
  metrics: ServerMetrics;
  codec: CursorCodec;
  activity: ActivityRecorder;
  opts: ResolvedOptions;
  /** token buckets keyed by device id and by namespace name */
  limits: { device: RateLimiter; namespace: RateLimiter };
  /** memory for request bodies read whole, server-wide and per namespace */
  bodies: BodyBudget;
  now(): number;
}
