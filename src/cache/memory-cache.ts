import { Cache } from './cache.js';
import type { CacheOptions } from './cache-options.js';

/** A memory-only cache (L1 alone). */
export function createMemoryCache(options: Omit<CacheOptions, 'redis'> = {}): Cache {
  return new Cache(options);
}
