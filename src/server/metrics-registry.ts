import type diagnostics from 'node:diagnostics_channel';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { CacheMetricsSnapshot } from '../cache/index.js';
import { type DbMetricsSnapshot, dbChannels, type SlowQueryEntry } from '../db/index.js';
import { httpChannels, type ServiceMetrics } from '../http/index.js';
import { pipelineStageChannel } from '../pipeline/video-pipeline.js';
import { boundedCounts, endpointTemplate } from './metric-labels.js';

/** What the pipeline publishes on `pipelineStageChannel` for each stage a video goes through. */
export interface PipelineStageMessage {
  stage: string;
  durationMs: number;
  /** 'ok', 'error', 'skipped', ... (a short fixed vocabulary: it is a label). */
  outcome: string;
}

/** Anything with a database's metrics() (a Database); its slow queries for /api/slow-queries. */
export interface DbMetricsSource {
  metrics(): DbMetricsSnapshot;
  slowQueries?(): SlowQueryEntry[];
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
  /** Records one pipeline stage (the same as publishing on the pipeline's `pipelineStageChannel`). */
  observeStage(stage: string, durationMs: number, outcome?: string): void;
  /** The Prometheus text exposition. */
  metrics(): Promise<string>;
  /** Unsubscribes from the diagnostics channels. */
  close(): void;
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const DB_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const STAGE_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
/** Circuit breaker states: each gets a 0/1 series, so a state change never makes a series vanish. */
const BREAKER_STATES = ['CLOSED', 'OPEN', 'HALF_OPEN'] as const;
/** Read replica states, likewise. */
const REPLICA_STATES = ['ok', 'lagging', 'unreachable', 'not_replica', 'unknown'] as const;
/** Most endpoint label values per service; further ones count under `other`. */
const MAX_ENDPOINTS = 50;
/** prom-client's default gauges whose `_total` suffix breaks the convention (their labelled forms stay). */
const MISNAMED_DEFAULTS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/** Adds a snapshot's running total to a counter that `collect` has just reset. */
function setCounter(counter: Counter<string>, labels: Record<string, string>, value: number): void {
  counter.inc(labels, Math.max(0, value));
}

function statusClass(status: unknown): string {
  return typeof status === 'number' ? `${Math.floor(status / 100)}xx` : 'error';
}

/**
 * Prometheus metrics for the service and for every worker, named and typed as Prometheus expects:
 * latencies are histograms (`_seconds`, from the layers' diagnostics channels), running totals are
 * counters (`_total`, read from the layers' own O(1) snapshots at scrape time), levels are gauges, and
 * every label value comes from a short fixed vocabulary or a template (statement names, endpoint
 * templates, route templates), never from an id. Covers the database, the cache, each external API
 * (calls, failures, latency, retries, breaker, quota limit/used/remaining) and the pipeline.
 */
export function createMetricsRegistry(options: MetricsRegistryOptions = {}): MetricsRegistry {
  const registry = new Registry();
  const p = options.prefix ?? 'opusclip_';
  if (options.processMetrics !== false) {
    collectDefaultMetrics({ register: registry, prefix: p });
    for (const name of MISNAMED_DEFAULTS) registry.removeSingleMetric(`${p}${name}`);
  }
  const reg = [registry];
  const unsubscribe: Array<() => void> = [];
  const subscribe = (channel: diagnostics.Channel, fn: (message: unknown) => void): void => {
    channel.subscribe(fn);
    unsubscribe.push(() => channel.unsubscribe(fn));
  };

  // ---- database ----
  const db = options.db;
  if (db) {
    let snap: DbMetricsSnapshot | undefined;
    // One snapshot per scrape, shared by every database series (the first collector takes it).
    const take = (): DbMetricsSnapshot => {
      if (snap === undefined) {
        snap = db.metrics();
        queueMicrotask(() => {
          snap = undefined;
        });
      }
      return snap;
    };
    new Counter({
      name: `${p}db_queries_total`,
      help: 'Statements run (successful or not), by statement name',
      labelNames: ['name'],
      registers: reg,
      collect() {
        this.reset();
        for (const [name, s] of Object.entries(take().byName)) setCounter(this, { name }, s.count);
      },
    });
    const queryDuration = new Histogram({
      name: `${p}db_query_duration_seconds`,
      help: 'Statement latency by statement name (every Database of the process)',
      labelNames: ['name'],
      buckets: DB_BUCKETS,
      registers: reg,
    });
    subscribe(dbChannels.query, (message) => {
      const m = message as { name?: unknown; durationMs?: unknown };
      if (typeof m.name === 'string' && typeof m.durationMs === 'number')
        queryDuration.observe({ name: m.name }, m.durationMs / 1000);
    });
    const slowQueries = new Counter({
      name: `${p}db_slow_queries_total`,
      help: 'Statements at or over the slow-query threshold, by statement name (every Database of the process)',
      labelNames: ['name'],
      registers: reg,
    });
    subscribe(dbChannels.slowQuery, (message) => {
      const m = message as { name?: unknown };
      if (typeof m.name === 'string') slowQueries.inc({ name: m.name });
    });
    new Counter({
      name: `${p}db_errors_total`,
      help: 'Statement errors by error code',
      labelNames: ['code'],
      registers: reg,
      collect() {
        this.reset();
        for (const [code, n] of Object.entries(take().errorsByCode)) setCounter(this, { code }, n);
      },
    });
    new Counter({
      name: `${p}db_transactions_total`,
      help: 'Transactions by outcome (committed, rolled_back, retried)',
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
      help: 'Pool connections by state (idle, in_use, connecting)',
      labelNames: ['state'],
      registers: reg,
      collect() {
        const pool = take().pool;
        this.set({ state: 'idle' }, pool.idle);
        this.set({ state: 'in_use' }, pool.inUse);
        this.set({ state: 'connecting' }, pool.connecting);
      },
    });
    new Gauge({
      name: `${p}db_pool_waiting_requests`,
      help: 'Callers waiting for a pooled connection',
      registers: reg,
      collect() {
        this.set(take().pool.waiting);
      },
    });
    new Gauge({
      name: `${p}db_pool_limit`,
      help: 'Connections the pool may open now (its max, or the adaptive limit)',
      registers: reg,
      collect() {
        this.set(take().pool.limit);
      },
    });
    // Pipelined statements (docs/database.md#pipelined-statements); zero while the database does not pipeline.
    new Gauge({
      name: `${p}db_pipeline_connections`,
      help: 'Connections held for pipelined statements now (given back to the pool when idle)',
      registers: reg,
      collect() {
        this.set(take().pipeline?.connections ?? 0);
      },
    });
    new Gauge({
      name: `${p}db_pipeline_in_flight_statements`,
      help: 'Pipelined statements sent and not yet answered',
      registers: reg,
      collect() {
        this.set(take().pipeline?.inFlight ?? 0);
      },
    });
    new Gauge({
      name: `${p}db_pipeline_waiting_statements`,
      help: 'Statements waiting for a pipelined connection or for room on one',
      registers: reg,
      collect() {
        this.set(take().pipeline?.waiting ?? 0);
      },
    });
    new Counter({
      name: `${p}db_pipeline_statements_total`,
      help: 'Statements sent pipelined (a read sent again counts again)',
      registers: reg,
      collect() {
        this.reset();
        this.inc(take().pipeline?.sent ?? 0);
      },
    });
    new Counter({
      name: `${p}db_pipeline_reads_resent_total`,
      help: 'Pipelined reads sent again on another connection after theirs broke',
      registers: reg,
      collect() {
        this.reset();
        this.inc(take().pipeline?.resent ?? 0);
      },
    });
    new Counter({
      name: `${p}db_pipeline_writes_unknown_total`,
      help: 'Pipelined writes whose connection broke before their answer (ERR_DB_WRITE_UNKNOWN)',
      registers: reg,
      collect() {
        this.reset();
        this.inc(take().pipeline?.writesUnknown ?? 0);
      },
    });
    // Read replicas (docs/database.md#read-replicas); no samples while the database has none.
    new Counter({
      name: `${p}db_reads_total`,
      help: 'Reads outside transactions of a database with read replicas, by where they ran (primary, replica)',
      labelNames: ['target'],
      registers: reg,
      collect() {
        this.reset();
        const r = take().replicas;
        if (r === undefined) return;
        setCounter(this, { target: 'primary' }, r.reads.primary);
        setCounter(this, { target: 'replica' }, r.reads.replica);
      },
    });
    new Counter({
      name: `${p}db_read_your_writes_fallbacks_total`,
      help: "Reads sent to the primary because no usable replica had replayed the caller's latest write",
      registers: reg,
      collect() {
        this.reset();
        const r = take().replicas;
        if (r !== undefined) this.inc(r.readYourWritesFallbacks);
      },
    });
    new Gauge({
      name: `${p}db_replica_lag_seconds`,
      help: 'How far each read replica was behind the primary at its last check',
      labelNames: ['replica'],
      registers: reg,
      collect() {
        this.reset();
        for (const r of take().replicas?.replicas ?? []) {
          if (r.lagMs !== undefined) this.set({ replica: r.name }, r.lagMs / 1000);
        }
      },
    });
    new Gauge({
      name: `${p}db_replica_state`,
      help: "Each read replica's state: 1 for the current one of ok, lagging, unreachable, not_replica, unknown",
      labelNames: ['replica', 'state'],
      registers: reg,
      collect() {
        this.reset();
        for (const r of take().replicas?.replicas ?? []) {
          for (const state of REPLICA_STATES) this.set({ replica: r.name, state }, r.state === state ? 1 : 0);
        }
      },
    });
    new Counter({
      name: `${p}db_replica_reads_total`,
      help: 'Reads each read replica served',
      labelNames: ['replica'],
      registers: reg,
      collect() {
        this.reset();
        for (const r of take().replicas?.replicas ?? []) setCounter(this, { replica: r.name }, r.reads);
      },
    });
    new Counter({
      name: `${p}db_replica_skips_total`,
      help: 'Reads that passed a read replica over, by reason (unreachable, lagging)',
      labelNames: ['replica', 'reason'],
      registers: reg,
      collect() {
        this.reset();
        for (const r of take().replicas?.replicas ?? []) {
          setCounter(this, { replica: r.name, reason: 'unreachable' }, r.skipped.unreachable);
          setCounter(this, { replica: r.name, reason: 'lagging' }, r.skipped.lagging);
        }
      },
    });
    new Counter({
      name: `${p}db_replica_failovers_total`,
      help: 'Reads that failed on a read replica (connection, conflict with recovery) and ran again on the primary',
      labelNames: ['replica'],
      registers: reg,
      collect() {
        this.reset();
        for (const r of take().replicas?.replicas ?? []) setCounter(this, { replica: r.name }, r.failovers);
      },
    });
    const acquireWait = new Histogram({
      name: `${p}db_pool_acquire_wait_seconds`,
      help: 'Time to get a pooled connection (every Database of the process)',
      buckets: DB_BUCKETS,
      registers: reg,
    });
    subscribe(dbChannels.acquire, (message) => {
      const m = message as { waitMs?: unknown };
      if (typeof m.waitMs === 'number' && m.waitMs >= 0) acquireWait.observe(m.waitMs / 1000);
    });
  }

  // ---- cache ----
  const cache = options.cache;
  if (cache) {
    new Counter({
      name: `${p}cache_requests_total`,
      help: 'Cache lookups by level (l1, l2) and result (hit, miss)',
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
      name: `${p}cache_l1_stale_refusals_total`,
      help: 'L1 entries not served because the invalidation bus was not heard from within maxStalenessMs',
      registers: reg,
      collect() {
        this.reset();
        this.inc(cache.metrics().l1StaleRefusals);
      },
    });
    new Counter({
      name: `${p}cache_errors_total`,
      help: 'Cache-side failures by kind (redis_error, redis_timeout, loader_error, serialization)',
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
    new Counter({
      name: `${p}cache_warmed_keys_total`,
      help: 'Keys loaded into the in-process cache by warming (the hot keys recorded in Redis, the popular videos)',
      registers: reg,
      collect() {
        this.reset();
        this.inc(cache.metrics().warmedKeys);
      },
    });
    new Counter({
      name: `${p}cache_refresh_ahead_total`,
      help: 'Reloads of hot entries started before they expired (refresh-ahead)',
      registers: reg,
      collect() {
        this.reset();
        this.inc(cache.metrics().refreshAheads);
      },
    });
    new Gauge({
      name: `${p}cache_hit_ratio`,
      help: 'hits / (hits + misses) since the process started (0 to 1)',
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
  subscribe(httpChannels.response, (message) => {
    const m = message as { service?: unknown; status?: unknown; durationMs?: unknown };
    if (typeof m.durationMs !== 'number') return;
    httpDuration.observe(
      { service: String(m.service), status_class: statusClass(m.status) },
      m.durationMs / 1000,
    );
  });

  const sources = options.httpMetrics ?? [];
  if (sources.length > 0) {
    let pending: Promise<ServiceMetrics[]> | undefined;
    // One read of every source per scrape, shared by every HTTP series.
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
      help: 'Calls to external APIs by service and endpoint (an operation name or a path template)',
      labelNames: ['service', 'endpoint'],
      registers: reg,
      async collect() {
        this.reset();
        for (const s of await take()) {
          for (const [endpoint, n] of boundedCounts(s.requestsByEndpoint, endpointTemplate, MAX_ENDPOINTS)) {
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
      help: '1 for the circuit breaker state a service is in, 0 for the others (CLOSED, OPEN, HALF_OPEN)',
      labelNames: ['service', 'state'],
      registers: reg,
      async collect() {
        this.reset();
        for (const s of await take()) {
          if (!(BREAKER_STATES as readonly string[]).includes(s.breakerState)) continue;
          for (const state of BREAKER_STATES)
            this.set({ service: s.service, state }, state === s.breakerState ? 1 : 0);
        }
      },
    });
    // Per base URL of a client with several (docs/http.md, "Several endpoints"); `origin` is scheme,
    // host and port only, never credentials or a path.
    type Origin = ServiceMetrics['origins'][string];
    /** One series per service and base URL origin; `pick` undefined leaves the origin out. */
    const perOrigin = (
      Metric: typeof Counter | typeof Gauge,
      name: string,
      help: string,
      pick: (o: Origin) => number | undefined,
    ): void => {
      new Metric({
        name: `${p}${name}`,
        help,
        labelNames: ['service', 'origin'],
        registers: reg,
        async collect(this: Counter<string> | Gauge<string>) {
          this.reset();
          for (const s of await take()) {
            for (const [origin, o] of Object.entries(s.origins ?? {})) {
              const value = pick(o);
              if (value === undefined) continue;
              if (this instanceof Counter) setCounter(this, { service: s.service, origin }, value);
              else this.set({ service: s.service, origin }, value);
            }
          }
        },
      });
    };
    perOrigin(
      Counter,
      'http_client_origin_attempts_total',
      'Attempts (first tries and retries) by service and base URL origin',
      (o) => o.attempts,
    );
    perOrigin(
      Counter,
      'http_client_origin_failed_attempts_total',
      'Attempts that failed, by service and base URL origin',
      (o) => o.failedAttempts,
    );
    perOrigin(
      Gauge,
      'http_client_origin_concurrency_limit',
      'The adaptive concurrency limit of each base URL (clients with adaptiveConcurrency)',
      (o) => o.concurrency?.limit,
    );
    perOrigin(
      Gauge,
      'http_client_origin_concurrency_waiting',
      'Calls waiting for a permit of the adaptive concurrency limit, by base URL',
      (o) => o.concurrency?.waiting,
    );
    new Gauge({
      name: `${p}http_client_origin_breaker_state`,
      help: "1 for the state each base URL's own circuit breaker is in, 0 for the others",
      labelNames: ['service', 'origin', 'state'],
      registers: reg,
      async collect() {
        this.reset();
        for (const s of await take()) {
          for (const [origin, o] of Object.entries(s.origins ?? {})) {
            if (!(BREAKER_STATES as readonly string[]).includes(o.breakerState)) continue;
            for (const state of BREAKER_STATES)
              this.set({ service: s.service, origin, state }, state === o.breakerState ? 1 : 0);
          }
        }
      },
    });
    const quotaGauge = (stat: 'limit' | 'used' | 'remaining', help: string): Gauge<string> =>
      new Gauge({
        name: `${p}http_client_quota_${stat}`,
        help,
        labelNames: ['service', 'quota'],
        registers: reg,
        async collect() {
          this.reset();
          for (const s of await take()) {
            for (const q of s.quota) this.set({ service: s.service, quota: q.name }, q[stat]);
          }
        },
      });
    quotaGauge(
      'limit',
      'Size of each quota window of a service, in its own units (requests, tokens, credits)',
    );
    quotaGauge('used', 'Units used in each quota window of a service (shared across processes with Redis)');
    quotaGauge('remaining', 'Units left in each quota window of a service');
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
    help: 'Duration of pipeline stages by stage and outcome (in the processes that run the pipeline)',
    labelNames: ['stage', 'outcome'],
    buckets: STAGE_BUCKETS,
    registers: reg,
  });
  const observeStage = (stage: string, durationMs: number, outcome = 'ok'): void => {
    if (!Number.isFinite(durationMs) || durationMs < 0) return;
    stageDuration.observe({ stage, outcome }, durationMs / 1000);
  };
  subscribe(pipelineStageChannel, (message) => {
    const m = message as Partial<PipelineStageMessage>;
    if (typeof m.stage !== 'string' || typeof m.durationMs !== 'number') return;
    observeStage(m.stage, m.durationMs, typeof m.outcome === 'string' ? m.outcome : 'ok');
  });

  let closed = false;
  return {
    registry,
    contentType: registry.contentType,
    observeStage,
    metrics: () => registry.metrics(),
    close() {
      if (closed) return;
      closed = true;
      for (const off of unsubscribe) off();
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
