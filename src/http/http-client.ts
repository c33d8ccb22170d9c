import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { Dispatcher } from 'undici';
import { Agent, Pool } from 'undici';
import {
  AbortedError,
  type Clock,
  ClosedError,
  ConfigError,
  fingerprint,
  InvalidArgumentError,
  type Logger,
  OpusError,
  redactSecrets,
  silentLogger,
  systemClock,
} from '../core/index.js';
import { endSpan, NO_SPAN, startSpan, tracingActive } from '../core/tracing.js';
import {
  type BreakerPermit,
  Budget,
  backoffDelay,
  type CircuitBreaker,
  CircuitOpenError,
  type Cost,
  parseDuration,
  parseRetryAfter,
  QuotaExhaustedError,
  RateLimitedError,
  type Reservation,
  RetryBudget,
} from '../resilience/index.js';
import { ApiMetricsCollector, httpChannels, type ServiceMetrics } from './api-metrics-collector.js';
import { authSecret, type HttpAuth } from './auth.js';
import {
  BodyTooLargeError,
  type CollectedResponse,
  collectResponse,
  DeadlineExceededError,
  DeadlineWatch,
  utf8Text,
} from './collect-response.js';
import {
  errorForStatus,
  HttpAbortedError,
  HttpCircuitOpenError,
  HttpError,
  HttpErrorCode,
  type HttpErrorKind,
  HttpInvalidResponseError,
  HttpNetworkError,
  HttpQueueFullError,
  HttpQuotaExhaustedError,
  HttpRateLimitedError,
  HttpResponseTooLargeError,
  HttpTimeoutError,
} from './errors.js';
import { type ArrayFormat, encodeParams, type Params } from './params.js';
import type { ResponseCache } from './response-cache.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD';
export type ResponseType = 'auto' | 'json' | 'text' | 'bytes';
type Headers = Record<string, string | string[] | undefined>;

export interface HttpResponse<T = unknown> {
  status: number;
  headers: Headers;
  /** Parsed JSON, text, or a Buffer (a Uint8Array) for audio and images. */
  data: T;
  requestId: string | undefined;
  timing: { totalMs: number; attempts: number };
  fromCache: boolean;
  /** Served from an expired cache entry because the service failed (stale-if-error). */
  stale: boolean;
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

export interface HttpClientOptions {
  /** Service name: metrics label, error messages, budget and breaker names. */
  service: string;
  baseUrl: string;
  auth?: HttpAuth;
  headers?: Record<string, string>;
  userAgent?: string;
  /**
   * Per-attempt inactivity timeout: the longest wait for the headers, and the longest silence between
   * two chunks of the body (undici `headersTimeout` / `bodyTimeout`). Not a bound on the attempt.
   */
  timeoutMs?: number;
  /**
   * Total time for a call, the bound a caller can count on: budget waits, every attempt (connection,
   * headers and the whole body, however slowly it arrives) and backoff. Default 120 000.
   */
  deadlineMs?: number;
  /**
   * Largest response body read (default 64 MiB); a larger one ends the request with
   * ERR_HTTP_RESPONSE_TOO_LARGE (not retried), so one bad answer cannot take the process's memory.
   */
  maxResponseBytes?: number;
  maxRetries?: number;
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  retryBudget?: RetryBudget;
  maxConnections?: number;
  maxConnectionsPerHost?: number;
  keepAliveTimeoutMs?: number;
  allowH2?: boolean;
  /** Calls allowed to wait beyond the connection count; past it a call fails at once (ERR_HTTP_QUEUE_FULL). */
  maxQueue?: number;
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
  classifyError?: (body: unknown, status: number, headers: Headers) => HttpErrorKind | undefined;
  arrayFormat?: ArrayFormat;
  logger?: Logger;
  clock?: Clock;
  /** Replaces the built-in Pool (tests, proxies). */
  dispatcher?: Dispatcher;
}

/** The seed's APIConfig. Durations are in seconds, as in the seed. */
export interface APIConfig {
  baseUrl: string;
  apiKey?: string;
  timeout?: number;
  maxRetries?: number;
  retryDelay?: number;
  rateLimitPerMinute?: number;
  rateLimitPerHour?: number;
  enableCaching?: boolean;
  cacheTtl?: number;
  maxConnections?: number;
  maxConnectionsPerHost?: number;
  userAgent?: string;
  headers?: Record<string, string>;
}

export interface CachedResponse {
  status: number;
  headers: Headers;
  data: unknown;
  requestId: string | undefined;
  freshUntil: number;
}

/**
 * Maps the seed's APIConfig onto client options: auth defaults to a bearer token (pass `auth` in `extra`
 * for other schemes), rateLimitPerMinute/PerHour become an in-memory sliding-window budget.
 */
export function clientOptionsFromApiConfig(
  service: string,
  config: APIConfig,
  extra: Partial<HttpClientOptions> = {},
): HttpClientOptions {
  const s = (v: number | undefined): number | undefined => (v === undefined ? undefined : v * 1000);
  const options: HttpClientOptions = { service, baseUrl: config.baseUrl };
  if (config.apiKey) options.auth = { type: 'bearer', token: config.apiKey };
  const timeoutMs = s(config.timeout);
  if (timeoutMs !== undefined) options.timeoutMs = timeoutMs;
  if (config.maxRetries !== undefined) options.maxRetries = config.maxRetries;
  const retryDelayMs = s(config.retryDelay);
  if (retryDelayMs !== undefined) options.retryDelayMs = retryDelayMs;
  if (config.enableCaching !== undefined) options.enableCaching = config.enableCaching;
  const cacheTtlMs = s(config.cacheTtl);
  if (cacheTtlMs !== undefined) options.cacheTtlMs = cacheTtlMs;
  if (config.maxConnections !== undefined) options.maxConnections = config.maxConnections;
  if (config.maxConnectionsPerHost !== undefined)
    options.maxConnectionsPerHost = config.maxConnectionsPerHost;
  if (config.userAgent !== undefined) options.userAgent = config.userAgent;
  if (config.headers !== undefined) options.headers = config.headers;
  const windows = [];
  if (config.rateLimitPerMinute)
    windows.push({ name: 'minute', limit: config.rateLimitPerMinute, windowMs: 60_000 });
  if (config.rateLimitPerHour)
    windows.push({ name: 'hour', limit: config.rateLimitPerHour, windowMs: 3_600_000 });
  if (windows.length > 0) {
    options.budget = new Budget({ name: service, windows, ...(extra.clock ? { clock: extra.clock } : {}) });
  }
  return { ...options, ...extra };
}

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);
const brotli = promisify(zlib.brotliDecompress);

