/**
 * What the store needs from a cache (the cache layer's `Cache` satisfies it): reads through
 * `getOrSet` with tags, writes invalidate tags after COMMIT. With `inL1`, and an `invalidateTags` that
 * honours `refresh` (or an `invalidateAndReplace`), the store also refreshes a written video's entry
 * (write-through, see VideoStoreOptions.writeThrough). `ttlMs` is the cache's own option name.
 */
export interface StoreCache {
  getOrSet<T>(
    key: string,
    loader: () => Promise<T>,
    options: { tags: readonly string[]; ttlMs?: number },
  ): Promise<T>;
  invalidateTags(tags: readonly string[], options?: { refresh?: StoreRefresh }): Promise<unknown>;
  /** Whether this process holds `key` locally (L1), without I/O: the "is it read here" hint. */
  inL1?(key: string): boolean;
  /**
   * Invalidates `tags` and, in the same step, stores `replace.loader`'s row under `replace.key` (read after
   * COMMIT, guarded by generations), so readers never find the entry missing. Preferred over
   * `invalidateTags(tags, { refresh })` when present; it falls back to that itself and never rejects.
   */
  invalidateAndReplace?(tags: readonly string[], replace: StoreRefresh): Promise<unknown>;
  /** How keys starting with `prefix` are loaded again when the cache warms up (the cache's `registerWarmer`). */
  registerWarmer?(prefix: string, warmer: StoreWarmer): void;
}

/** Loads the store's cached reads again from a recorded key (see the cache's `CacheWarmer`). */
export interface StoreWarmer {
  itemFor(key: string): StoreWarmItem | undefined;
  seedKeys?(limit: number, signal: AbortSignal): Promise<readonly string[]>;
}

/** A cached read of the store: its key, loader and entry options exactly as the read uses them. */
export interface StoreWarmItem {
  key: string;
  loader: (context: { signal: AbortSignal }) => Promise<unknown>;
  options: { tags: readonly string[]; ttlMs?: number };
}

/**
 * A write-through refresh: once the invalidation has moved the generations, load `key` again and store
 * it as a miss would (`options.ttlMs`). `invalidateTags` resolves after it; it never fails
 * the write.
 */
export interface StoreRefresh {
  key: string;
  loader: () => Promise<unknown>;
  options: { tags: readonly string[]; ttlMs?: number };
}
