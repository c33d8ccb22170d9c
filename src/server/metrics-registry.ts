import diagnostics from 'node:diagnostics_channel';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { CacheMetricsSnapshot } from '../cache/index.js';
import type { DbMetricsSnapshot } from '../db/index.js';
import type { ServiceMetrics } from '../http/index.js';
import { pipelineStageChannel } from '../pipeline/video-pipeline.js';

/** The diagnostics channel the pipeline publishes stage timings on: `{ stage, durationMs, outcome }`. */
export { pipelineStageChannel };
export const PIPELINE_STAGE_CHANNEL = pipelineStageChannel.name as string;

export interface PipelineStageMessage {
  stage: string;
  durationMs: number;
  /** 'ok', 'error', 'skipped', ... (a short fixed vocabulary: it is a label). */
  outcome: string;
}

/** Anything with a database's metrics() (a Database). */
export interface DbMetricsSource {
  metrics(): DbMetricsSnapshot;
}
/** Anything with a cache's metrics() (a Cache / MultiLevelCache). */
export interface CacheMetricsSource {
  metrics(): CacheMetricsSnapshot;
}
/** Anything with getApiMetrics() (an HttpClient, or a vendor client's). */
export interface HttpMetricsSource {
  getApiMetrics(): Promise<ServiceMetrics>;
}
/** Anything with counts() (a PipelineQueue). */
export interface QueueCountsSource {
  counts(): Promise<Record<string, number>>;
}

export interface MetricsRegistryOptions {
  db?: DbMetricsSource;
  cache?: CacheMetricsSource;
  /** One source per external service. */
  httpMetrics?: readonly HttpMetricsSource[];
  queue?: QueueCountsSource;
  /** Also export the process's default metrics (CPU, memory, event loop lag); default true. */
  processMetrics?: boolean;
  /** Series name prefix (default 'opusclip_'). */
  prefix?: string;
}

