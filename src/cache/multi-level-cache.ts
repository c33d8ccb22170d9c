import { Cache } from './cache.js';
import type { CacheOptions, RedisLayerOptions } from './cache-options.js';
import type { MemoryStoreOptions } from './memory-store.js';

export interface MultiLevelCacheOptions extends Omit<CacheOptions, 'redis' | 'l1'> {
  redis: RedisLayerOptions;
  /** L1 bounds (default `{ maxEntries: 10_000 }`); a multi-level cache always has an L1. */
  l1?: MemoryStoreOptions;
}

/** L1 in process plus L2 in Redis, with the bus: a `Cache` that requires Redis and an L1. */
export class MultiLevelCache extends Cache {
  constructor(options: MultiLevelCacheOptions) {
    super({ ...options, l1: options.l1 ?? {} });
  }
}

/** L1 + L2 + bus. */
export function createMultiLevelCache(options: MultiLevelCacheOptions): MultiLevelCache {
  return new MultiLevelCache(options);
}