const DEFAULT_DEADLINE_MS = 120_000;

/** Errors where the request never left this machine, so repeating it cannot duplicate anything. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);
const TIMEOUTS = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'ETIMEDOUT',
]);

function firstHeader(headers: Headers, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * The provider's id for the request, from the first of the usual headers present. Read by literal
 * names: a keyed lookup per candidate showed in profiles (every answer takes this path).
 */
function requestIdOf(headers: Headers): string | undefined {
  const v =
    headers['x-request-id'] ||
    headers['request-id'] ||
    headers['x-goog-request-id'] ||
    headers['x-amzn-requestid'] ||
    headers['cf-ray'];
  const first = Array.isArray(v) ? v[0] : v;
  return first ? first.slice(0, 128) : undefined;
}

function errorCode(error: unknown): string | undefined {
  let e: unknown = error;
  for (let i = 0; i < 4 && e instanceof Error; i++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string') return code;
    e = e.cause;
  }
  return undefined;
}

interface Prepared {
  method: HttpMethod;
  origin: string;
  path: string;
  endpoint: string;
  operation: string;
  headers: Record<string, string>;
  body: string | Buffer | undefined;
  sameOrigin: boolean;
}

/**
 * The resilient client every API client builds on: an undici Pool per service origin, then (per call)
 * cache → queue bound → deadline → [breaker → budget → attempt → classify → retry]. One instance per
 * service and credential.
 */
export class HttpClient {
  readonly service: string;
  readonly metrics: ApiMetricsCollector;
  readonly #o: HttpClientOptions;
  /** `URL#origin` is a computed getter; read it once. */
  readonly #origin: string;
  readonly #basePath: string;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #dispatcher: Dispatcher;
  #otherOrigins: Agent | undefined;
  readonly #secret: string | undefined;
  readonly #secrets: string[];
  readonly #credentialPrint: string;
  readonly #defaultHeaders: Record<string, string>;
  readonly #authQuery: string;
  readonly #retryBudget: RetryBudget;
  readonly #inflight = new Map<string, Promise<HttpResponse>>();
  readonly #limit: number;
  readonly #timeoutMs: number;
  readonly #maxResponseBytes: number;
  readonly #deadlineMs: number;
  /** Ends every exchange at its call's deadline, body included, with one timer for the client. */
  readonly #watch = new DeadlineWatch();
  #pending = 0;
  #closed = false;
  readonly #remainingHeaders: Array<{ window: string; remaining: string; reset: string }>;

