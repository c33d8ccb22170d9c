import type { Cache } from '../cache/index.js';
import type { CachedResponse, CacheSetOptions, ResponseCache } from '../http/index.js';

/**
 * The application's two-level cache (in-process L1 + Redis L2 with cross-process invalidation) as the
 * HTTP layer's response cache, so API responses are shared by every process using the same namespace.
 */
export function responseCacheFrom(cache: Cache): ResponseCache<CachedResponse> {
  return {
    get: (key, signal) => cache.get<CachedResponse>(key, signal ? { signal } : undefined),
    set: (key, value, options: CacheSetOptions) =>
      cache.set(key, value, { ttlMs: options.ttlMs, ...(options.tags ? { tags: options.tags } : {}) }),
    delete: (key) => cache.delete(key),
    invalidateTag: (tag) => cache.deleteByTag(tag),
  };
}
