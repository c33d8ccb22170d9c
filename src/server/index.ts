export { createServer, type OpusServer, type RedisPinger, type ServerOptions } from './create-server.js';
export { ServerError, ServerErrorCode } from './errors.js';
export {
  type CacheMetricsSource,
  createMetricsRegistry,
  type DbMetricsSource,
  type HttpMetricsSource,
  type MetricsRegistry,
  type MetricsRegistryOptions,
  type MetricsServer,
  type PipelineStageMessage,
  type QueueCountsSource,
  serveMetrics,
} from './metrics-registry.js';
export { type RunningService, type ServeConfig, serve } from './serve.js';
export { createServerLogger, type ServerLoggerOptions } from './server-logger.js';
export { openServiceCache, type ServiceCache, type ServiceCacheOptions } from './service-cache.js';
