import { LRUCache } from 'lru-cache';

export interface CacheSetOptions {
  ttlMs: number;
  tags?: readonly string[];
}

/**
 * What the HTTP client needs from a cache. The application's two-level cache is adapted to this; the
 * in-memory one below serves tests and single-process use.
 */
export interface ResponseCache<T = unknown> {
  get(key: string, signal?: AbortSignal): Promise<T | undefined>;
  set(key: string, value: T, options: CacheSetOptions): Promise<void>;
  delete?(key: string): Promise<void>;
  invalidateTag?(tag: string): Promise<void>;
}

export interface MemoryResponseCacheOptions {
  /** Entries kept at most (least recently used go first). */
  max?: number;
}

/** An lru-cache with per-entry TTL and tag invalidation. */
export class MemoryResponseCache<T extends object = object> implements ResponseCache<T> {
  readonly #lru: LRUCache<string, T>;
  readonly #tags = new Map<string, Set<string>>();

  constructor(options: MemoryResponseCacheOptions = {}) {
    this.#lru = new LRUCache<string, T>({
      max: options.max ?? 1000,
      ttlAutopurge: false,
      dispose: (_value, key) => {
        for (const keys of this.#tags.values()) keys.delete(key);
      },
    });
  }

  get(key: string): Promise<T | undefined> {
    return Promise.resolve(this.#lru.get(key));
  }

  set(key: string, value: T, options: CacheSetOptions): Promise<void> {
    this.#lru.set(key, value, { ttl: Math.max(1, options.ttlMs) });
    for (const tag of options.tags ?? []) {
      let keys = this.#tags.get(tag);
      if (!keys) {
        keys = new Set();
        this.#tags.set(tag, keys);
      }
      keys.add(key);
    }
    return Promise.resolve();
  }

  delete(key: string): Promise<void> {
    this.#lru.delete(key);
    return Promise.resolve();
  }

  invalidateTag(tag: string): Promise<void> {
    for (const key of this.#tags.get(tag) ?? []) this.#lru.delete(key);
    this.#tags.delete(tag);
    return Promise.resolve();
  }

  get size(): number {
    return this.#lru.size;
  }
}
