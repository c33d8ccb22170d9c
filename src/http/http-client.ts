import type { Dispatcher } from 'undici';
import { Agent } from 'undici';
import {
  type Clock,
  ClosedError,
  ConfigError,
  fingerprint,
  type Logger,
  redactSecrets,
  silentLogger,
  systemClock,
} from '../core/index.js';
import { endSpan, NO_SPAN, startSpan, tracingActive } from '../core/tracing.js';
import {
  AdaptiveConcurrency,
  type BreakerPermit,
  CircuitBreaker,
  type ConcurrencyPermit,
  type Cost,
  parseDuration,
  parseRetryAfter,
  type Reservation,
  RetryBudget,
} from '../resilience/index.js';
import { ApiMetricsCollector, httpChannels, type ServiceMetrics } from './api-metrics-collector.js';
import { authSecret } from './auth.js';
import {
  BodyTooLargeError,
  type CollectedResponse,
  collectResponse,
  DeadlineWatch,
} from './collect-response.js';
import { bodyMode, decodeBody, parseBody, parseErrorBody } from './decode-body.js';
import { type Endpoint, EndpointSet, endpointLabels } from './endpoint-set.js';
import {
  abortError,
  answerError,
  deadlinePassedError,
  HttpError,
  HttpErrorCode,
  type HttpErrorKind,
  invalidResponseError,
  queueFullError,
  refusalError,
  responseTooLargeError,
  transportError,
} from './errors.js';
import { HTTP_DEFAULTS, type ResolvedHttpOptions, resolveHttpOptions } from './http-defaults.js';
import type {
  CachedResponse,
  HttpClientOptions,
  HttpHeaders,
  HttpMethod,
  HttpResponse,
  RequestOptions,
} from './http-types.js';
import { createOriginPool } from './origin-pool.js';
import {
  type PreparedRequest,
  prepareRequest,
  type RequestTarget,
  requestTarget,
} from './prepare-request.js';
import { fromCache, ResponseCacheLayer } from './response-cache-layer.js';
import { firstHeader, requestIdOf } from './response-headers.js';
import { decideRetry, isReplayable, type RetryBackoff } from './retry-decision.js';

/**
 * The resilient client every API client builds on: an undici Pool per endpoint (base URL), then (per call)
 * cache → queue bound → deadline → [endpoint → its breaker → budget → attempt → classify → retry]. One
 * instance per service and credential, however many endpoints serve it.
 */
export class HttpClient {
  readonly service: string;
  readonly metrics: ApiMetricsCollector;
  readonly #o: HttpClientOptions;
  readonly #r: ResolvedHttpOptions;
  /** The first endpoint's target: requests are prepared for it, then moved to the chosen endpoint. */
  readonly #target: RequestTarget;
  readonly #clock: Clock;
  readonly #logger: Logger;
  /** The only endpoint, or undefined when there are several (then `#endpoints`). */
  readonly #single: Endpoint | undefined;
  readonly #endpoints: EndpointSet;
  #otherOrigins: Agent | undefined;
  readonly #secrets: string[];
  readonly #retryBudget: RetryBudget;
  readonly #backoff: RetryBackoff;
  readonly #cache: ResponseCacheLayer;
  /** Ends every exchange at its call's deadline, body included, with one timer for the client. */
  readonly #watch = new DeadlineWatch();
  #pending = 0;
  #closed = false;
  readonly #remainingHeaders: Array<{ window: string; remaining: string; reset: string }>;

