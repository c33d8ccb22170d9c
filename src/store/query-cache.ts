import type { Queryable } from '../db/types.js';
import type { StoreCache, StoreRefresh, StoreWarmer, StoreWarmItem } from './cache-port.js';
import type { StoreSchema } from './schema.js';

/** The cache key of one video, also the tag every write to that video invalidates. */
export function videoKey(id: string): string {
  return `video:${id}`;
}

/**
 * The store's use of its query-result cache: reads through it, invalidation once a write is durable,
 * and the write-through refresh of a written video. A store and the stores `with()` derives from it
 * share one. Without a cache, reads just load and writes invalidate nothing.
 */
export class QueryCache {
  readonly #cache: StoreCache | undefined;
  readonly #ttlMs: number;
  /** Reads a video again for a write-through refresh; undefined when write-through is off. */
  readonly #reloadVideo: ((id: string) => Promise<unknown>) | undefined;

  /**
   * `reloadVideo` must read from the Database, never from a transaction: a refresh runs after COMMIT.
   * It is used only when the cache can tell what it holds locally (`inL1`).
   */
  constructor(
    cache: StoreCache | undefined,
    ttlMs: number,
    reloadVideo: ((id: string) => Promise<unknown>) | undefined,
  ) {
    this.#cache = cache;
    this.#ttlMs = ttlMs;
    this.#reloadVideo = cache?.inL1 === undefined ? undefined : reloadVideo;
  }

  /**
   * `loader`'s result through the cache under `key`, tagged with `tags`. Reads on a transaction bypass
   * the cache: they may see the transaction's own uncommitted writes.
   */
  read<T>(
    q: Queryable<StoreSchema>,
    key: string,
    tags: readonly string[],
    loader: () => Promise<T>,
  ): Promise<T> {
    if (this.#cache === undefined || q.inTransaction) return loader();
    return this.#cache.getOrSet(key, loader, { tags, ttlMs: this.#ttlMs });
  }

  /** The warm-up of a read `read(q, key, tags, loader)` would make: same key, tags and lifetime. */
  warmItem(
    key: string,
    tags: readonly string[],
    loader: (signal: AbortSignal) => Promise<unknown>,
  ): StoreWarmItem {
    return { key, loader: ({ signal }) => loader(signal), options: { tags, ttlMs: this.#ttlMs } };
  }

  /** Registers the warmer of the keys starting with `prefix`, when the cache warms up (else nothing). */
  registerWarmer(prefix: string, warmer: StoreWarmer): void {
    this.#cache?.registerWarmer?.(prefix, warmer);
  }

  /**
   * Invalidates `tags` through `q.afterCommit`, so a rolled-back write never evicts and a committed one
   * always does: now (the write awaits it) outside a transaction, after COMMIT inside one. `videoId`: a
   * single-video write whose row is refreshed in the cache as well (write-through), if this process
   * reads that video.
   */
  invalidate(
    q: Queryable<StoreSchema>,
    tags: readonly string[],
    videoId?: string,
  ): Promise<void> | undefined {
    const cache = this.#cache;
    if (cache === undefined) return undefined;
    const reload = videoId === undefined ? undefined : this.#reloadVideo;
    return q.afterCommit(async () => {
      const key = videoKey(videoId!);
      // Asked before the invalidation drops the entry: only a video read here is worth a database read.
      if (reload === undefined || !cache.inL1!(key)) {
        await cache.invalidateTags(tags);
        return;
      }
      // The row is read again from the database after COMMIT, never taken from the write's UPDATE: two
      // writers whose invalidations land in the opposite order of their commits would leave the older
      // row cached. invalidateAndReplace reads it between a generation snapshot and the invalidation,
      // and swaps it in with the invalidation itself (one Redis script), so readers never find the entry
      // missing; a newer write makes the script refuse or deletes the entry after. Without it, the
      // refresh starts once the invalidation has bumped the generations: an ordinary guarded load that
      // readers here wait for. The write waits for either, so when it resolves no work of it is left
      // running: its spans have ended, close() has nothing to wait for, and a burst of writes cannot
      // pile up background database reads. Neither fails the write: the cache logs and counts its errors.
      const refresh: StoreRefresh = {
        key,
        loader: () => reload(videoId!),
        options: { tags: [key], ttlMs: this.#ttlMs },
      };
      if (cache.invalidateAndReplace) await cache.invalidateAndReplace(tags, refresh);
      else await cache.invalidateTags(tags, { refresh });
    });
  }
}
