export { APICache } from './api-cache.js';
export { Cache } from './cache.js';
export type { CacheMetricsSnapshot } from './cache-metrics.js';
export type {
  CacheOptions,
  EntryOptions,
  GetOrSetOptions,
  InvalidateOptions,
  LeaseOptions,
  RedisLayerOptions,
  RefreshAheadOptions,
  RefreshRequest,
  WarmFromHistoryOptions,
  WarmItem,
  WarmReport,
} from './cache-options.js';
export type { CacheResult, CacheSource } from './cache-result.js';
export type { CacheWarmer } from './cache-warmers.js';
export { CacheError, CacheErrorCode, type CacheErrorCodeValue } from './errors.js';
export type { HotKey, HotKeyOptions } from './hot-keys.js';
export type { Loader, LoaderContext } from './loader.js';
export { createMemoryCache } from './memory-cache.js';
export type { MemoryStoreOptions } from './memory-store.js';
export { createMultiLevelCache, MultiLevelCache, type MultiLevelCacheOptions } from './multi-level-cache.js';
export { type RedisClient, redisClientOptions } from './redis-client.js';
export {
  createRedisClient,
  isClusterClient,
  parseRedisUrl,
  type RedisNodeAddress,
  type RedisTarget,
  redisEndpoints,
  redisUrlPassword,
} from './redis-connection.js';