  constructor(options: HttpClientOptions) {
    if (!options.service) throw new ConfigError('HttpClient needs a service name');
    const r = resolveHttpOptions(options);
    const baseUrls = baseUrlsOf(options);
    const targets = baseUrls.map((baseUrl) =>
      requestTarget({
        service: options.service,
        baseUrl,
        auth: options.auth,
        headers: options.headers,
        userAgent: r.userAgent,
        arrayFormat: r.arrayFormat,
      }),
    );
    this.#target = targets[0]!;
    this.#o = options;
    this.#r = r;
    this.service = options.service;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? silentLogger;
    const secret = authSecret(options.auth);
    this.#secrets = secret ? [secret] : [];
    this.metrics = new ApiMetricsCollector(options.service);
    this.#retryBudget = options.retryBudget ?? new RetryBudget({ clock: this.#clock });
    this.#backoff = {
      initialDelayMs: r.retryDelayMs,
      maxDelayMs: r.maxRetryDelayMs,
      ...(options.random ? { random: options.random } : {}),
    };
    if (options.breaker && targets.length > 1) {
      throw new ConfigError(
        `HttpClient ${options.service}: with several baseUrls each has its own breaker; give endpointBreaker, not breaker`,
      );
    }
    const labels = endpointLabels(targets);
    const endpoints = targets.map((target, index): Endpoint => {
      const label = labels[index]!;
      return {
        index,
        label,
        target,
        dispatcher:
          options.dispatcher ??
          createOriginPool(target.origin, {
            connections: r.connections,
            keepAliveTimeoutMs: r.keepAliveTimeoutMs,
            allowH2: r.allowH2,
            maxConcurrentStreams: r.maxConcurrentStreams,
            // The per-attempt inactivity timeout lives on the pool; the deadline is the watch's.
            headersTimeoutMs: r.attemptTimeoutMs,
            bodyTimeoutMs: r.attemptTimeoutMs,
            tls: options.tls,
          }),
        breaker:
          targets.length === 1
            ? options.breaker
            : (options.endpointBreaker?.({ index, url: baseUrls[index]!, origin: label }) ??
              new CircuitBreaker({ name: `${options.service} ${label}`, clock: this.#clock })),
        limit:
          options.adaptiveConcurrency === undefined || options.adaptiveConcurrency === false
            ? undefined
            : new AdaptiveConcurrency({
                ...(options.adaptiveConcurrency === true ? {} : options.adaptiveConcurrency),
                name: `${options.service} ${label}`,
                clock: this.#clock,
              }),
      };
    });
    this.#endpoints = new EndpointSet(endpoints, r.endpointStrategy);
    this.#single = endpoints.length === 1 ? endpoints[0] : undefined;
    this.#cache = new ResponseCacheLayer(
      {
        service: options.service,
        cache: options.cache,
        enableCaching: r.enableCaching,
        cacheTtlMs: r.cacheTtlMs,
        staleIfErrorMs: r.staleIfErrorMs,
        authQueryName: this.#target.authQueryName,
        credentialPrint: secret ? fingerprint(secret) : 'anon',
        clock: this.#clock,
        logger: this.#logger,
        metrics: this.metrics,
        secrets: this.#secrets,
      },
      (p, o, stale) => this.#execute(p, o, stale),
    );
    this.#remainingHeaders = (options.budget?.windows ?? []).map((w) => ({
      window: w.name,
      remaining: `x-ratelimit-remaining-${w.name}`,
      reset: `x-ratelimit-reset-${w.name}`,
    }));
    for (const e of endpoints) {
      const origin = this.#single ? {} : { origin: e.label };
      e.breaker?.onStateChange((state) => {
        this.#logger.info({ service: this.service, ...origin, state }, 'circuit state changed');
        if (httpChannels.breaker.hasSubscribers)
          httpChannels.breaker.publish({ service: this.service, ...origin, state });
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
    return this.#clock.now() + (deadlineMs ?? this.#r.deadlineMs);
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

  /** One call: `params`, `data`, `headers`, cache, retry and deadline options in `options`. */
  makeRequest<T = unknown>(
    method: HttpMethod,
    endpoint: string,
    options: RequestOptions = {},
  ): Promise<HttpResponse<T>> {
    if (this.#closed) {
      return Promise.reject(new ClosedError(`HttpClient ${this.service} is closed`));
    }
    let maybe: PreparedRequest | Promise<PreparedRequest>;
    try {
      maybe = prepareRequest(this.#target, method, endpoint, options);
    } catch (error) {
      return Promise.reject(error);
    }
    // The uncached path returns #execute's promise directly: no extra async frame per call.
    if (!(maybe instanceof Promise) && this.#cache.keyFor(maybe, options) === undefined) {
      return this.#execute(maybe, options, undefined) as Promise<HttpResponse<T>>;
    }
    return this.#cache.fetch<T>(maybe, options);
  }

  /**
   * Counters of the service, of each endpoint path and of each origin (base URL), with the breakers'
   * states and the budget's usage. With several base URLs, `breakerState` is the best of theirs (the
   * service is reachable while one endpoint is).
   */
  async getApiMetrics(): Promise<ServiceMetrics> {
    let quota: ServiceMetrics['quota'] = [];
    try {
      quota = (await this.#o.budget?.usage()) ?? [];
    } catch {
      // A metrics read must not fail because the budget store is down.
    }
    const breakers = this.#endpoints.all.map((e) => ({ origin: e.label, breaker: e.breaker }));
    return this.metrics.snapshot({
      breakerState: bestState(breakers.map((b) => b.breaker?.state ?? 'NONE')),
      breakerTransitions: breakers.reduce((sum, b) => sum + (b.breaker?.transitions ?? 0), 0),
      quota: quota.map(({ name, limit, used, remaining }) => ({ name, limit, used, remaining })),
      originBreakers: Object.fromEntries(breakers.map((b) => [b.origin, b.breaker?.state ?? 'NONE'])),
      originConcurrency: Object.fromEntries(
        this.#endpoints.all.flatMap((e) => (e.limit ? [[e.label, e.limit.stats()]] : [])),
      ),
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#watch.close();
    if (!this.#o.dispatcher) await Promise.all(this.#endpoints.all.map((e) => e.dispatcher.close()));
    await this.#otherOrigins?.close();
  }

  async #execute(
    p: PreparedRequest,
    options: RequestOptions,
    stale: CachedResponse | undefined,
  ): Promise<HttpResponse> {
    if (this.#pending >= this.#r.pendingLimit) {
      const error = queueFullError(p, this.#pending);
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
    const deadlineAt = options.deadlineAt ?? startedAt + (options.deadlineMs ?? this.#r.deadlineMs);
    const signal = options.signal;
    try {
      // The retry loop lives here rather than in its own async method: one async frame less per call.
      const maxRetries = options.retryOnError === false ? 0 : (options.maxRetries ?? this.#r.maxRetries);
      const cost = options.cost ?? this.#o.costOf?.(p.method, p.operation) ?? 1;
      this.#retryBudget.recordCall();
      let response: HttpResponse;
      // With several endpoints: where the last attempt went, so that a retry goes elsewhere.
      const route: Route | undefined = this.#single ? undefined : { used: undefined };
      for (let attempt = 0; ; attempt++) {
        try {
          const now = attempt === 0 ? startedAt : this.#clock.now();
          response = await this.#attempt(p, options, signal, deadlineAt, cost, attempt, now, route);
          this.metrics.originAttempt((route ? route.used : this.#single)?.label, undefined);
          break;
        } catch (caught) {
          this.metrics.originAttempt(
            (route ? route.used : this.#single)?.label,
            caught instanceof HttpError ? caught.code : HttpErrorCode.Network,
          );
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
      const error = caught instanceof HttpError ? caught : transportError(caught, p, signal, this.#secrets);
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
        return fromCache(stale, true);
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

  /**
   * After a failed attempt: the wait before the next one (decided by `decideRetry` on the client's
   * clock, then granted by the retry budget), or throws the error when there is none.
   */
  #retryDelay(
    caught: unknown,
    p: PreparedRequest,
    options: RequestOptions,
    attempt: number,
    maxRetries: number,
    deadlineAt: number,
  ): number {
    if (!(caught instanceof HttpError)) throw caught;
    const error = caught;
    const signal = options.signal;
    error.attempts = attempt + 1;
    if (signal?.aborted) throw abortError(p, signal);
    const decision = decideRetry(
      error,
      {
        attempt,
        now: this.#clock.now(),
        deadlineAt,
        maxRetries,
        replayable: isReplayable(p.method, options),
      },
      this.#backoff,
    );
    if (!decision.retry) {
      if (decision.retryAt !== undefined) error.retryAt = decision.retryAt;
      throw error;
    }
    if (!this.#retryBudget.tryRetry()) throw error;
    const delay = decision.delayMs;
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
    p: PreparedRequest,
    options: RequestOptions,
    signal: AbortSignal | undefined,
    deadlineAt: number,
    cost: Cost,
    attempt: number,
    startedAt: number,
    route: Route | undefined,
  ): Promise<HttpResponse> {
    let endpoint = this.#single;
    let permit: BreakerPermit | undefined;
    // `startedAt` holds until something here waits (a shared breaker's read, a budget's queue).
    let waited = false;
    if (endpoint) {
      const breaker = endpoint.breaker;
      if (breaker) {
        try {
          const acquired = breaker.acquire();
          waited = acquired instanceof Promise;
          permit = waited ? await acquired : (acquired as BreakerPermit);
        } catch (error) {
          throw refusalError(error, p, this.#secrets);
        }
      }
    } else {
      // The first endpoint in the strategy's order whose breaker lets the call through.
      let refusal: unknown;
      const avoid = route!.used;
      route!.used = undefined;
      for (const candidate of this.#endpoints.order(avoid)) {
        try {
          const acquired = candidate.breaker?.acquire();
          if (acquired instanceof Promise) waited = true;
          permit = acquired instanceof Promise ? await acquired : acquired;
          endpoint = candidate;
          break;
        } catch (error) {
          // When every endpoint refuses, the call names the earliest time one of them lets calls through.
          if (refusal === undefined || retryAtOf(error) < retryAtOf(refusal)) refusal = error;
        }
      }
      if (!endpoint) throw refusalError(refusal, p, this.#secrets);
      route!.used = endpoint;
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
          throw refusalError(error, p, this.#secrets);
        }
        if (budget.waits !== waitsBefore) this.metrics.rateLimitWait(p.operation);
      }
    }
    let concurrency: ConcurrencyPermit | undefined;
    if (endpoint.limit) {
      try {
        concurrency = await endpoint.limit.acquire({ ...(signal ? { signal } : {}), deadlineAt });
      } catch (error) {
        permit?.release();
        void reservation?.refund().catch(() => {});
        throw refusalError(error, p, this.#secrets);
      }
      waited = true;
    }
    // The attempt may not outlive the call's deadline: the watch ends its exchange then, body included.
    const remaining = deadlineAt - (waited ? this.#clock.now() : startedAt);
    const exchangeStarted = concurrency ? performance.now() : 0;
    let response: CollectedResponse;
    try {
      if (remaining <= 0) throw deadlinePassedError(p);
      const request: Dispatcher.DispatchOptions = {
        origin: p.origin,
        path: p.path,
        method: p.method,
        headers: p.headers,
      };
      if (endpoint.target !== this.#target) moveTo(request, p, this.#target, endpoint);
      // Our own retries decide what may be sent again; the flag only lets undici multiplex POSTs over HTTP/2.
      if (this.#r.allowH2) request.idempotent = true;
      if (p.body !== undefined) request.body = p.body;
      if (this.#o.dispatcher) {
        // An injected dispatcher has its own defaults; the per-attempt inactivity timeout still holds.
        request.headersTimeout = this.#r.attemptTimeoutMs;
        request.bodyTimeout = this.#r.attemptTimeoutMs;
      }
      response = await collectResponse(
        p.sameOrigin || this.#o.dispatcher ? endpoint.dispatcher : this.#otherOrigin(),
        request,
        signal,
        this.#r.maxResponseBytes,
        this.#watch,
        performance.now() + remaining,
      );
    } catch (error) {
      if (concurrency) {
        // A timeout says the provider is slow; an abort or a refused connection says nothing of its load.
        const timedOut =
          !signal?.aborted &&
          !(error instanceof BodyTooLargeError) &&
          transportError(error, p, signal, this.#secrets).code === HttpErrorCode.Timeout;
        if (timedOut) concurrency.dropped();
        else concurrency.ignore();
      }
      if (error instanceof BodyTooLargeError) {
        // The service answered; the size is our own limit: not a breaker failure, and the call is billed.
        permit?.success();
        void reservation?.commit().catch(() => {});
        throw responseTooLargeError(error, p);
      }
      throw this.#notAnswered(error, p, signal, reservation, permit);
    }
    const status = response.statusCode;
    const headers = response.headers;
    if (concurrency) {
      // Refusals for load shrink the limit; any other answer is a latency sample.
      if (status === 429 || status === 503) concurrency.dropped();
      else concurrency.success(performance.now() - exchangeStarted);
    }
    const ok = status >= 200 && status < 300;
    const mode = ok ? bodyMode(headers, options.responseType ?? 'auto') : 'text';
    let body: string | Buffer;
    try {
      const decoded = decodeBody(response.chunks, firstHeader(headers, 'content-encoding'), mode);
      body = decoded instanceof Promise ? await decoded : decoded;
    } catch (error) {
      throw this.#notAnswered(error, p, signal, reservation, permit);
    }
    if (ok) {
      let data: unknown;
      try {
        data = parseBody(body, mode);
      } catch (error) {
        // The service answered, just not in the promised format: not a reason to open the circuit.
        permit?.success();
        void reservation?.commit().catch(() => {});
        throw invalidResponseError(
          p,
          status,
          headers,
          body as string,
          error,
          this.#secrets,
          requestIdOf(headers),
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
    const answer = body as string;
    let kind: HttpErrorKind | undefined;
    try {
      kind = this.#o.classifyError?.(parseErrorBody(answer), status, headers);
    } catch (error) {
      this.#logger.warn({ service: this.service, err: this.#safe(error) }, 'classifyError hook failed');
    }
    const now = this.#clock.now();
    const retryAfter = parseRetryAfter(headers, now);
    const error = answerError(
      p,
      kind,
      {
        status,
        headers,
        body: answer,
        requestId: requestIdOf(headers),
        // When to try again, where the server says (Retry-After on a 429 or 503); never on a permanent error.
        retryAfterAt: retryAfter === undefined ? undefined : now + retryAfter,
        attempts: attempt + 1,
      },
      this.#secrets,
    );
    if (status >= 500 || status === 408) permit?.failure(error);
    else permit?.success();
    if (error.code === HttpErrorCode.QuotaExhausted) {
      // Retrying a spent quota only burns calls: stop everyone until it comes back, and say when.
      const until = this.#o.quotaResetAt?.(now) ?? now + (retryAfter ?? HTTP_DEFAULTS.quotaPauseMs);
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
    p: PreparedRequest,
    signal: AbortSignal | undefined,
    reservation: Reservation | undefined,
    permit: BreakerPermit | undefined,
  ): HttpError {
    void reservation?.refund().catch(() => {});
    const wrapped = transportError(error, p, signal, this.#secrets);
    // The caller's own signal (an abort, or its own timeout) says nothing about the provider.
    if (signal?.aborted) permit?.release();
    else permit?.failure(wrapped);
    return wrapped;
  }

  /** Aligns the budget's windows with the provider's `x-ratelimit-remaining-*` / `-reset-*` headers. */
  #adapt(headers: HttpHeaders): void {
    for (const h of this.#remainingHeaders) {
      const remaining = firstHeader(headers, h.remaining);
      if (remaining === undefined) continue;
      const resetMs = parseDuration(firstHeader(headers, h.reset)) ?? HTTP_DEFAULTS.rateLimitResetMs;
      void this.#o.budget?.correct(h.window, Number(remaining), resetMs).catch(() => {});
    }
  }

  #otherOrigin(): Dispatcher {
    this.#otherOrigins ??= new Agent({
      connections: this.#r.otherOriginConnections,
      allowH2: this.#r.allowH2,
      headersTimeout: this.#r.attemptTimeoutMs,
      bodyTimeout: this.#r.attemptTimeoutMs,
      ...(this.#o.tls?.ca === undefined ? {} : { connect: { ca: this.#o.tls.ca } }),
    });
    return this.#otherOrigins;
  }

  #safe(error: unknown): string {
    return redactSecrets(error instanceof Error ? error.message : String(error), this.#secrets);
  }
}

/** Where a call's last attempt went (several endpoints only). */
interface Route {
  used: Endpoint | undefined;
}

function baseUrlsOf(options: HttpClientOptions): readonly string[] {
  const { baseUrl, baseUrls } = options;
  if (baseUrls !== undefined && baseUrl !== undefined) {
    throw new ConfigError(`HttpClient ${options.service}: give baseUrl or baseUrls, not both`);
  }
  const urls = baseUrls ?? (baseUrl === undefined ? [] : [baseUrl]);
  if (urls.length === 0) throw new ConfigError(`HttpClient ${options.service} needs a baseUrl`);
  return urls;
}

/**
 * A request prepared for `primary` sent to `endpoint` instead: its origin, and its base path in place of
 * the primary's (a path outside the primary's base path is kept as it is).
 */
function moveTo(
  request: Dispatcher.DispatchOptions,
  p: PreparedRequest,
  primary: RequestTarget,
  endpoint: Endpoint,
): void {
  if (!p.sameOrigin) return;
  const target = endpoint.target;
  request.origin = target.origin;
  if (target.basePath !== primary.basePath && p.path.startsWith(primary.basePath)) {
    request.path = target.basePath + p.path.slice(primary.basePath.length);
  }
}

function retryAtOf(error: unknown): number {
  return (error as { retryAt?: number }).retryAt ?? Number.POSITIVE_INFINITY;
}

const STATE_RANK: Record<string, number> = { CLOSED: 0, HALF_OPEN: 1, OPEN: 2, NONE: 3 };

/** The healthiest of the endpoints' breaker states (NONE when none has a breaker). */
function bestState(states: readonly string[]): string {
  let best = 'NONE';
  for (const s of states) if ((STATE_RANK[s] ?? 3) < (STATE_RANK[best] ?? 3)) best = s;
  return best;
}
