import { Cache } from './cache.js';
import type { CacheOptions } from './cache-options.js';

/**
 * An in-process LRU for API responses: a memory-only `Cache` on the namespace 'api', holding at most
 * `maxSize` entries, each fresh for `ttlMs` unless a call gives its own (default 300,000 ms). Pass `redis`
 * in `options` to share it across processes.
 */
export class APICache extends Cache {
  constructor(maxSize = 1_000, ttlMs = 300_000, options: Omit<CacheOptions, 'defaultTtlMs'> = {}) {
    super({
      namespace: 'api',
      ...options,
      l1: options.l1 === false ? false : { ...(options.l1 ?? {}), maxEntries: maxSize },
      defaultTtlMs: ttlMs,
    });
  }
}
