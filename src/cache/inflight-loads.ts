import type { Invalidation } from './cache-bus.js';
import type { CacheCounters } from './cache-metrics.js';
import type { CacheResult } from './cache-result.js';

/**
 * A load in progress, joined by concurrent misses of its key. `tags` lets an invalidation detach it;
 * `refresh` marks a write-through refresh (its waiters are counted apart, see `writeThroughWaits`).
 */
export interface Inflight {
  promise: Promise<CacheResult<unknown>>;
  tags: readonly string[];
  refresh: boolean;
}

/**
 * Coalescing: the loads running in this process, one per key, which concurrent misses of the key join
 * instead of loading again.
 */
export class InflightLoads {
  readonly #loads = new Map<string, Inflight>();
  readonly #counters: CacheCounters;
  #settled = 0;

  constructor(counters: CacheCounters) {
    this.#counters = counters;
  }

  /** Loads finished so far: a miss read before one finished may be outdated. */
  get settled(): number {
    return this.#settled;
  }

  get size(): number {
    return this.#loads.size;
  }

  get(key: string): Inflight | undefined {
    return this.#loads.get(key);
  }

  has(key: string): boolean {
    return this.#loads.has(key);
  }

  /**
   * Registers `promise` as the load of `key` until it settles. It replaces a load already registered:
   * later readers join the newest.
   */
  add(key: string, promise: Promise<CacheResult<unknown>>, tags: readonly string[], refresh: boolean): void {
    this.#loads.set(key, { promise, tags, refresh });
    const settled = (): void => {
      this.#settled++;
      if (this.#loads.get(key)?.promise === promise) this.#loads.delete(key);
    };
    promise.then(settled, settled);
  }

  /** A miss that waits for the load already running for its key. */
  join(running: Inflight): Promise<CacheResult<unknown>> {
    this.#counters.coalesced++;
    if (running.refresh) this.#counters.writeThroughWaits++;
    return running.promise;
  }

  /**
   * Loads running for the invalidated keys or tags keep serving the callers that already wait for them
   * (their reads began before the invalidation finished), but no later reader may join them: they may
   * have read the database before the write committed. Later readers start a load of their own.
   */
  detach(inv: Invalidation): void {
    if (inv.all) {
      this.#loads.clear();
      return;
    }
    for (const k of inv.keys) this.#loads.delete(k);
    if (inv.tags.length === 0) return;
    for (const [k, load] of this.#loads) {
      if (load.tags.some((t) => inv.tags.includes(t))) this.#loads.delete(k);
    }
  }

  /** Detaches every load (an invalidation may have been missed: any of them may hold an old value). */
  clear(): void {
    this.#loads.clear();
  }
}
