import type { z } from 'zod';
import { type Clock, InvalidArgumentError, type Logger } from '../core/index.js';
import type {
  EndpointStrategy,
  HttpClient,
  HttpMethod,
  HttpResponse,
  HttpTlsOptions,
  RequestOptions,
} from '../http/index.js';
import type { AdaptiveConcurrencyOptions } from '../resilience/index.js';
import { ApiResponseShapeError } from './errors.js';

/** Options every client method accepts as its last argument. */
export interface CallOptions {
  signal?: AbortSignal;
  /**
   * Deadline of the method call (ms): every request it makes, their retries, budget waits and response
   * bodies included, ends by then with ERR_HTTP_TIMEOUT. Without it each request has the client's
   * `deadlineMs`.
   */
  deadlineMs?: number;
  /** The same as an absolute time (epoch ms on the client's clock); wins over `deadlineMs`. */
  deadlineAt?: number;
  /** Retries after the first attempt; 0 = never retry. */
  retries?: number;
  /** Read and fill the response cache (GET; the cache must be configured), optionally with its own TTL. */
  cache?: boolean | { ttlMs: number };
}

/** The settings every vendor client shares (the HTTP layer's knobs, minus service-specific ones). */
export interface VendorHttpOptions {
  /** The API's base URL (default: the vendor's public one). */
  baseUrl?: string;
  /**
   * Several base URLs of the same API and account instead of `baseUrl` (a primary and a fallback,
   * regional endpoints): each has its own pool and breaker; the budget stays one (docs/http.md, "Several
   * endpoints").
   */
  baseUrls?: readonly string[];
  /** With `baseUrls`: `primary-first` (default) or `balanced`. */
  endpointStrategy?: EndpointStrategy;
  /** Negotiate HTTP/2 with the API (docs/http.md, "HTTP/2"). */
  allowH2?: boolean;
  /** With `allowH2`: calls at once on one connection (default 100). */
  maxConcurrentStreams?: number;
  /** TLS settings (`ca`: a private CA to trust, e.g. a corporate gateway's). */
  tls?: HttpTlsOptions;
  /** A concurrency limit per base URL that follows the API's latency and 429s (docs/http.md, "Adaptive concurrency"). */
  adaptiveConcurrency?: boolean | AdaptiveConcurrencyOptions;
  /** Per-attempt inactivity timeout (ms): the wait for headers, and any silence within a body. */
  attemptTimeoutMs?: number;
  /** Default deadline per request (ms), body included; a method's `deadlineMs` overrides it. */
  deadlineMs?: number;
  maxRetries?: number;
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  maxConnections?: number;
  userAgent?: string;
  headers?: Record<string, string>;
  logger?: Logger;
  clock?: Clock;
}

/**
 * Maps per-call options onto the HTTP layer's request options. Throws InvalidArgumentError for a
 * `timeoutMs` (0.1's name): the whole call's bound is `deadlineMs`, the per-attempt one a client option.
 */
export function requestOptions(call: CallOptions | undefined, extra: RequestOptions = {}): RequestOptions {
  const out: RequestOptions = { ...extra };
  if (!call) return out;
  if ('timeoutMs' in call) {
    throw new InvalidArgumentError(
      '`timeoutMs` is not a per-call option; use `deadlineMs` (the whole call, retries included)',
    );
  }
  if (call.signal) out.signal = call.signal;
  if (call.deadlineAt !== undefined) out.deadlineAt = call.deadlineAt;
  else if (call.deadlineMs !== undefined) out.deadlineMs = call.deadlineMs;
  if (call.retries !== undefined) {
    out.maxRetries = call.retries;
    if (call.retries === 0) out.retryOnError = false;
  }
  if (call.cache !== undefined) {
    out.useCache = call.cache !== false;
    if (typeof call.cache === 'object') out.cacheTtlMs = call.cache.ttlMs;
  }
  return out;
}

/**
 * For a method that makes several requests: turns the caller's deadline into one absolute time that
 * every request shares, so the method as a whole ends by it. Without a deadline from the caller, each
 * request keeps the client's own.
 */
export function withDeadline<T extends CallOptions>(http: HttpClient, call: T): T;
export function withDeadline<T extends CallOptions>(http: HttpClient, call: T | undefined): T | undefined;
export function withDeadline<T extends CallOptions>(http: HttpClient, call: T | undefined): T | undefined {
  if (!call || call.deadlineAt !== undefined || call.deadlineMs === undefined) return call;
  return { ...call, deadlineAt: http.deadlineAt(call.deadlineMs) };
}

/** Validates `data` at the boundary: a typed shape error naming the field and the endpoint. */
export function parseShape<S extends z.ZodType>(
  schema: S,
  data: unknown,
  service: string,
  endpoint: string,
): z.output<S> {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue ? issue.path.map(String).join('.') : '';
  throw new ApiResponseShapeError(service, endpoint, field, issue?.message ?? 'invalid', {
    cause: result.error,
  });
}

/**
 * A JSON call whose body is read as text and parsed here, so a truncated or non-JSON 2xx body becomes a
 * typed ERR_API_RESPONSE_SHAPE instead of a bare SyntaxError. Such a garbled body is a transport fault:
 * a call that is safe to repeat (GET, or marked retrySafe) is sent again, within its retry count.
 */
export async function requestJson<S extends z.ZodType>(
  http: HttpClient,
  method: HttpMethod,
  path: string,
  schema: S,
  options: RequestOptions,
): Promise<{ value: z.output<S>; response: HttpResponse<string> }> {
  const repeatable = method === 'GET' || options.retrySafe === true || options.idempotencyKey !== undefined;
  const budget = options.retryOnError === false || !repeatable ? 0 : (options.maxRetries ?? 2);
  // A repeat shares the first request's deadline: the call as a whole ends by it.
  const deadlineAt = options.deadlineAt ?? http.deadlineAt(options.deadlineMs);
  let current = options;
  for (let attempt = 0; ; attempt++) {
    try {
      return await requestJsonOnce(http, method, path, schema, current);
    } catch (error) {
      if (!(error instanceof ApiResponseShapeError && error.transient) || attempt >= budget) throw error;
      current = { ...options, deadlineAt };
    }
  }
}

async function requestJsonOnce<S extends z.ZodType>(
  http: HttpClient,
  method: HttpMethod,
  path: string,
  schema: S,
  options: RequestOptions,
): Promise<{ value: z.output<S>; response: HttpResponse<string> }> {
  const response = await http.makeRequest<string>(method, path, { ...options, responseType: 'text' });
  const endpoint = options.operation ?? path;
  let parsed: unknown;
  // A cached entry holds whatever form was stored.
  if (typeof response.data !== 'string') parsed = response.data;
  else {
    try {
      parsed = response.data.length === 0 ? undefined : JSON.parse(response.data);
    } catch (error) {
      throw new ApiResponseShapeError(http.service, endpoint, '', 'body is not valid JSON', {
        cause: error,
        garbled: true,
      });
    }
  }
  return { value: parseShape(schema, parsed, http.service, endpoint), response };
}

export function headerValue(headers: HttpResponse['headers'], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Copies only the defined entries (exactOptionalPropertyTypes forbids explicit undefined). */
export function defined<T extends Record<string, unknown>>(
  value: T,
): { [K in keyof T]?: Exclude<T[K], undefined> } {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = v;
  return out as { [K in keyof T]?: Exclude<T[K], undefined> };
}