  constructor(options: HttpClientOptions) {
    if (!options.service) throw new ConfigError('HttpClient needs a service name');
    let base: URL;
    try {
      base = new URL(options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`);
    } catch (error) {
      throw new ConfigError(`Invalid baseUrl for ${options.service}`, { cause: error });
    }
    this.#o = options;
    this.service = options.service;
    this.#origin = base.origin;
    this.#basePath = base.pathname;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? silentLogger;
    this.#secret = authSecret(options.auth);
    this.#secrets = this.#secret ? [this.#secret] : [];
    this.#credentialPrint = this.#secret ? fingerprint(this.#secret) : 'anon';
    this.metrics = new ApiMetricsCollector(options.service);
    this.#retryBudget = options.retryBudget ?? new RetryBudget({ clock: this.#clock });
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#maxResponseBytes = options.maxResponseBytes ?? 64 * 1024 * 1024;
    this.#deadlineMs = options.deadlineMs ?? DEFAULT_DEADLINE_MS;
    const connections = Math.max(
      1,
      Math.min(options.maxConnections ?? 100, options.maxConnectionsPerHost ?? 100),
    );
    this.#limit = connections + (options.maxQueue ?? 1000);
    this.#dispatcher =
      options.dispatcher ??
      new Pool(base.origin, {
        connections,
        keepAliveTimeout: options.keepAliveTimeoutMs ?? 10_000,
        allowH2: options.allowH2 ?? false,
        // The per-attempt inactivity timeout lives on the pool; the deadline is the watch's.
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
      });
    this.#defaultHeaders = {
      'user-agent': options.userAgent ?? 'video-opusclip/0.1',
      'accept-encoding': 'gzip, deflate, br',
      ...lower(options.headers ?? {}),
    };
    const auth = options.auth;
    if (auth?.type === 'bearer') this.#defaultHeaders.authorization = `Bearer ${auth.token}`;
    if (auth?.type === 'header') this.#defaultHeaders[auth.name.toLowerCase()] = auth.value;
    this.#authQuery =
      auth?.type === 'query'
        ? `${encodeURIComponent(auth.name ?? 'key')}=${encodeURIComponent(auth.value)}`
        : '';
    this.#remainingHeaders = (options.budget?.windows ?? []).map((w) => ({
      window: w.name,
      remaining: `x-ratelimit-remaining-${w.name}`,
      reset: `x-ratelimit-reset-${w.name}`,
    }));
    const breaker = options.breaker;
    if (breaker) {
      breaker.onStateChange((state) => {
        this.#logger.info({ service: this.service, state }, 'circuit state changed');
        if (httpChannels.breaker.hasSubscribers)
          httpChannels.breaker.publish({ service: this.service, state });
      });
    }
  }

  get pending(): number {
    return this.#pending;
  }

  /**
   * The absolute deadline (epoch ms on the client's clock) of a call started now with `deadlineMs` (the
   * client's default when omitted): pass it as `deadlineAt` to every call of a multi-call operation so
   * that they share one bound.
   */
  deadlineAt(deadlineMs?: number): number {
    return this.#clock.now() + (deadlineMs ?? this.#deadlineMs);
  }

  get(endpoint: string, options: RequestOptions = {}): Promise<HttpResponse> {
    return this.makeRequest('GET', endpoint, options);
  }
  post(endpoint: string, options: RequestOptions = {}): Promise<HttpResponse> {
    return this.makeRequest('POST', endpoint, options);
  }
  put(endpoint: string, options: RequestOptions = {}): Promise<HttpResponse> {
    return this.makeRequest('PUT', endpoint, options);
  }
  patch(endpoint: string, options: RequestOptions = {}): Promise<HttpResponse> {
    return this.makeRequest('PATCH', endpoint, options);
  }
  delete(endpoint: string, options: RequestOptions = {}): Promise<HttpResponse> {
    return this.makeRequest('DELETE', endpoint, options);
  }

  /** The seed's makeRequest(method, endpoint, { params, data, headers, cacheKey, useCache, retryOnError, maxRetries }). */
  makeRequest<T = unknown>(
    method: HttpMethod,
    endpoint: string,
    options: RequestOptions = {},
  ): Promise<HttpResponse<T>> {
    if (this.#closed) {
      return Promise.reject(new ClosedError(`HttpClient ${this.service} is closed`));
    }
    let maybe: Prepared | Promise<Prepared>;
    try {
      maybe = this.#prepare(method, endpoint, options);
    } catch (error) {
      return Promise.reject(error);
    }
    // The uncached path returns #execute's promise directly: no extra async frame per call.
    if (!(maybe instanceof Promise) && this.#cacheKey(maybe, options) === undefined) {
      return this.#execute(maybe, options, undefined) as Promise<HttpResponse<T>>;
    }
    return this.#viaCache<T>(maybe, options);
  }

  async #viaCache<T>(maybe: Prepared | Promise<Prepared>, options: RequestOptions): Promise<HttpResponse<T>> {
    const prepared = await maybe;
    const cacheKey = this.#cacheKey(prepared, options);
    if (cacheKey === undefined) return (await this.#execute(prepared, options, undefined)) as HttpResponse<T>;

    const cache = this.#o.cache!;
    let cached: CachedResponse | undefined;
    try {
      cached = await cache.get(cacheKey, options.signal);
    } catch (error) {
      this.#logger.warn({ service: this.service, err: this.#safe(error) }, 'response cache read failed');
    }
    if (cached && cached.freshUntil > this.#clock.now()) {
      this.metrics.cache(prepared.operation, true);
      if (httpChannels.cache.hasSubscribers) httpChannels.cache.publish({ service: this.service, hit: true });
      return this.#fromCache(cached, false) as HttpResponse<T>;
    }
    // Identical calls in flight share one upstream request.
    let shared = this.#inflight.get(cacheKey);
    if (!shared) {
      this.metrics.cache(prepared.operation, false);
      shared = this.#execute(prepared, options, cached).then(async (response) => {
        if (!response.stale && response.status >= 200 && response.status < 300) {
          const ttlMs = options.cacheTtlMs ?? this.#o.cacheTtlMs ?? 300_000;
          const entry: CachedResponse = {
            status: response.status,
            headers: response.headers,
            data: response.data,
            requestId: response.requestId,
            freshUntil: this.#clock.now() + ttlMs,
          };
          try {
            await cache.set(cacheKey, entry, {
              ttlMs: ttlMs + (this.#o.staleIfErrorMs ?? 0),
              ...(options.cacheTags ? { tags: options.cacheTags } : {}),
            });
          } catch (error) {
            this.#logger.warn(
              { service: this.service, err: this.#safe(error) },
              'response cache write failed',
            );
          }
        }
        return response;
      });
      this.#inflight.set(cacheKey, shared);
      const clear = (): void => {
        this.#inflight.delete(cacheKey);
      };
      shared.then(clear, clear);
      return (await shared) as HttpResponse<T>;
    }
    this.metrics.cache(prepared.operation, true);
    return (await raceAbort(shared, options.signal, () =>
      this.#abortError(prepared, options.signal!),
    )) as HttpResponse<T>;
  }

  /** The seed's get_api_metrics(). */
  async getApiMetrics(): Promise<ServiceMetrics> {
    const breaker = this.#o.breaker;
    let quota: ServiceMetrics['quota'] = [];
    try {
      quota = (await this.#o.budget?.usage()) ?? [];
    } catch {
      // A metrics read must not fail because the budget store is down.
    }
    return this.metrics.snapshot({
      breakerState: breaker?.state ?? 'NONE',
      breakerTransitions: breaker?.transitions ?? 0,
      quota: quota.map(({ name, limit, used, remaining }) => ({ name, limit, used, remaining })),
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#watch.close();
    if (!this.#o.dispatcher) await this.#dispatcher.close();
    await this.#otherOrigins?.close();
  }

  #prepare(method: HttpMethod, endpoint: string, options: RequestOptions): Prepared | Promise<Prepared> {
    let origin = this.#origin;
    let pathname: string;
    let search = '';
    if (isAbsolute(endpoint)) {
      const url = new URL(endpoint);
      origin = url.origin;
      pathname = url.pathname;
      search = url.search.slice(1);
    } else {
      // Relative endpoints extend the base path; a plain concatenation avoids a URL parse per call.
      const rel = endpoint.charCodeAt(0) === 47 ? endpoint.replace(/^\/+/, '') : endpoint;
      const q = rel.indexOf('?');
      pathname = this.#basePath + (q < 0 ? rel : rel.slice(0, q));
      if (q >= 0) search = rel.slice(q + 1);
    }
    const sameOrigin = origin === this.#origin;
    const query = options.params ? encodeParams(options.params, this.#o.arrayFormat) : '';
    if (query) search = search ? `${search}&${query}` : query;
    // Credentials only ever travel to the configured origin.
    if (sameOrigin && this.#authQuery) search = search ? `${search}&${this.#authQuery}` : this.#authQuery;
    const path = search ? `${pathname}?${search}` : pathname;
    const data = options.data;
    // undici only reads the headers object, so a plain same-origin call shares the defaults (no copy per call).
    const shared = sameOrigin && !options.headers && !options.idempotencyKey && data == null;
    const headers: Record<string, string> = shared
      ? this.#defaultHeaders
      : sameOrigin
        ? { ...this.#defaultHeaders }
        : {
            'user-agent': this.#defaultHeaders['user-agent']!,
            'accept-encoding': this.#defaultHeaders['accept-encoding']!,
          };
    if (options.headers) Object.assign(headers, lower(options.headers));
    if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;
    const prepared: Prepared = {
      method,
      origin,
      path,
      endpoint: pathname,
      operation: options.operation ?? pathname,
      headers,
      body: undefined,
      sameOrigin,
    };
    if (data === undefined || data === null) return prepared;
    if (data instanceof FormData) {
      // Response serializes FormData as multipart with a generated boundary; buffered so retries can resend.
      const encoded = new Response(data);
      headers['content-type'] = encoded.headers.get('content-type')!;
      return encoded.arrayBuffer().then((buffer) => {
        prepared.body = Buffer.from(buffer);
        return prepared;
      });
    }
    if (typeof data === 'string') {
      prepared.body = data;
    } else if (data instanceof Uint8Array) {
      prepared.body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      headers['content-type'] ??= 'application/octet-stream';
    } else {
      prepared.body = JSON.stringify(data);
      headers['content-type'] ??= 'application/json';
    }
    return prepared;
  }

  #cacheKey(p: Prepared, options: RequestOptions): string | undefined {
    if (!this.#o.cache) return undefined;
    if (p.method === 'GET') {
      if (!(options.useCache ?? this.#o.enableCaching ?? false)) return undefined;
    } else if (p.method === 'POST') {
      if (options.useCache !== true) return undefined;
    } else {
      return undefined;
    }
    if (options.cacheKey) return options.cacheKey;
    // Path with sorted params (credential query param excluded) and a fingerprint, never the credential.
    const [pathname, search = ''] = p.path.split('?');
    const authName = this.#o.auth?.type === 'query' ? (this.#o.auth.name ?? 'key') : undefined;
    const params = new URLSearchParams(search);
    if (authName) params.delete(authName);
    params.sort();
    let key = `http:${this.service}:${p.method}:${p.origin}${pathname}?${params.toString()}:${this.#credentialPrint}`;
    if (p.method === 'POST')
      key += `:${createHash('sha256')
        .update(p.body ?? '')
        .digest('base64url')
        .slice(0, 22)}`;
    return key;
  }

  #fromCache(entry: CachedResponse, stale: boolean): HttpResponse {
    return {
      status: entry.status,
      headers: entry.headers,
      data: entry.data,
      requestId: entry.requestId,
      timing: { totalMs: 0, attempts: 0 },
      fromCache: true,
      stale,
    };
  }

  async #execute(
    p: Prepared,
    options: RequestOptions,
    stale: CachedResponse | undefined,
  ): Promise<HttpResponse> {
    if (this.#pending >= this.#limit) {
      const error = new HttpQueueFullError(`${this.service}: ${this.#pending} calls already pending`, {
        service: this.service,
        method: p.method,
        endpoint: p.endpoint,
      });
      this.metrics.failure(p.operation, error.code, 0);
      throw error;
    }
    this.#pending++;
    const started = performance.now();
    const span = tracingActive()
      ? startSpan(`http ${this.service} ${p.operation}`, {
          'http.request.method': p.method,
          'opusclip.service': this.service,
          'opusclip.operation': p.operation,
        })
      : NO_SPAN;
    this.metrics.request(p.operation);
    if (httpChannels.request.hasSubscribers) {
      httpChannels.request.publish({ service: this.service, method: p.method, endpoint: p.endpoint });
    }
    // No controller or timer per call: the deadline bounds every wait, and the client's one watch
    // ends each attempt's exchange when the deadline comes.
    const startedAt = this.#clock.now();
    const deadlineAt = options.deadlineAt ?? startedAt + (options.deadlineMs ?? this.#deadlineMs);
    const signal = options.signal;
    try {
      // The retry loop lives here rather than in its own async method: one async frame less per call.
      const maxRetries = options.retryOnError === false ? 0 : (options.maxRetries ?? this.#o.maxRetries ?? 3);
      const cost = options.cost ?? this.#o.costOf?.(p.method, p.operation) ?? 1;
      this.#retryBudget.recordCall();
      let response: HttpResponse;
      for (let attempt = 0; ; attempt++) {
        try {
          const now = attempt === 0 ? startedAt : this.#clock.now();
          response = await this.#attempt(p, options, signal, deadlineAt, cost, attempt, now);
          break;
        } catch (caught) {
          await this.#clock.sleep(
            this.#retryDelay(caught, p, options, attempt, maxRetries, deadlineAt),
            signal,
          );
        }
      }
      const ms = performance.now() - started;
      response.timing.totalMs = ms;
      this.metrics.success(p.operation, ms);
      span.setAttribute('http.response.status_code', response.status);
      endSpan(span);
      if (httpChannels.response.hasSubscribers) {
        httpChannels.response.publish({
          service: this.service,
          method: p.method,
          endpoint: p.endpoint,
          status: response.status,
          durationMs: ms,
        });
      }
      return response;
    } catch (caught) {
      const error = caught instanceof HttpError ? caught : this.#wrap(caught, p, signal);
      const ms = performance.now() - started;
      endSpan(span, error);
      // A failure that time can fix (5xx, network, timeout, open circuit, rate limit, spent quota): an
      // expired cached answer beats none. A permanent one (404, 401, ...) is the answer.
      if (stale && error.transient) {
        this.#logger.warn(
          { service: this.service, endpoint: p.endpoint, code: error.code },
          'serving stale response',
        );
        this.metrics.success(p.operation, ms);
        return this.#fromCache(stale, true);
      }
      this.metrics.failure(p.operation, error.code, ms);
      if (httpChannels.error.hasSubscribers) {
        httpChannels.error.publish({
          service: this.service,
          method: p.method,
          endpoint: p.endpoint,
          code: error.code,
          status: error.status,
        });
      }
      this.#logger.debug(
        {
          service: this.service,
          method: p.method,
          endpoint: p.endpoint,
          code: error.code,
          status: error.status,
        },
        this.#safe(error),
      );
      throw error;
    } finally {
      this.#pending--;
    }
  }

  /** After a failed attempt: the wait before the next one, or throws the error when there is none. */
  #retryDelay(
    caught: unknown,
    p: Prepared,
    options: RequestOptions,
    attempt: number,
    maxRetries: number,
    deadlineAt: number,
  ): number {
    if (!(caught instanceof HttpError)) throw caught;
    const error = caught;
    const signal = options.signal;
    error.attempts = attempt + 1;
    if (signal?.aborted) throw this.#abortError(p, signal);
    // Permanent errors are not retried; transient ones decided locally or by a spent quota are `final`:
    // waiting is the cure, not sending again now. They carry retryAt for a job queue.
    if (!error.transient || error.final || attempt >= maxRetries) throw error;
    const notSent = error.status === undefined && NOT_SENT.has(errorCode(error.cause) ?? '');
    const replayable =
      (p.method !== 'POST' && p.method !== 'PATCH') ||
      options.idempotencyKey !== undefined ||
      options.retrySafe === true;
    if (!(replayable || notSent)) throw error;
    const now = this.#clock.now();
    // The server's own wait (Retry-After on a 429 or 503), read when the error was made.
    const asked = error.retryAt === undefined ? undefined : Math.max(0, error.retryAt - now);
    const delay = Math.max(
      backoffDelay(attempt, {
        initialDelayMs: this.#o.retryDelayMs ?? 500,
        maxDelayMs: this.#o.maxRetryDelayMs ?? 30_000,
      }),
      asked ?? 0,
    );
    if (now + delay > deadlineAt) {
      // Waiting would pass the deadline: fail now and say when, so a job queue can reschedule.
      error.retryAt = now + delay;
      throw error;
    }
    if (!this.#retryBudget.tryRetry()) throw error;
    this.metrics.retry(p.operation);
    if (httpChannels.retry.hasSubscribers) {
      httpChannels.retry.publish({
        service: this.service,
        endpoint: p.endpoint,
        attempt: attempt + 1,
        delay,
        code: error.code,
      });
    }
    this.#logger.info(
      {
        service: this.service,
        method: p.method,
        endpoint: p.endpoint,
        code: error.code,
        attempt: attempt + 1,
        delayMs: delay,
      },
      'retrying',
    );
    return delay;
  }

  async #attempt(
    p: Prepared,
    options: RequestOptions,
    signal: AbortSignal | undefined,
    deadlineAt: number,
    cost: Cost,
    attempt: number,
    startedAt: number,
  ): Promise<HttpResponse> {
    const breaker = this.#o.breaker;
    let permit: BreakerPermit | undefined;
    // `startedAt` holds until something here waits (a shared breaker's read, a budget's queue).
    let waited = false;
    if (breaker) {
      try {
        const acquired = breaker.acquire();
        waited = acquired instanceof Promise;
        permit = waited ? await acquired : (acquired as BreakerPermit);
      } catch (error) {
        throw this.#localRefusal(error, p);
      }
    }
    let reservation: Reservation | undefined;
    const budget = this.#o.budget;
    if (budget) {
      reservation = budget.tryReserveNow(cost);
      if (!reservation) {
        const waitsBefore = budget.waits;
        waited = true;
        try {
          reservation = await budget.reserve(cost, { signal, deadline: deadlineAt });
        } catch (error) {
          permit?.release();
          throw this.#localRefusal(error, p);
        }
        if (budget.waits !== waitsBefore) this.metrics.rateLimitWait(p.operation);
      }
    }
    // The attempt may not outlive the call's deadline: the watch ends its exchange then, body included.
    const remaining = deadlineAt - (waited ? this.#clock.now() : startedAt);
    let response: CollectedResponse;
    try {
      if (remaining <= 0)
        throw new HttpTimeoutError(`${this.service} ${p.method} ${p.endpoint}: deadline passed`, {
          service: this.service,
          method: p.method,
          endpoint: p.endpoint,
        });
      const request: Dispatcher.DispatchOptions = {
        origin: p.origin,
        path: p.path,
        method: p.method,
        headers: p.headers,
      };
      if (p.body !== undefined) request.body = p.body;
      if (this.#o.dispatcher) {
        // An injected dispatcher has its own defaults; the per-attempt inactivity timeout still holds.
        request.headersTimeout = this.#timeoutMs;
        request.bodyTimeout = this.#timeoutMs;
      }
      response = await collectResponse(
        this.#dispatch(p),
        request,
        signal,
        this.#maxResponseBytes,
        this.#watch,
        performance.now() + remaining,
      );
    } catch (error) {
      if (error instanceof BodyTooLargeError) {
        // The service answered; the size is our own limit: not a breaker failure, and the call is billed.
        permit?.success();
        void reservation?.commit().catch(() => {});
        throw new HttpResponseTooLargeError(
          `${this.service} ${p.method} ${p.endpoint}: the response exceeds maxResponseBytes (${error.limit} bytes)`,
          {
            service: this.service,
            method: p.method,
            endpoint: p.endpoint,
            status: error.statusCode,
            cause: error,
            final: true,
          },
        );
      }
      throw this.#notAnswered(error, p, signal, reservation, permit);
    }
    const status = response.statusCode;
    const headers = response.headers;
    const ok = status >= 200 && status < 300;
    const mode = ok ? bodyMode(headers, options.responseType ?? 'auto') : 'text';
    // The body as text (JSON and text modes) or as bytes (binary), never both.
    let text: string | undefined;
    let bytes: Buffer | undefined;
    try {
      const encoding = firstHeader(headers, 'content-encoding');
      if (mode !== 'bytes' && !encoding) {
        text = utf8Text(response.chunks);
      } else {
        // A copy: a lone chunk may be a view into a larger socket read.
        let buffer: Buffer = Buffer.concat(response.chunks);
        if (encoding) buffer = await decode(buffer, encoding);
        if (mode === 'bytes') bytes = buffer;
        else text = utf8Text([buffer]);
      }
    } catch (error) {
      throw this.#notAnswered(error, p, signal, reservation, permit);
    }
    if (ok) {
      let data: unknown;
      try {
        data = text === undefined ? bytes : mode === 'json' ? parseJson(text) : text;
      } catch (error) {
        // The service answered, just not in the promised format: not a reason to open the circuit.
        permit?.success();
        void reservation?.commit().catch(() => {});
        throw new HttpInvalidResponseError(
          `${this.service} ${p.method} ${p.endpoint} answered ${status} with a body that does not parse`,
          {
            service: this.service,
            method: p.method,
            endpoint: p.endpoint,
            status,
            headers,
            cause: error,
            final: true,
            bodyExcerpt: redactSecrets((text ?? '').slice(0, 300), this.#secrets),
            ...optional('requestId', requestIdOf(headers)),
          },
        );
      }
      const result: HttpResponse = {
        status,
        headers,
        data,
        requestId: requestIdOf(headers),
        timing: { totalMs: 0, attempts: attempt + 1 },
        fromCache: false,
        stale: false,
      };
      permit?.success();
      if (reservation) {
        let actual: Cost | undefined;
        try {
          actual = this.#o.actualCost?.(result);
        } catch (error) {
          // A broken cost hook must not fail a successful call; the estimate stands.
          this.#logger.warn({ service: this.service, err: this.#safe(error) }, 'actualCost hook failed');
        }
        void reservation.commit(actual).catch(() => {});
        if (this.#remainingHeaders.length > 0) this.#adapt(headers);
      }
      return result;
    }
    // An error answer: the provider saw the call, so its cost stands.
    void reservation?.commit().catch(() => {});
    const answer = text ?? '';
    let parsed: unknown;
    try {
      parsed = JSON.parse(answer);
    } catch {
      parsed = answer;
    }
    let kind: HttpErrorKind | undefined;
    try {
      kind = this.#o.classifyError?.(parsed, status, headers);
    } catch (error) {
      this.#logger.warn({ service: this.service, err: this.#safe(error) }, 'classifyError hook failed');
    }
    const now = this.#clock.now();
    const retryAfter = parseRetryAfter(headers, now);
    const error = errorForStatus(kind, {
      // When to try again, where the server says (Retry-After on a 429 or 503); never on a permanent error.
      ...(retryAfter === undefined ? {} : { retryAfterAt: now + retryAfter }),
      service: this.service,
      method: p.method,
      endpoint: p.endpoint,
      status,
      headers,
      ...optional('requestId', requestIdOf(headers)),
      bodyExcerpt: redactSecrets(answer.slice(0, 300), this.#secrets),
      attempts: attempt + 1,
    });
    if (status >= 500 || status === 408) permit?.failure(error);
    else permit?.success();
    if (error.code === HttpErrorCode.QuotaExhausted) {
      // Retrying a spent quota only burns calls: stop everyone until it comes back, and say when.
      const until = this.#o.quotaResetAt?.(now) ?? now + (retryAfter ?? 3_600_000);
      error.retryAt = until;
      error.final = true;
      void budget?.pause(until, 'quota_exhausted').catch(() => {});
      throw error;
    }
    if (error.code === HttpErrorCode.RateLimited && budget) {
      if (retryAfter !== undefined) void budget.pause(now + retryAfter, 'rate_limited').catch(() => {});
    }
    throw error;
  }

  /**
   * An attempt that failed before a whole answer arrived: nothing reached the provider (or we gave up on
   * it), so the reserved cost goes back; an abort frees the breaker permit, anything else counts against it.
   */
  #notAnswered(
    error: unknown,
    p: Prepared,
    signal: AbortSignal | undefined,
    reservation: Reservation | undefined,
    permit: BreakerPermit | undefined,
  ): HttpError {
    void reservation?.refund().catch(() => {});
    const wrapped = this.#wrap(error, p, signal);
    // The caller's own signal (an abort, or its own timeout) says nothing about the provider.
    if (signal?.aborted) permit?.release();
    else permit?.failure(wrapped);
    return wrapped;
  }

  #adapt(headers: Headers): void {
    for (const h of this.#remainingHeaders) {
      const remaining = firstHeader(headers, h.remaining);
      if (remaining === undefined) continue;
      const resetMs = parseDuration(firstHeader(headers, h.reset)) ?? 60_000;
      void this.#o.budget?.correct(h.window, Number(remaining), resetMs).catch(() => {});
    }
  }

  #dispatch(p: Prepared): Dispatcher {
    if (p.sameOrigin || this.#o.dispatcher) return this.#dispatcher;
    this.#otherOrigins ??= new Agent({
      connections: this.#o.maxConnectionsPerHost ?? 10,
      allowH2: this.#o.allowH2 ?? false,
      headersTimeout: this.#timeoutMs,
      bodyTimeout: this.#timeoutMs,
    });
    return this.#otherOrigins;
  }

  /** Breaker and budget refusals: typed HTTP errors that were decided locally, before sending. */
  #localRefusal(error: unknown, p: Prepared): HttpError {
    const init = {
      service: this.service,
      method: p.method,
      endpoint: p.endpoint,
      cause: error,
      final: true,
      // The refusal's own class: a cost larger than a whole window is a spent quota that never comes back.
      ...(error instanceof OpusError ? { transient: error.transient } : {}),
    };
    if (error instanceof CircuitOpenError) {
      return new HttpCircuitOpenError(error.message, { ...init, ...optional('retryAt', error.retryAt) });
    }
    if (error instanceof QuotaExhaustedError) {
      return new HttpQuotaExhaustedError(error.message, { ...init, ...optional('retryAt', error.retryAt) });
    }
    if (error instanceof RateLimitedError) {
      return new HttpRateLimitedError(error.message, { ...init, ...optional('retryAt', error.retryAt) });
    }
    return this.#wrap(error, p, undefined);
  }

