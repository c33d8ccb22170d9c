import { resolve } from 'node:path';
import fastifyCors from '@fastify/cors';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger as PinoLogger } from 'pino';
import { Counter, Histogram } from 'prom-client';
import { LatencyRecorder, type Logger } from '../core/index.js';
import type { Queryable } from '../db/index.js';
import type { PipelineQueue } from '../pipeline/pipeline-queue.js';
import { createVideoStore, type StoreSchema, type VideoStore } from '../store/index.js';
import { ApiDto } from './api-dto.js';
import { installApiKeyAuth } from './api-key-auth.js';
import { withDeadline } from './dependency-deadline.js';
import { frameworkErrorResponse, installErrorResponses } from './error-responses.js';
import { ServerError, ServerErrorCode } from './errors.js';
import { finiteNumbersPlugin } from './finite-numbers.js';
import {
  type CacheMetricsSource,
  createMetricsRegistry,
  type DbMetricsSource,
  type HttpMetricsSource,
  type MetricsRegistry,
} from './metrics-registry.js';
import { registerOpenApiDocs } from './openapi-docs.js';
import { installRequestContext, requestIdOf } from './request-context.js';
import { createRouteContext, type RedisPinger } from './route-context.js';
import { clipSchema, errorSchema, jobSchema, videoSchema } from './route-schemas.js';
import { healthRoutes } from './routes/health-routes.js';
import { jobRoutes } from './routes/job-routes.js';
import { metricsRoute } from './routes/metrics-route.js';
import { statsRoutes } from './routes/stats-routes.js';
import { videoRoutes } from './routes/video-routes.js';
import { registerSecurityHeaders } from './security-headers.js';
import { createServerLogger, type ServerLoggerOptions } from './server-logger.js';
import { registerStaticFiles } from './static-files.js';

export type { RedisPinger } from './route-context.js';

export interface ServerOptions {
  /** The database (a Database from createDatabase): the store runs on it and /readyz queries it. */
  db: Queryable<StoreSchema> & DbMetricsSource;
  /** Default: createVideoStore(db). */
  store?: VideoStore;
  /** Redis for /readyz (an ioredis client). Without it readiness checks the database only. */
  redis?: RedisPinger;
  /** The BullMQ producer; without it POST /api/videos and the job routes answer 503. */
  queue?: PipelineQueue;
  cache?: CacheMetricsSource;
  /** HttpClients (or anything with getApiMetrics) whose calls /metrics reports. */
  httpMetrics?: readonly HttpMetricsSource[];
  /** Default: a fresh createMetricsRegistry over db, cache, httpMetrics and queue. */
  metrics?: MetricsRegistry;
  /**
   * API keys accepted in `x-api-key` or `Authorization: Bearer`. Required: pass `false` to run without
   * authentication (then explicitly so).
   */
  auth: { apiKeys: readonly string[] } | false;
  /** Serve /metrics without a key (for a Prometheus without credentials); default false. */
  publicMetrics?: boolean;
  /** CORS origins; default off (no CORS headers). */
  cors?: false | { origin: string | readonly string[] | true };
  /** Directory served under /assets/ (thumbnails, clips, narration); clip paths inside it get URLs. */
  assetsDir?: string;
  /** A pino logger, or options for createServerLogger (default: JSON at 'info'). */
  logger?: PinoLogger | ServerLoggerOptions;
  /** Timeout of each readiness check (default 1000 ms). */
  readinessTimeoutMs?: number;
  /**
   * Deadline of each call a request makes to the database or Redis (default 3000 ms); past it the
   * request answers 503 ERR_SERVER_UNAVAILABLE.
   */
  dependencyTimeoutMs?: number;
  /** Longest close() waits for requests in flight before it drops their connections (default 5000 ms). */
  closeTimeoutMs?: number;
  /** Largest request body in bytes (default 64 KiB); larger bodies answer 413. */
  bodyLimit?: number;
  /** Serve the OpenAPI document and Swagger UI at /docs (default true). */
  docs?: boolean;
  /** The base URL clients use, for the OpenAPI document's `servers` (default: relative, `/`). */
  publicUrl?: string;
}

