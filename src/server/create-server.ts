import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyCors from '@fastify/cors';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { context, propagation, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Logger as PinoLogger } from 'pino';
import { Counter, Histogram } from 'prom-client';
import { LatencyRecorder, type Logger } from '../core/index.js';
import { tracer } from '../core/tracing.js';
import type { Queryable } from '../db/index.js';
import type { PipelineQueue, QueueJobInfo, QueueJobState } from '../pipeline/pipeline-queue.js';
import {
  type Clip,
  createVideoStore,
  StoreError,
  type StoreSchema,
  VIDEO_STATUSES,
  type Video,
  type VideoStatus,
  type VideoStore,
} from '../store/index.js';
import { assetUrlBuilder } from './asset-url.js';
import {
  type CacheMetricsSource,
  createMetricsRegistry,
  type DbMetricsSource,
  type HttpMetricsSource,
  type MetricsRegistry,
} from './metrics-registry.js';
import {
  clipSchema,
  createVideoSchema,
  errorSchema,
  getJobSchema,
  getVideoSchema,
  healthSchema,
  jobSchema,
  listClipsSchema,
  listJobsSchema,
  listVideosSchema,
  readySchema,
  statsSchema,
  summarySchema,
  videoSchema,
} from './route-schemas.js';
import { ServerError, ServerErrorCode } from './server-error.js';
import { createServerLogger, type ServerLoggerOptions } from './server-logger.js';

/** What readiness needs from Redis: an ioredis client has it. */
export interface RedisPinger {
  ping(): Promise<string>;
}

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
  /** Serve the OpenAPI document and Swagger UI at /docs (default true). */
  docs?: boolean;
}

export interface OpusServer {
  readonly app: FastifyInstance;
  readonly metrics: MetricsRegistry;
  /** Starts listening (default 127.0.0.1 and a free port) and returns the base URL. */
  listen(options?: { port?: number; host?: string }): Promise<string>;
  /** Stops the HTTP server; closes only what createServer created (never the db, Redis or queue). */
  close(): Promise<void>;
}

const DASHBOARD_DIR = locateDashboard();
const PUBLIC_PREFIXES = ['/assets/', '/docs', '/dashboard.', '/favicon'];
const PUBLIC_PATHS = new Set(['/', '/index.html', '/healthz', '/readyz']);
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

function locateDashboard(): string {
  const here = fileURLToPath(new URL('./dashboard/', import.meta.url));
  if (existsSync(here)) return here;
  // Built to dist/server/: tsc copies no HTML, so fall back to the sources in the package.
  return fileURLToPath(new URL('../../src/server/dashboard/', import.meta.url));
}

declare module 'fastify' {
  interface FastifyRequest {
    otelSpan: Span | undefined;
    /** Aborts when the client goes away before the answer is written (cancels store queries). */
    clientGone: AbortController;
  }
}

function hashKey(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers['x-api-key'];
  if (typeof header === 'string' && header.length > 0) return header;
  const auth = request.headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)$/i.exec(auth);
    if (m) return m[1];
  }
  return undefined;
}

