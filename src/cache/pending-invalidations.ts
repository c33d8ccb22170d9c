import type { Clock, Logger } from '../core/index.js';
import type { Invalidation } from './cache-bus.js';
import type { CacheCounters } from './cache-metrics.js';

/** How often deferred invalidations are tried again while Redis does not take them (ms). */
const RETRY_MS = 1_000;

export interface PendingInvalidationsOptions {
  clock: Clock;
  logger: Logger;
  counters: CacheCounters;
  /** Sends an invalidation to Redis and the bus; false when either did not take it. */
  replay(inv: Invalidation): Promise<boolean>;
}

/**
 * Invalidations that did not reach Redis (down or too slow), merged into one and replayed when Redis is
 * back: on `flush()` (the cache calls it when the bus is up again) and every second meanwhile. Their
 * count is the `pendingInvalidations` metric.
 */
export class PendingInvalidations {
  readonly #o: PendingInvalidationsOptions;
  readonly #keys = new Set<string>();
  readonly #tags = new Set<string>();
  #all = false;
  #retryCancel: (() => void) | undefined;
  #closed = false;

  constructor(options: PendingInvalidationsOptions) {
    this.#o = options;
  }

  /** True while some invalidation has not reached Redis. */
  get any(): boolean {
    return this.#all || this.#keys.size > 0 || this.#tags.size > 0;
  }

  /** Remembers an invalidation that did not reach Redis, to replay it when Redis is back. */
  add(inv: Invalidation): void {
    for (const k of inv.keys) this.#keys.add(k);
    for (const t of inv.tags) this.#tags.add(t);
    if (inv.all) this.#all = true;
    const counters = this.#o.counters;
    counters.pendingInvalidations = this.#keys.size + this.#tags.size + (this.#all ? 1 : 0);
    this.#o.logger.warn(
      { pending: counters.pendingInvalidations },
      'cache: invalidation deferred until Redis is back',
    );
    this.#scheduleRetry();
  }

  /** Replays what is pending as one invalidation; kept for the next try if it does not get through. */
  async flush(): Promise<void> {
    if (this.#closed || !this.any) return;
    const inv: Invalidation = { keys: [...this.#keys], tags: [...this.#tags], all: this.#all };
    this.#keys.clear();
    this.#tags.clear();
    this.#all = false;
    this.#o.counters.pendingInvalidations = 0;
    if (!(await this.#o.replay(inv))) this.add(inv);
  }

  /** Stops retrying. */
  close(): void {
    this.#closed = true;
    this.#retryCancel?.();
    this.#retryCancel = undefined;
  }

  #scheduleRetry(): void {
    if (this.#retryCancel || this.#closed) return;
    this.#retryCancel = this.#o.clock.setTimer(RETRY_MS, () => {
      this.#retryCancel = undefined;
      void this.flush();
    });
  }
}
