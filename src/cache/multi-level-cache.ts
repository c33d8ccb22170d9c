import type { Clock, Logger } from '../core/index.js';
import { Cache, type CacheOptions, type RedisLayerOptions } from './cache.js';
import type { MemoryStoreOptions } from './memory-store.js';

/**
 * The seed's APICache(maxSize, ttl): an in-process LRU for API responses. `ttlSeconds` is in seconds as in
 * the seed (default 300). It is a memory-only `Cache`; pass `redis` in `options` to share it across processes.
 */
export class APICache extends Cache {
  constructor(maxSize = 1_000, ttlSeconds = 300, options: Omit<CacheOptions, 'defaultTtl'> = {}) {
    super({
      namespace: 'api',
      ...options,
      l1: options.l1 === false ? false : { ...(options.l1 ?? {}), maxEntries: maxSize },
      defaultTtl: ttlSeconds * 1_000,
    });
  }
}

export interface MultiLevelCacheOptions {
  redis: RedisLayerOptions;
  namespace?: string;
  l1?: MemoryStoreOptions;
  /** ms, default 300,000. */
  defaultTtl?: number;
  /** ms, default 0. */
  defaultGrace?: number;
  clock?: Clock;
  logger?: Logger;
}

/** The seed's MultiLevelCache: L1 in process plus L2 in Redis, with the bus. A `Cache` that requires Redis. */
export class MultiLevelCache extends Cache {
  constructor(options: MultiLevelCacheOptions) {
    super({ ...options, l1: options.l1 ?? {} });
  }
}

/** A memory-only cache (L1 alone). */
export function createMemoryCache(options: Omit<CacheOptions, 'redis'> = {}): Cache {
  return new Cache(options);
}

/** L1 + L2 + bus. */
export function createMultiLevelCache(options: MultiLevelCacheOptions): MultiLevelCache {
  return new MultiLevelCache(options);
}
