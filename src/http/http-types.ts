import type { Dispatcher } from 'undici';
import type { Clock, Logger } from '../core/index.js';
import type {
  AdaptiveConcurrencyOptions,
  Budget,
  CircuitBreaker,
  Cost,
  RetryBudget,
} from '../resilience/index.js';
import type { HttpAuth } from './auth.js';
import type { EndpointInfo, EndpointStrategy } from './endpoint-strategy.js';
import type { HttpErrorKind } from './errors.js';
import type { HttpTlsOptions } from './origin-pool.js';
import type { ArrayFormat, Params } from './params.js';
import type { ResponseCache } from './response-cache.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD';
export type ResponseType = 'auto' | 'json' | 'text' | 'bytes';
export type HttpHeaders = Record<string, string | string[] | undefined>;

export interface HttpResponse<T = unknown> {
  status: number;
  headers: HttpHeaders;
  /** Parsed JSON, text, or a Buffer (a Uint8Array) for audio and images. */
  data: T;
  requestId: string | undefined;
  timing: { totalMs: number; attempts: number };
  fromCache: boolean;
  /** Served from an expired cache entry because the service failed (stale-if-error). */
  stale: boolean;
}

/** What the response cache holds for one answer. */
export interface CachedResponse {
  status: number;
  headers: HttpHeaders;
  data: unknown;
  requestId: string | undefined;
  freshUntil: number;
}

export interface RequestOptions {
  params?: Params;
  /** JSON-able value, string, bytes, or FormData (multipart; the boundary is generated). */
  data?: unknown;
  headers?: Record<string, string>;
  /** Explicit cache key; wins over the computed one. */
  cacheKey?: string;
  /** Per-call override of the client's `enableCaching` (GET), or opt-in for POST. */
  useCache?: boolean;
  cacheTtlMs?: number;
  cacheTags?: readonly string[];
  /** false = never retry this call. */
  retryOnError?: boolean;
  maxRetries?: number;
  /** Sent as `Idempotency-Key`; makes POST/PATCH retryable. */
  idempotencyKey?: string;
  /** The caller vouches that repeating this POST/PATCH is harmless. */
  retrySafe?: boolean;
  responseType?: ResponseType;
  signal?: AbortSignal;
  /**
   * Overrides the client's deadline for this call: everything from the call to its last body byte
   * (cache read, budget waits, every attempt with its body, backoff) ends by then.
   */
  deadlineMs?: number;
  /**
   * The same as an absolute time (epoch ms on the client's clock); wins over `deadlineMs`. For work made
   * of several calls that shares one deadline (see `HttpClient.deadlineAt`).
   */
  deadlineAt?: number;
  /** Metric label and cost lookup (e.g. `search.list`); defaults to the endpoint path. */
  operation?: string;
  /** Estimated cost to reserve in the service's budget. */
  cost?: Cost;
}

/** Options of an `HttpClient`; every default is in `HTTP_DEFAULTS` (http-defaults.ts). */
export interface HttpClientOptions {
  /** Service name: metrics label, error messages, budget and breaker names. */
  service: string;
  /** The service's base URL; give it or `baseUrls`. */
  baseUrl?: string;
  /**
   * Several base URLs of the same API and account (an OpenAI-compatible primary and its fallback,
   * regional endpoints): each has its own pool and breaker, and `endpointStrategy` spreads the calls.
   * They share one credential, one budget and the path below the base URL. Replaces `baseUrl`.
   */
  baseUrls?: readonly string[];
  /** With `baseUrls`: `primary-first` (the first healthy one in the list) or `balanced` (round robin). */
  endpointStrategy?: EndpointStrategy;
  /**
   * With `baseUrls`: the breaker of each endpoint (default: a `CircuitBreaker` per endpoint with its
   * defaults and the client's clock). `breaker` applies to a single `baseUrl` only.
   */
  endpointBreaker?: (endpoint: EndpointInfo) => CircuitBreaker;
  auth?: HttpAuth;
  headers?: Record<string, string>;
  userAgent?: string;
  /**
   * Per-attempt inactivity timeout: the longest wait for the headers, and the longest silence between
   * two chunks of the body (undici `headersTimeout` / `bodyTimeout`). Not a bound on the attempt.
   */
  attemptTimeoutMs?: number;
  /**
   * Total time for a call, the bound a caller can count on: budget waits, every attempt (connection,
   * headers and the whole body, however slowly it arrives) and backoff.
   */
  deadlineMs?: number;
  /**
   * Largest response body read; a larger one ends the request with ERR_HTTP_RESPONSE_TOO_LARGE (not
   * retried), so one bad answer cannot take the process's memory.
   */
  maxResponseBytes?: number;
  maxRetries?: number;
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** Source of the backoff's jitter, a number in [0, 1) per retry. */
  random?: () => number;
  retryBudget?: RetryBudget;
  /** Connections to the `baseUrl` origin are the smaller of this and `maxConnectionsPerHost`. */
  maxConnections?: number;
  /** Connections per origin: to the `baseUrl` origin (with `maxConnections`) and to each other origin. */
  maxConnectionsPerHost?: number;
  keepAliveTimeoutMs?: number;
  /**
   * Negotiate HTTP/2 (ALPN) over https: one connection then carries up to `maxConcurrentStreams` calls,
   * POSTs included; a server that only speaks HTTP/1.1 gets one call per connection as before.
   */
  allowH2?: boolean;
  /** With `allowH2`: calls at once on one HTTP/2 connection; more open another connection. */
  maxConcurrentStreams?: number;
  /** TLS settings of the client's connections (`ca`: a private CA to trust besides the system's). */
  tls?: HttpTlsOptions;
  /** Calls allowed to wait beyond the connection count; past it a call fails at once (ERR_HTTP_QUEUE_FULL). */
  maxQueue?: number;
  /**
   * An adaptive concurrency limit per base URL (`AdaptiveConcurrency`, docs/http.md): attempts beyond it
   * wait for a permit (up to the call's deadline, then ERR_CONCURRENCY_LIMITED); the limit follows the
   * provider's latency and backs off on 429s, 503s and timeouts. `true` for its defaults. Off by default.
   */
  adaptiveConcurrency?: boolean | AdaptiveConcurrencyOptions;
  budget?: Budget;
  /** Cost of a call when the caller gave none (default 1 on every window). */
  costOf?: (method: HttpMethod, operation: string) => Cost;
  /** Actual cost read from a response (OpenAI usage, ElevenLabs `character-cost`). */
  actualCost?: (response: HttpResponse) => Cost | undefined;
  /** When a spent quota comes back (YouTube: next Pacific midnight). */
  quotaResetAt?: (now: number) => number;
  breaker?: CircuitBreaker;
  cache?: ResponseCache<CachedResponse>;
  enableCaching?: boolean;
  cacheTtlMs?: number;
  /** How long past its TTL a cached GET may still be served when the service fails. */
  staleIfErrorMs?: number;
  classifyError?: (body: unknown, status: number, headers: HttpHeaders) => HttpErrorKind | undefined;
  arrayFormat?: ArrayFormat;
  logger?: Logger;
  clock?: Clock;
  /** Replaces the built-in Pool (tests, proxies). */
  dispatcher?: Dispatcher;
}
