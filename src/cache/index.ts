export {
  Cache,
  type CacheOptions,
  type CacheResult,
  type CacheSource,
  type EntryOptions,
  type GetOrSetOptions,
  type InvalidateOptions,
  type LeaseOptions,
  type Loader,
  type LoaderContext,
  type RedisLayerOptions,
  type RefreshRequest,
  redisClientOptions,
  type WarmItem,
} from './cache.js';
export type { BusMessage, Invalidation } from './cache-bus.js';
export { CacheCounters, type CacheMetricsSnapshot } from './cache-metrics.js';
export { CacheError, CacheErrorCode, type CacheErrorCodeValue } from './errors.js';
export { type L1Entry, MemoryStore, type MemoryStoreOptions } from './memory-store.js';
export {
  APICache,
  createMemoryCache,
  createMultiLevelCache,
  MultiLevelCache,
  type MultiLevelCacheOptions,
} from './multi-level-cache.js';
export { type RedisClient, RedisStore } from './redis-store.js';
export { decode, decodeEntry, encode, encodeEntry, type StoredEntry } from './serializer.js';
