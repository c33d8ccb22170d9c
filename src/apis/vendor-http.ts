import type { Dispatcher } from 'undici';
import { ConfigError } from '../core/index.js';
import {
  type CachedResponse,
  type EndpointInfo,
  HttpClient,
  type HttpClientOptions,
  type HttpErrorKind,
  type ResponseCache,
} from '../http/index.js';
import type { Budget, CircuitBreaker, RetryBudget } from '../resilience/index.js';
import { defined, type VendorHttpOptions } from './shared.js';

/** Shared plumbing a vendor client may be given: a budget or breaker to share, a cache, a transport. */
export interface VendorPlumbing {
  budget?: Budget;
  breaker?: CircuitBreaker;
  /** With `baseUrls`: the breaker of each endpoint (default: one `CircuitBreaker` each, on `clock`). */
  endpointBreaker?: (endpoint: EndpointInfo) => CircuitBreaker;
  /** Caps retries to a share of calls (default: the HTTP layer's 10 + 20 % per 10 s). */
  retryBudget?: RetryBudget;
  cache?: ResponseCache<CachedResponse>;
  /** Cache GET responses by default (per-call `cache` overrides); default false. */
  enableCaching?: boolean;
  cacheTtlMs?: number;
  /** Replaces the built-in connection pool (proxies, tests recording traffic). */
  dispatcher?: Dispatcher;
}

/** Builds the HttpClient of one vendor from the common options and the vendor's own hooks. */
export function vendorHttpClient(
  base: VendorHttpOptions & VendorPlumbing,
  vendor: Pick<HttpClientOptions, 'service' | 'auth'> & { baseUrl: string } & Partial<HttpClientOptions>,
  classifyError?: (body: unknown, status: number) => HttpErrorKind | undefined,
): HttpClient {
  const { baseUrl, ...own } = vendor;
  if (base.baseUrls !== undefined && base.baseUrl !== undefined) {
    throw new ConfigError(`${vendor.service}: give baseUrl or baseUrls, not both`);
  }
  return new HttpClient({
    ...defined({
      attemptTimeoutMs: base.attemptTimeoutMs,
      deadlineMs: base.deadlineMs,
      maxRetries: base.maxRetries,
      retryDelayMs: base.retryDelayMs,
      maxRetryDelayMs: base.maxRetryDelayMs,
      maxConnections: base.maxConnections,
      userAgent: base.userAgent,
      headers: base.headers,
      logger: base.logger,
      clock: base.clock,
      budget: base.budget,
      breaker: base.breaker,
      retryBudget: base.retryBudget,
      cache: base.cache,
      enableCaching: base.enableCaching,
      cacheTtlMs: base.cacheTtlMs,
      dispatcher: base.dispatcher,
      endpointStrategy: base.endpointStrategy,
      endpointBreaker: base.endpointBreaker,
      allowH2: base.allowH2,
      maxConcurrentStreams: base.maxConcurrentStreams,
      adaptiveConcurrency: base.adaptiveConcurrency ?? VENDOR_ADAPTIVE_CONCURRENCY,
      tls: base.tls,
      classifyError,
    }),
    ...own,
    // The vendor's default base URL unless the caller listed several.
    ...(base.baseUrls === undefined ? { baseUrl } : { baseUrls: base.baseUrls }),
  });
}

/**
 * A vendor client's concurrency limit when its options say nothing: on, with the gradient algorithm,
 * starting at the connection pool's default size, so it only ever holds calls back on evidence (the
 * latency rising past its long mean, or 429/503s). docs/http.md "Adaptive concurrency" has the figures.
 */
const VENDOR_ADAPTIVE_CONCURRENCY = { initialLimit: 100 } as const;
