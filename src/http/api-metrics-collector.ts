import diagnostics from 'node:diagnostics_channel';
import { LatencyRecorder, type LatencySummary } from '../core/index.js';
import type { AdaptiveConcurrencyStats } from '../resilience/index.js';

/**
 * Telemetry channels, so tracing or Prometheus can subscribe without this layer depending on them.
 * Messages carry no credentials and no query strings.
 */
export const httpChannels = {
  request: diagnostics.channel('opusclip:http:request'),
  response: diagnostics.channel('opusclip:http:response'),
  error: diagnostics.channel('opusclip:http:error'),
  retry: diagnostics.channel('opusclip:http:retry'),
  cache: diagnostics.channel('opusclip:http:cache'),
  breaker: diagnostics.channel('opusclip:http:breaker'),
} as const;

export interface EndpointMetrics {
  totalRequests: number;
  successfulRequests: number;
  failedRequests: number;
  successRate: number;
  errorRate: number;
  avgResponseTime: number;
  latency: LatencySummary;
  retries: number;
  cacheHits: number;
  cacheMisses: number;
  rateLimitWaits: number;
  errorsByType: Record<string, number>;
}

/** One base URL (origin) of a service: its attempts, how they failed, and its breaker's state. */
export interface OriginMetrics {
  attempts: number;
  failedAttempts: number;
  errorsByType: Record<string, number>;
  breakerState: string;
  /** The adaptive concurrency limit's stats, with `adaptiveConcurrency` on. */
  concurrency?: AdaptiveConcurrencyStats;
}

export interface ServiceMetrics extends EndpointMetrics {
  service: string;
  breakerState: string;
  breakerTransitions: number;
  quota: Array<{ name: string; limit: number; used: number; remaining: number }>;
  requestsByEndpoint: Record<string, number>;
  /** By endpoint path (the route template or operation). */
  endpoints: Record<string, EndpointMetrics>;
  /** By base URL, labelled by its origin (no credentials, no path): attempts rather than calls. */
  origins: Record<string, OriginMetrics>;
}

class Counters {
  total = 0;
  ok = 0;
  failed = 0;
  retries = 0;
  cacheHits = 0;
  cacheMisses = 0;
  rateLimitWaits = 0;
  errors: Record<string, number> = {};
  latency = new LatencyRecorder(1024);

  snapshot(): EndpointMetrics {
    const latency = this.latency.summary();
    const done = this.ok + this.failed;
    return {
      totalRequests: this.total,
      successfulRequests: this.ok,
      failedRequests: this.failed,
      successRate: done === 0 ? 0 : this.ok / done,
      errorRate: done === 0 ? 0 : this.failed / done,
      avgResponseTime: latency.avgMs,
      latency,
      retries: this.retries,
      cacheHits: this.cacheHits,
      cacheMisses: this.cacheMisses,
      rateLimitWaits: this.rateLimitWaits,
      errorsByType: { ...this.errors },
    };
  }
}

/** Counters per service and endpoint, for `getApiMetrics()`. Labels never include secrets. */
export class ApiMetricsCollector {
  readonly service: string;
  readonly #all = new Counters();
  readonly #byEndpoint = new Map<string, Counters>();
  readonly #byOrigin = new Map<
    string,
    { attempts: number; failed: number; errors: Record<string, number> }
  >();

  constructor(service: string) {
    this.service = service;
  }

  #endpoint(endpoint: string): Counters {
    let c = this.#byEndpoint.get(endpoint);
    if (!c) {
      c = new Counters();
      this.#byEndpoint.set(endpoint, c);
    }
    return c;
  }

  request(endpoint: string): void {
    this.#all.total++;
    this.#endpoint(endpoint).total++;
  }

  success(endpoint: string, ms: number): void {
    const e = this.#endpoint(endpoint);
    this.#all.ok++;
    e.ok++;
    this.#all.latency.record(ms);
    e.latency.record(ms);
  }

  failure(endpoint: string, code: string, ms: number): void {
    const e = this.#endpoint(endpoint);
    this.#all.failed++;
    e.failed++;
    this.#all.errors[code] = (this.#all.errors[code] ?? 0) + 1;
    e.errors[code] = (e.errors[code] ?? 0) + 1;
    this.#all.latency.record(ms);
    e.latency.record(ms);
  }

  retry(endpoint: string): void {
    this.#all.retries++;
    this.#endpoint(endpoint).retries++;
  }

  cache(endpoint: string, hit: boolean): void {
    const e = this.#endpoint(endpoint);
    if (hit) {
      this.#all.cacheHits++;
      e.cacheHits++;
    } else {
      this.#all.cacheMisses++;
      e.cacheMisses++;
    }
  }

  /** One attempt at `origin` (a base URL's label), failed with `code` or not; nothing without an origin. */
  originAttempt(origin: string | undefined, code: string | undefined): void {
    if (origin === undefined) return;
    let o = this.#byOrigin.get(origin);
    if (!o) {
      o = { attempts: 0, failed: 0, errors: {} };
      this.#byOrigin.set(origin, o);
    }
    o.attempts++;
    if (code !== undefined) {
      o.failed++;
      o.errors[code] = (o.errors[code] ?? 0) + 1;
    }
  }

  rateLimitWait(endpoint: string): void {
    this.#all.rateLimitWaits++;
    this.#endpoint(endpoint).rateLimitWaits++;
  }

  /** `originBreakers`: each origin's breaker state (origins without attempts are listed too). */
  snapshot(
    extra: Pick<ServiceMetrics, 'breakerState' | 'breakerTransitions' | 'quota'> & {
      originBreakers?: Record<string, string>;
      originConcurrency?: Record<string, AdaptiveConcurrencyStats>;
    },
  ): ServiceMetrics {
    const { originBreakers = {}, originConcurrency = {}, ...rest } = extra;
    const endpoints: Record<string, EndpointMetrics> = {};
    const requestsByEndpoint: Record<string, number> = {};
    for (const [name, c] of this.#byEndpoint) {
      endpoints[name] = c.snapshot();
      requestsByEndpoint[name] = c.total;
    }
    const origins: Record<string, OriginMetrics> = {};
    for (const name of new Set([...Object.keys(originBreakers), ...this.#byOrigin.keys()])) {
      const o = this.#byOrigin.get(name);
      origins[name] = {
        attempts: o?.attempts ?? 0,
        failedAttempts: o?.failed ?? 0,
        errorsByType: { ...(o?.errors ?? {}) },
        breakerState: originBreakers[name] ?? 'NONE',
      };
      const concurrency = originConcurrency[name];
      if (concurrency) origins[name]!.concurrency = concurrency;
    }
    return {
      service: this.service,
      ...this.#all.snapshot(),
      ...rest,
      requestsByEndpoint,
      endpoints,
      origins,
    };
  }
}