export interface OpusServer {
  readonly app: FastifyInstance;
  readonly metrics: MetricsRegistry;
  /** Starts listening (default 127.0.0.1 and a free port) and returns the base URL it listens on. */
  listen(options?: { port?: number; host?: string }): Promise<string>;
  /**
   * Stops the HTTP server; closes only what createServer created (never the db, Redis or queue).
   * Requests still in flight after `closeTimeoutMs` have their connections dropped.
   */
  close(): Promise<void>;
}

/**
 * The REST service (Fastify 5): videos, clips, jobs, stats, health, Prometheus metrics, the OpenAPI
 * document and the live dashboard. Takes explicit dependencies; `serve()` builds them from a config.
 * Each concern is its own module; this function wires them in the order Fastify needs.
 */
export async function createServer(options: ServerOptions): Promise<OpusServer> {
  if (options.auth !== false && options.auth.apiKeys.filter((k) => k.length > 0).length === 0) {
    throw new ServerError(
      ServerErrorCode.Config,
      500,
      'auth needs at least one API key; pass auth: false to run without authentication',
    );
  }
  const apiKeys = options.auth === false ? [] : options.auth.apiKeys.filter((k) => k.length > 0);
  const logger =
    options.logger && 'info' in options.logger
      ? (options.logger as PinoLogger)
      : createServerLogger({ ...(options.logger as ServerLoggerOptions | undefined), secrets: apiKeys });
  const dependencyTimeoutMs = options.dependencyTimeoutMs ?? 3000;
  const closeTimeoutMs = options.closeTimeoutMs ?? 5000;
  const queue = options.queue;
  const ownMetrics = options.metrics === undefined;
  const metrics =
    options.metrics ??
    createMetricsRegistry({
      db: options.db,
      ...(options.cache ? { cache: options.cache } : {}),
      // A scrape must not wait for a Redis that is gone or hung: the quota and queue series are left
      // out of that scrape instead.
      ...(options.httpMetrics
        ? {
            httpMetrics: options.httpMetrics.map((source) => boundedSource(source, dependencyTimeoutMs)),
          }
        : {}),
      ...(queue
        ? {
            queue: {
              counts: () => withDeadline('redis', dependencyTimeoutMs, undefined, () => queue.counts()),
            },
          }
        : {}),
    });
  const assetsDir = options.assetsDir ? resolve(options.assetsDir) : undefined;

  const app = Fastify({
    loggerInstance: logger,
    genReqId: requestIdOf,
    frameworkErrors: frameworkErrorResponse,
    bodyLimit: options.bodyLimit ?? 64 * 1024,
    // Numbers must be finite: `?limit=Infinity` or `1e400` fail validation instead of passing as Infinity.
    ajv: { customOptions: { removeAdditional: false, strictNumbers: true }, plugins: [finiteNumbersPlugin] },
    // Idle keep-alive connections close with the server; busy ones are dropped by close()'s bound.
    forceCloseConnections: 'idle',
  }) as unknown as FastifyInstance;

  // ---- server-side metrics ----
  const requestDuration = new Histogram({
    name: 'opusclip_server_request_duration_seconds',
    help: "Latency of the service's own HTTP requests by method, route and status",
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [metrics.registry],
  });
  const authFailures = new Counter({
    name: 'opusclip_server_auth_failures_total',
    help: 'Requests refused for a missing or wrong API key',
    registers: [metrics.registry],
  });
  const recentLatency = new LatencyRecorder(1024);
  let requestCount = 0;
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const seconds = reply.elapsedTime / 1000;
    requestDuration.observe(
      { method: request.method, route, status_code: String(reply.statusCode) },
      seconds,
    );
    recentLatency.record(reply.elapsedTime);
    requestCount++;
  });

  // ---- cross-cutting: headers, request context, auth, errors, CORS ----
  // Security headers first: their hook must run before auth's, which ends refused requests early.
  await registerSecurityHeaders(app);
  installRequestContext(app);
  if (options.auth !== false) {
    installApiKeyAuth(app, {
      apiKeys,
      publicMetrics: options.publicMetrics === true,
      onFailure: () => authFailures.inc(),
    });
  }
  installErrorResponses(app);
  if (options.cors) {
    const origin = options.cors.origin;
    await app.register(fastifyCors, {
      origin: typeof origin === 'string' || origin === true ? origin : [...origin],
    });
  }

  // ---- documents and files ----
  for (const schema of [errorSchema, videoSchema, clipSchema, jobSchema]) app.addSchema(schema);
  if (options.docs !== false) {
    await registerOpenApiDocs(app, {
      authenticated: options.auth !== false,
      ...(options.publicUrl ? { publicUrl: options.publicUrl } : {}),
    });
  }
  await registerStaticFiles(app, assetsDir);

  // ---- routes ----
  const ctx = createRouteContext({
    db: options.db,
    store: options.store ?? createVideoStore(options.db),
    queue,
    redis: options.redis,
    cache: options.cache,
    httpMetrics: options.httpMetrics ?? [],
    metrics,
    dto: new ApiDto(assetsDir),
    requestStats: { count: () => requestCount, summary: () => recentLatency.summary() },
    readinessTimeoutMs: options.readinessTimeoutMs ?? 1000,
    dependencyTimeoutMs,
    startedAt: Date.now(),
  });
  await app.register(healthRoutes, ctx);
  await app.register(metricsRoute, {
    ctx,
    isPublic: options.auth === false || options.publicMetrics === true,
  });
  await app.register(videoRoutes, ctx);
  await app.register(jobRoutes, ctx);
  await app.register(statsRoutes, ctx);

  await app.ready();

  return {
    app,
    metrics,
    async listen(listenOptions = {}) {
      await app.listen({ port: listenOptions.port ?? 0, host: listenOptions.host ?? '127.0.0.1' });
      return baseUrl(app);
    },
    async close() {
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((done) => {
        timer = setTimeout(() => {
          // Requests still running past the bound lose their connection; app.close() then settles.
          app.server.closeAllConnections();
          done();
        }, closeTimeoutMs);
      });
      try {
        await Promise.race([app.close(), bound]);
      } finally {
        clearTimeout(timer);
      }
      if (ownMetrics) metrics.close();
    },
  };
}

/**
 * An API-metrics source whose read is bounded: past the deadline the scrape gets the last snapshot read
 * (quota figures may come from Redis, which may be gone or hung).
 */
function boundedSource(source: HttpMetricsSource, timeoutMs: number): HttpMetricsSource {
  let last: Awaited<ReturnType<HttpMetricsSource['getApiMetrics']>> | undefined;
  return {
    async getApiMetrics() {
      try {
        last = await withDeadline('redis', timeoutMs, undefined, () => source.getApiMetrics());
        return last;
      } catch (error) {
        if (last) return last;
        throw error;
      }
    },
  };
}

/** The URL the server really listens on (the bound address and port, IPv6 in brackets). */
function baseUrl(app: FastifyInstance): string {
  const address = app.server.address();
  if (address === null || typeof address === 'string') return String(address);
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}

/** Adapts the service's pino logger to core's Logger (for the db, cache and HTTP layers). */
export function asCoreLogger(logger: PinoLogger): Logger {
  return {
    debug: (obj, msg) => logger.debug(obj, msg),
    info: (obj, msg) => logger.info(obj, msg),
    warn: (obj, msg) => logger.warn(obj, msg),
    error: (obj, msg) => logger.error(obj, msg),
  };
}
