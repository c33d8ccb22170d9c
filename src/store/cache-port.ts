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
