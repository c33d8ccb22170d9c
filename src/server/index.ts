export {
  createGateway,
  type Gateway,
  type GatewayOptions,
  type GatewayVendorConfig,
} from './create-gateway.js';
export { createServer, type OpusServer, type RedisPinger, type ServerOptions } from './create-server.js';
export { ServerError, ServerErrorCode } from './errors.js';
export { GATEWAY_ROOT_URLS, type GatewayVendorName, gatewaySandboxRoots } from './gateway-vendors.js';
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
export { type RunningService, type ServeConfig, type ServeGatewayConfig, serve } from './serve.js';
export { createServerLogger, type ServerLoggerOptions } from './server-logger.js';
export { openServiceCache, type ServiceCache, type ServiceCacheOptions } from './service-cache.js';