  /**
   * The caller's signal fired: ERR_HTTP_ABORTED (permanent: the caller asked), or ERR_HTTP_TIMEOUT
   * (transient) when the signal is a timeout (`AbortSignal.timeout`, core's `timeoutSignal`).
   */
  #abortError(p: Prepared, signal: AbortSignal): HttpError {
    const init = { service: this.service, method: p.method, endpoint: p.endpoint, cause: signal.reason };
    const reason: unknown = signal.reason;
    const timedOut =
      reason instanceof OpusError
        ? reason.transient
        : reason instanceof Error && reason.name === 'TimeoutError';
    if (timedOut) {
      return new HttpTimeoutError(
        `${this.service} ${p.method} ${p.endpoint}: the caller's signal timed out`,
        init,
      );
    }
    return new HttpAbortedError(`${this.service} ${p.method} ${p.endpoint} was aborted`, init);
  }

  #wrap(error: unknown, p: Prepared, signal: AbortSignal | undefined): HttpError {
    if (error instanceof HttpError) return error;
    if (signal?.aborted) return this.#abortError(p, signal);
    const init = { service: this.service, method: p.method, endpoint: p.endpoint, cause: error };
    if (error instanceof DeadlineExceededError) {
      return new HttpTimeoutError(`${this.service} ${p.method} ${p.endpoint}: ${error.message}`, {
        ...init,
        ...(error.answered ? { details: { responseStatus: error.statusCode } } : {}),
      });
    }
    const code = errorCode(error);
    if (code && TIMEOUTS.has(code)) {
      return new HttpTimeoutError(`${this.service} ${p.method} ${p.endpoint} timed out (${code})`, init);
    }
    if (error instanceof AbortedError) {
      return new HttpAbortedError(`${this.service} ${p.method} ${p.endpoint} was aborted`, init);
    }
    const message = error instanceof Error ? error.message : String(error);
    const text = `${this.service} ${p.method} ${p.endpoint} failed: ${redactSecrets(message, this.#secrets)}`;
    if (error instanceof OpusError) {
      // A local failure from a lower layer (a closed budget, its Redis store down): it keeps its class.
      return new HttpNetworkError(text, {
        ...init,
        transient: error.transient,
        final: true,
        ...optional('retryAt', error.retryAt),
        details: { reason: error.code },
      });
    }
    return new HttpNetworkError(`${text}${code ? ` (${code})` : ''}`, {
      ...init,
      ...(code ? { details: { errno: code } } : {}),
    });
  }

  #safe(error: unknown): string {
    return redactSecrets(error instanceof Error ? error.message : String(error), this.#secrets);
  }
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/** `http://` or `https://`, any case, without a regular expression per call. */
function isAbsolute(endpoint: string): boolean {
  const c = endpoint.charCodeAt(0);
  if (c !== 104 && c !== 72) return false;
  return /^https?:\/\//i.test(endpoint);
}

function lower(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = v;
  return out;
}

async function decode(buffer: Buffer, encoding: string): Promise<Buffer> {
  switch (encoding.trim().toLowerCase()) {
    case 'gzip':
    case 'x-gzip':
      return gunzip(buffer);
    case 'deflate':
      return inflate(buffer);
    case 'br':
      return brotli(buffer);
    case 'identity':
      return buffer;
    default:
      throw new InvalidArgumentError(`Unsupported content-encoding ${encoding}`);
  }
}

type BodyMode = 'json' | 'text' | 'bytes';

/** How a 2xx body is read, decided from its headers before the body arrives. */
function bodyMode(headers: Headers, type: ResponseType): BodyMode {
  if (type !== 'auto') return type;
  const contentType = firstHeader(headers, 'content-type') ?? '';
  if (/[/+]json\b/i.test(contentType)) return 'json';
  if (/^text\/|xml|urlencoded/i.test(contentType)) return 'text';
  return 'bytes';
}

function parseJson(text: string): unknown {
  return text.length === 0 ? undefined : JSON.parse(text);
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined, error: () => Error): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(error());
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(error());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