export interface MetricsRegistry {
  /** A registry of its own: never prom-client's global one, so two services in one process don't clash. */
  readonly registry: Registry;
  readonly contentType: string;
  /** Records one pipeline stage (the same as publishing on PIPELINE_STAGE_CHANNEL). */
  observeStage(stage: string, seconds: number, outcome?: string): void;
  /** The Prometheus text exposition. */
  metrics(): Promise<string>;
  /** Unsubscribes from the diagnostics channels. */
  close(): void;
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const STAGE_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
const QUANTILES = [
  ['0.5', 'p50Ms'],
  ['0.95', 'p95Ms'],
  ['0.99', 'p99Ms'],
] as const;

/** prom-client counters only go up; snapshot totals are set by resetting and adding the total. */
function setCounter(counter: Counter<string>, labels: Record<string, string>, value: number): void {
  counter.inc(labels, Math.max(0, value));
}

function statusClass(status: unknown): string {
  return typeof status === 'number' ? `${Math.floor(status / 100)}xx` : 'error';
}

/**
 * Prometheus metrics for the service and for every worker: database (queries and latency by name, pool,
 * errors), cache (hits and misses per level, stale served), HTTP per external service (requests,
 * latency histogram, retries, breaker state, rate-limit waits, quota) and the pipeline (jobs by state,
 * stage durations). Snapshot-based series are read at scrape time, so recording stays on the layers'
 * own O(1) counters; latencies that need a histogram come from the diagnostics channels.
 */
export function createMetricsRegistry(options: MetricsRegistryOptions = {}): MetricsRegistry {
  const registry = new Registry();
  const p = options.prefix ?? 'opusclip_';
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: p });
  const reg = [registry];

  // ---- database ----
  const db = options.db;
  if (db) {
    let snap: DbMetricsSnapshot | undefined;
    // One snapshot per scrape, shared by every database series (the first collector takes it).
    const take = (): DbMetricsSnapshot => {
      snap ??= db.metrics();
      queueMicrotask(() => {
        snap = undefined;
      });
      return snap;
    };
    new Counter({
      name: `${p}db_queries_total`,
      help: 'Queries run, by statement name',
      labelNames: ['name'],
      registers: reg,
      collect() {
        this.reset();
        for (const [name, s] of Object.entries(take().byName)) setCounter(this, { name }, s.count);
      },
    });
    new Counter({
      name: `${p}db_query_seconds_total`,
      help: 'Time spent in queries, by statement name',
      labelNames: ['name'],
      registers: reg,
      collect() {
        this.reset();
        for (const [name, s] of Object.entries(take().byName)) setCounter(this, { name }, s.totalMs / 1000);
      },
    });
    new Gauge({
      name: `${p}db_query_latency_seconds`,
      help: 'Query latency quantiles over recent queries, by statement name',
      labelNames: ['name', 'quantile'],
      registers: reg,
      collect() {
        this.reset();
        const s = take();
        const all: Array<[string, (typeof s)['latency']]> = [['all', s.latency], ...Object.entries(s.byName)];
        for (const [name, summary] of all) {
          for (const [quantile, field] of QUANTILES) this.set({ name, quantile }, summary[field] / 1000);
        }
      },
    });
    new Counter({
      name: `${p}db_errors_total`,
      help: 'Query errors by error code',
      labelNames: ['code'],
      registers: reg,
      collect() {
        this.reset();
        for (const [code, n] of Object.entries(take().errorsByCode)) setCounter(this, { code }, n);
      },
    });
    new Counter({
      name: `${p}db_transactions_total`,
      help: 'Transactions by outcome',
      labelNames: ['outcome'],
      registers: reg,
      collect() {
        this.reset();
        const t = take().transactions;
        setCounter(this, { outcome: 'committed' }, t.committed);
        setCounter(this, { outcome: 'rolled_back' }, t.rolledBack);
        setCounter(this, { outcome: 'retried' }, t.retried);
      },
    });
    new Gauge({
      name: `${p}db_pool_connections`,
      help: 'Pool connections by state, and callers waiting for one',
      labelNames: ['state'],
      registers: reg,
      collect() {
        const pool = take().pool;
        this.set({ state: 'idle' }, pool.idle);
        this.set({ state: 'in_use' }, pool.inUse);
        this.set({ state: 'connecting' }, pool.connecting);
        this.set({ state: 'waiting' }, pool.waiting);
      },
    });
    new Gauge({
      name: `${p}db_pool_acquire_wait_seconds`,
      help: 'Time to get a pooled connection (avg and p99 over recent acquisitions)',
      labelNames: ['stat'],
      registers: reg,
      collect() {
        const pool = take().pool;
        this.set({ stat: 'avg' }, pool.acquireWaitAvgMs / 1000);
        this.set({ stat: 'p99' }, pool.acquireWaitP99Ms / 1000);
      },
    });
  }

  // ---- cache ----
  const cache = options.cache;
  if (cache) {
    new Counter({
      name: `${p}cache_requests_total`,
      help: 'Cache lookups by level and result',
      labelNames: ['level', 'result'],
      registers: reg,
      collect() {
        this.reset();
        const m = cache.metrics();
        setCounter(this, { level: 'l1', result: 'hit' }, m.l1Hits);
        setCounter(this, { level: 'l1', result: 'miss' }, m.l1Misses);
        setCounter(this, { level: 'l2', result: 'hit' }, m.l2Hits);
        setCounter(this, { level: 'l2', result: 'miss' }, m.l2Misses);
      },
    });
    new Counter({
      name: `${p}cache_served_total`,
      help: 'Reads by outcome: hit (from L1 or L2, stale in grace included), miss (any other read: loader, waited for a load or lease, get found nothing); stale, fail_safe: stale values served',
      labelNames: ['kind'],
      registers: reg,
      collect() {
        this.reset();
        const m = cache.metrics();
        setCounter(this, { kind: 'hit' }, m.hits);
        setCounter(this, { kind: 'miss' }, m.misses);
        setCounter(this, { kind: 'stale' }, m.staleServed);
        setCounter(this, { kind: 'fail_safe' }, m.failSafeServed);
      },
    });
    new Counter({
      name: `${p}cache_errors_total`,
      help: 'Cache-side failures by kind',
      labelNames: ['kind'],
      registers: reg,
      collect() {
        this.reset();
        const m = cache.metrics();
        setCounter(this, { kind: 'redis_error' }, m.redisErrors);
        setCounter(this, { kind: 'redis_timeout' }, m.redisTimeouts);
        setCounter(this, { kind: 'loader_error' }, m.loaderErrors);
        setCounter(this, { kind: 'serialization' }, m.serializationErrors);
      },
    });
    new Gauge({
      name: `${p}cache_hit_ratio`,
      help: 'hits / (hits + misses) since start',
      registers: reg,
      collect() {
        this.set(cache.metrics().cacheHitRate);
      },
    });
    new Gauge({
      name: `${p}cache_l1_entries`,
      help: 'Entries in the in-process cache',
      registers: reg,
      collect() {
        this.set(cache.metrics().l1Entries);
      },
    });
  }

  // ---- external HTTP APIs ----
  const httpDuration = new Histogram({
    name: `${p}http_client_request_duration_seconds`,
    help: 'Latency of calls to external APIs (whole call, retries included), by service and status class',
    labelNames: ['service', 'status_class'],
    buckets: LATENCY_BUCKETS,
    registers: reg,
  });
  const onHttpResponse = (message: unknown): void => {
    const m = message as { service?: unknown; status?: unknown; durationMs?: unknown };
    if (typeof m.durationMs !== 'number') return;
    httpDuration.observe(
      { service: String(m.service), status_class: statusClass(m.status) },
      m.durationMs / 1000,
    );
  };
  diagnostics.subscribe('opusclip:http:response', onHttpResponse);

  const sources = options.httpMetrics ?? [];
  if (sources.length > 0) {
    let pending: Promise<ServiceMetrics[]> | undefined;
    const take = (): Promise<ServiceMetrics[]> => {
      pending ??= Promise.all(sources.map((s) => s.getApiMetrics())).finally(() => {
        setTimeout(() => {
          pending = undefined;
        }, 0);
      });
      return pending;
    };
    new Counter({
      name: `${p}http_client_requests_total`,
      help: 'Calls to external APIs by service and endpoint',
      labelNames: ['service', 'endpoint'],
      registers: reg,
      async collect() {
        this.reset();
        for (const s of await take()) {
          for (const [endpoint, n] of Object.entries(s.requestsByEndpoint)) {
            setCounter(this, { service: s.service, endpoint }, n);
          }
        }
      },
    });
    new Counter({
      name: `${p}http_client_failures_total`,
      help: 'Failed calls to external APIs by service and error code',
      labelNames: ['service', 'code'],
      registers: reg,
      async collect() {
        this.reset();
        for (const s of await take()) {
          for (const [code, n] of Object.entries(s.errorsByType))
            setCounter(this, { service: s.service, code }, n);
        }
      },
    });
    const perService = (name: string, help: string, pick: (s: ServiceMetrics) => number): Counter<string> =>
      new Counter({
        name: `${p}${name}`,
        help,
        labelNames: ['service'],
        registers: reg,
        async collect() {
          this.reset();
          for (const s of await take()) setCounter(this, { service: s.service }, pick(s));
        },
      });
    perService('http_client_retries_total', 'Retried calls to external APIs', (s) => s.retries);
    perService(
      'http_client_rate_limit_waits_total',
      'Calls that waited for a rate limiter',
      (s) => s.rateLimitWaits,
    );
    perService(
      'http_client_cache_hits_total',
      'Responses served from the response cache',
      (s) => s.cacheHits,
    );
    perService(
      'http_client_breaker_transitions_total',
      'Circuit breaker state changes',
      (s) => s.breakerTransitions,
    );
    new Gauge({
      name: `${p}http_client_breaker_state`,
      help: '1 for the circuit breaker state each service is in (CLOSED, OPEN, HALF_OPEN, NONE)',
      labelNames: ['service', 'state'],
      registers: reg,
      async collect() {
        this.reset();
        for (const s of await take()) this.set({ service: s.service, state: s.breakerState }, 1);
      },
    });
    new Gauge({
      name: `${p}http_client_quota`,
      help: 'Quota windows per service: limit, used and remaining units',
      labelNames: ['service', 'quota', 'stat'],
      registers: reg,
      async collect() {
        this.reset();
        for (const s of await take()) {
          for (const q of s.quota) {
            this.set({ service: s.service, quota: q.name, stat: 'limit' }, q.limit);
            this.set({ service: s.service, quota: q.name, stat: 'used' }, q.used);
            this.set({ service: s.service, quota: q.name, stat: 'remaining' }, q.remaining);
          }
        }
      },
    });
  }

  // ---- pipeline ----
  const queue = options.queue;
  if (queue) {
    new Gauge({
      name: `${p}pipeline_jobs`,
      help: 'Pipeline jobs in the queue by state',
      labelNames: ['state'],
      registers: reg,
      async collect() {
        this.reset();
        try {
          for (const [state, n] of Object.entries(await queue.counts())) this.set({ state }, n);
        } catch {
          // Redis down: the series goes missing for this scrape rather than failing the whole scrape.
        }
      },
    });
  }
  const stageDuration = new Histogram({
    name: `${p}pipeline_stage_duration_seconds`,
    help: 'Duration of pipeline stages by stage and outcome',
    labelNames: ['stage', 'outcome'],
    buckets: STAGE_BUCKETS,
    registers: reg,
  });
  const observeStage = (stage: string, seconds: number, outcome = 'ok'): void => {
    if (!Number.isFinite(seconds) || seconds < 0) return;
    stageDuration.observe({ stage, outcome }, seconds);
  };
  const onStage = (message: unknown): void => {
    const m = message as Partial<PipelineStageMessage>;
    if (typeof m.stage !== 'string' || typeof m.durationMs !== 'number') return;
    observeStage(m.stage, m.durationMs / 1000, typeof m.outcome === 'string' ? m.outcome : 'ok');
  };
  diagnostics.subscribe(PIPELINE_STAGE_CHANNEL, onStage);

  let closed = false;
  return {
    registry,
    contentType: registry.contentType,
    observeStage,
    metrics: () => registry.metrics(),
    close() {
      if (closed) return;
      closed = true;
      diagnostics.unsubscribe('opusclip:http:response', onHttpResponse);
      diagnostics.unsubscribe(PIPELINE_STAGE_CHANNEL, onStage);
    },
  };
}

export interface MetricsServer {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

/** Serves `GET /metrics` from a registry on its own port: for workers, which have no Fastify app. */
export async function serveMetrics(
  metrics: MetricsRegistry,
  options: { port?: number; host?: string } = {},
): Promise<MetricsServer> {
  const server: Server = createHttpServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    metrics.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(text),
      () => res.writeHead(500).end(),
    );
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://${host}:${port}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
