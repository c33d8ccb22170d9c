export { type APIConfig, clientOptionsFromApiConfig } from './api-config.js';
export {
  ApiMetricsCollector,
  type EndpointMetrics,
  httpChannels,
  type OriginMetrics,
  type ServiceMetrics,
} from './api-metrics-collector.js';
export { authSecret, type HttpAuth } from './auth.js';
export type { EndpointInfo, EndpointStrategy } from './endpoint-strategy.js';
export {
  errorForStatus,
  HttpAbortedError,
  HttpBadRequestError,
  HttpCircuitOpenError,
  HttpConflictError,
  HttpError,
  HttpErrorCode,
  type HttpErrorInit,
  type HttpErrorKind,
  HttpForbiddenError,
  HttpInvalidResponseError,
  HttpNetworkError,
  HttpNotFoundError,
  HttpQueueFullError,
  HttpQuotaExhaustedError,
  HttpRateLimitedError,
  HttpResponseTooLargeError,
  HttpServerError,
  HttpStatusError,
  HttpTimeoutError,
  HttpUnauthorizedError,
  HttpUnprocessableError,
  kindForStatus,
} from './errors.js';
export { HttpClient } from './http-client.js';
export { HTTP_DEFAULTS } from './http-defaults.js';
export type {
  CachedResponse,
  HttpClientOptions,
  HttpHeaders,
  HttpMethod,
  HttpResponse,
  RequestOptions,
  ResponseType,
} from './http-types.js';
export type { HttpTlsOptions } from './origin-pool.js';
export { type ArrayFormat, encodeParams, type Params, type ParamValue } from './params.js';
export {
  type CacheSetOptions,
  MemoryResponseCache,
  type MemoryResponseCacheOptions,
  type ResponseCache,
} from './response-cache.js';