function iso(d: Date | null | undefined): string | null {
  return d ? d.toISOString() : null;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The field named in a validation error: `url`, `limit`, `id`... */
function fieldOf(error: FastifyError): string | undefined {
  const v = error.validation?.[0];
  if (!v) return undefined;
  const params = v.params as Record<string, unknown>;
  const path = v.instancePath.replace(/^\//, '').replace(/\//g, '.');
  const extra =
    typeof params.missingProperty === 'string'
      ? params.missingProperty
      : typeof params.additionalProperty === 'string'
        ? params.additionalProperty
        : '';
  return [path, extra].filter(Boolean).join('.') || undefined;
}

/**
 * The REST service (Fastify 5): videos, clips, jobs, stats, health, Prometheus metrics, the OpenAPI
 * document and the live dashboard. Takes explicit dependencies; `serve()` builds them from a config.
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
  const keyHashes = apiKeys.map(hashKey);
  const logger =
    options.logger && 'info' in options.logger
      ? (options.logger as PinoLogger)
      : createServerLogger({ ...(options.logger as ServerLoggerOptions | undefined), secrets: apiKeys });
  const ownMetrics = options.metrics === undefined;
  const metrics =
    options.metrics ??
    createMetricsRegistry({
      db: options.db,
      ...(options.cache ? { cache: options.cache } : {}),
      ...(options.httpMetrics ? { httpMetrics: options.httpMetrics } : {}),
      ...(options.queue ? { queue: options.queue } : {}),
    });
  const store = options.store ?? createVideoStore(options.db);
  const queue = options.queue;
  const readinessTimeoutMs = options.readinessTimeoutMs ?? 1000;
  const assetsDir = options.assetsDir ? resolve(options.assetsDir) : undefined;
  const startedAt = Date.now();

  const app = Fastify({
    loggerInstance: logger,
    // An incoming x-request-id is kept when it is a plain token (never raw text into logs).
    genReqId: (req) => {
      const header = req.headers['x-request-id'];
      return typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
    },
    ajv: { customOptions: { removeAdditional: false } },
  });

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

  // ---- tracing, request id, auth ----
  app.decorateRequest('otelSpan', undefined);
  app.decorateRequest('clientGone', undefined as unknown as AbortController);
  app.addHook('onRequest', async (request, reply) => {
    const gone = new AbortController();
    request.clientGone = gone;
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) gone.abort();
    });
    reply.header('x-request-id', request.id);
    const route = request.routeOptions.url ?? 'unmatched';
    const parent = propagation.extract(context.active(), request.headers);
    request.otelSpan = tracer.startSpan(
      `${request.method} ${route}`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': request.method,
          'http.route': route,
          'url.path': request.url.split('?')[0] ?? '',
          'opusclip.request_id': request.id,
        },
      },
      parent,
    );
    if (options.auth === false) return;
    const path = request.url.split('?')[0] ?? '';
    if (PUBLIC_PATHS.has(path) || PUBLIC_PREFIXES.some((p) => path.startsWith(p))) return;
    if (path === '/metrics' && options.publicMetrics) return;
    const key = presentedKey(request);
    const given = key === undefined ? undefined : hashKey(key);
    // Compare hashes in constant time so response timing reveals nothing about the keys.
    if (given === undefined || !keyHashes.some((h) => timingSafeEqual(h, given))) {
      authFailures.inc();
      throw new ServerError(
        ServerErrorCode.Unauthorized,
        401,
        'A valid API key is required (x-api-key or Bearer)',
      );
    }
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const seconds = reply.elapsedTime / 1000;
    requestDuration.observe(
      { method: request.method, route, status_code: String(reply.statusCode) },
      seconds,
    );
    recentLatency.record(reply.elapsedTime);
    requestCount++;
    const span = request.otelSpan;
    if (span) {
      span.setAttribute('http.response.status_code', reply.statusCode);
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
  });

  app.setErrorHandler((error: FastifyError | ServerError | StoreError | Error, request, reply) => {
    const fe = error as FastifyError;
    if (fe.validation) {
      const field = fieldOf(fe);
      return reply.status(400).send({
        statusCode: 400,
        code: ServerErrorCode.BadRequest,
        error: 'Bad Request',
        message: fe.message,
        ...(field ? { field } : {}),
        requestId: request.id,
      });
    }
    if (error instanceof ServerError) {
      return reply.status(error.statusCode).send({
        statusCode: error.statusCode,
        code: error.code,
        error: error.statusCode === 401 ? 'Unauthorized' : error.statusCode === 404 ? 'Not Found' : 'Error',
        message: error.message,
        ...(typeof error.details.field === 'string' ? { field: error.details.field } : {}),
        requestId: request.id,
      });
    }
    if (error instanceof StoreError && error.code !== 'ERR_STORE_NOT_FOUND') {
      const field = typeof error.details.field === 'string' ? error.details.field : undefined;
      return reply.status(400).send({
        statusCode: 400,
        code: error.code,
        error: 'Bad Request',
        message: error.message,
        ...(field ? { field } : {}),
        requestId: request.id,
      });
    }
    const status = typeof fe.statusCode === 'number' && fe.statusCode >= 400 ? fe.statusCode : 500;
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    request.otelSpan?.recordException(error);
    return reply.status(status).send({
      statusCode: status,
      code: (error as { code?: string }).code ?? 'ERR_SERVER_INTERNAL',
      error: status >= 500 ? 'Internal Server Error' : 'Error',
      message: status >= 500 ? 'Internal error' : error.message,
      requestId: request.id,
    });
  });

  // ---- CORS, OpenAPI, docs, static files ----
  if (options.cors) {
    const origin = options.cors.origin;
    await app.register(fastifyCors, {
      origin: typeof origin === 'string' || origin === true ? origin : [...origin],
    });
  }
  for (const schema of [errorSchema, videoSchema, clipSchema, jobSchema]) app.addSchema(schema);
  if (options.docs !== false) {
    await app.register(fastifySwagger, {
      openapi: {
        openapi: '3.0.3',
        info: {
          title: 'video-opusclip',
          description: 'Videos, clips, pipeline jobs and stats of the video-clipping service',
          version: '0.1.0',
        },
        components: {
          securitySchemes: {
            apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' },
            bearer: { type: 'http', scheme: 'bearer' },
          },
        },
        security: options.auth === false ? [] : [{ apiKey: [] }, { bearer: [] }],
      },
      refResolver: {
        buildLocalReference: (json, _baseUri, _fragment, i) =>
          typeof json.$id === 'string' ? json.$id : `def-${i}`,
      },
    });
    await app.register(fastifySwaggerUi, { routePrefix: '/docs', logLevel: 'warn' });
  }
  await app.register(fastifyStatic, {
    root: DASHBOARD_DIR,
    prefix: '/',
    wildcard: false,
    index: 'index.html',
  });
  if (assetsDir) {
    await app.register(fastifyStatic, { root: assetsDir, prefix: '/assets/', decorateReply: false });
  }

  const assetUrl = assetUrlBuilder(assetsDir);
  const videoDto = (v: Video) => ({
    ...v,
    publishedAt: iso(v.publishedAt),
    createdAt: iso(v.createdAt),
    updatedAt: iso(v.updatedAt),
    thumbnailUrl: assetUrl(v.thumbnailPath),
  });
  const clipDto = (c: Clip) => ({
    ...c,
    createdAt: iso(c.createdAt),
    fileUrl: assetUrl(c.filePath),
    thumbnailUrl: assetUrl(c.thumbnailPath),
    narrationUrl: assetUrl(c.narrationPath),
  });
  const jobDto = (j: QueueJobInfo) => ({
    ...j,
    createdAt: iso(j.createdAt),
    finishedAt: iso(j.finishedAt),
    failedReason: j.failedReason ?? null,
    requestId: j.requestId ?? null,
  });
  const needQueue = (): PipelineQueue => {
    if (!queue) throw new ServerError(ServerErrorCode.Unavailable, 503, 'No pipeline queue is configured');
    return queue;
  };
  const signalOf = (request: FastifyRequest): AbortSignal => request.clientGone.signal;
  const traced = <T>(request: FastifyRequest, fn: () => Promise<T>): Promise<T> => {
    const span = request.otelSpan;
    return span ? context.with(trace.setSpan(context.active(), span), fn) : fn();
  };

  // ---- health ----
  app.get('/healthz', { schema: healthSchema }, async () => ({
    status: 'ok',
    uptimeSeconds: (Date.now() - startedAt) / 1000,
  }));

  app.get('/readyz', { schema: readySchema }, async (_request, reply) => {
    const check = async (what: string, fn: () => Promise<unknown>) => {
      const t0 = performance.now();
      try {
        await withTimeout(fn(), readinessTimeoutMs, what);
        return { ok: true, ms: performance.now() - t0 };
      } catch (error) {
        return { ok: false, ms: performance.now() - t0, error: (error as Error).message.slice(0, 200) };
      }
    };
    const [database, redis] = await Promise.all([
      check('database', () =>
        options.db.execute(
          { sql: 'select 1', parameters: [] },
          { name: 'readyz', signal: AbortSignal.timeout(readinessTimeoutMs) },
        ),
      ),
      options.redis ? check('redis', () => options.redis!.ping()) : Promise.resolve(undefined),
    ]);
    const checks = redis ? { database, redis } : { database };
    const ready = Object.values(checks).every((c) => c.ok);
    // Error texts could carry a connection string: redact through the logger's scrubber.
    for (const c of Object.values(checks)) if (c.error) c.error = c.error.replace(/\/\/[^@\s]*@/g, '//***@');
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'unavailable', checks });
  });

  app.get('/metrics', async (_request, reply) => {
    const text = await metrics.metrics();
    return reply.type(metrics.contentType).send(text);
  });

  // ---- videos ----
  app.get<{ Querystring: { status?: VideoStatus; limit: number; cursor?: string } }>(
    '/api/videos',
    { schema: listVideosSchema },
    async (request) =>
      traced(request, async () => {
        const { status, limit, cursor } = request.query;
        const signal = signalOf(request);
        const page = (s: VideoStatus) =>
          store.getVideosByStatus(s, { limit, cursor: cursor ?? null, signal });
        if (status) {
          const p = await page(status);
          return { items: p.items.map(videoDto), nextCursor: p.nextCursor };
        }
        // All statuses: ids are UUIDv7 (time-ordered), so merging per-status pages by id keeps the
        // keyset order and the same cursor works across them.
        const pages = await Promise.all(VIDEO_STATUSES.map(page));
        const merged = pages
          .flatMap((p) => p.items)
          .sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
          .slice(0, limit);
        const nextCursor = merged.length === limit ? (merged.at(-1)?.id ?? null) : null;
        return { items: merged.map(videoDto), nextCursor };
      }),
  );

  app.get<{ Params: { id: string } }>('/api/videos/:id', { schema: getVideoSchema }, async (request) =>
    traced(request, async () => {
      const video = await store.getVideoById(request.params.id, { signal: signalOf(request) });
      if (!video)
        throw new ServerError(ServerErrorCode.NotFound, 404, 'No such video', { details: { field: 'id' } });
      return videoDto(video);
    }),
  );

  app.post<{ Body: { url: string; priority?: number } }>(
    '/api/videos',
    { schema: createVideoSchema },
    async (request, reply) =>
      traced(request, async () => {
        const q = needQueue();
        const { enqueued, rejected } = await q.enqueue([request.body.url], {
          requestId: request.id,
          ...(request.body.priority !== undefined ? { priority: request.body.priority } : {}),
        });
        const job = enqueued[0];
        if (!job) {
          const reason = rejected[0]?.reason ?? 'not a video URL';
          throw new ServerError(ServerErrorCode.BadRequest, 400, `url: ${reason}`, {
            details: { field: 'url' },
          });
        }
        const video = await store.createVideo({ url: job.url }, { signal: signalOf(request) });
        request.log.info({ jobId: job.jobId, videoId: video.id, duplicate: job.duplicate }, 'video enqueued');
        return reply.status(202).send({
          jobId: job.jobId,
          videoId: video.id,
          youtubeId: job.youtubeId,
          url: job.url,
          duplicate: job.duplicate,
          requestId: request.id,
        });
      }),
  );

  app.get<{ Params: { id: string } }>('/api/videos/:id/clips', { schema: listClipsSchema }, async (request) =>
    traced(request, async () => {
      const signal = signalOf(request);
      const video = await store.getVideoById(request.params.id, { signal });
      if (!video)
        throw new ServerError(ServerErrorCode.NotFound, 404, 'No such video', { details: { field: 'id' } });
      const clips = await store.getClipsByVideoId(video.id, { signal });
      return { items: clips.map(clipDto) };
    }),
  );

  // ---- jobs ----
  app.get<{ Querystring: { state?: QueueJobState; limit: number } }>(
    '/api/jobs',
    { schema: listJobsSchema },
    async (request) =>
      traced(request, async () => {
        const q = needQueue();
        const states: QueueJobState[] = request.query.state
          ? [request.query.state]
          : ['active', 'waiting', 'delayed', 'prioritized', 'failed', 'completed'];
        const [items, counts] = await Promise.all([
          q.getJobs(states, 0, request.query.limit - 1),
          q.counts(),
        ]);
        return { items: items.map(jobDto), counts };
      }),
  );

  app.get<{ Params: { id: string } }>('/api/jobs/:id', { schema: getJobSchema }, async (request) =>
    traced(request, async () => {
      const job = await needQueue().getJob(request.params.id);
      if (!job)
        throw new ServerError(ServerErrorCode.NotFound, 404, 'No such job', { details: { field: 'id' } });
      return jobDto(job);
    }),
  );

  // ---- stats ----
  app.get('/api/stats', { schema: statsSchema }, async (request) =>
    traced(request, async () => {
      const [stats, counts] = await Promise.all([
        store.stats({ signal: signalOf(request) }),
        queue ? queue.counts().catch(() => undefined) : Promise.resolve(undefined),
      ]);
      return counts ? { ...stats, queue: counts } : stats;
    }),
  );

  app.get('/api/metrics/summary', { schema: summarySchema }, async () => {
    const db = options.db.metrics();
    const cache = options.cache?.metrics();
    const [counts, http] = await Promise.all([
      queue ? queue.counts().catch(() => undefined) : Promise.resolve(undefined),
      Promise.all((options.httpMetrics ?? []).map((s) => s.getApiMetrics().catch(() => undefined))),
    ]);
    const server = recentLatency.summary();
    return {
      time: Date.now(),
      ...(counts ? { queue: counts } : {}),
      server: { requests: requestCount, p50Ms: server.p50Ms, p95Ms: server.p95Ms },
      db: { queries: db.queriesExecuted, avgMs: db.latency.avgMs, p95Ms: db.latency.p95Ms },
      ...(cache ? { cache: { hits: cache.hits, misses: cache.misses, hitRate: cache.cacheHitRate } } : {}),
      http: http
        .filter((s) => s !== undefined)
        .map((s) => ({
          service: s.service,
          requests: s.totalRequests,
          avgMs: s.avgResponseTime,
          p95Ms: s.latency.p95Ms,
          quotaUsed: s.quota.reduce((n, q) => n + q.used, 0),
          quotaLimit: s.quota.reduce((n, q) => n + q.limit, 0),
        })),
    };
  });

  await app.ready();

  return {
    // Typed with the default logger type so callers need not know it is pino.
    app: app as unknown as FastifyInstance,
    metrics,
    async listen(listenOptions = {}) {
      return app.listen({ port: listenOptions.port ?? 0, host: listenOptions.host ?? '127.0.0.1' });
    },
    async close() {
      await app.close();
      if (ownMetrics) metrics.close();
    },
  };
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
