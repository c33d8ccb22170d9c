import { resolve } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger as PinoLogger } from 'pino';
import type { Queryable } from '../db/index.js';
import type { PipelineQueue } from '../pipeline/pipeline-queue.js';
import { createVideoStore, type StoreSchema, type VideoStore } from '../store/index.js';
import { ApiDto } from './api-dto.js';
import { installApiKeyAuth } from './api-key-auth.js';
import { type CorsOptions, registerCors } from './cors.js';
import type { Gateway } from './create-gateway.js';
import { frameworkErrorResponse, installErrorResponses } from './error-responses.js';
import { ServerError, ServerErrorCode } from './errors.js';
import { finiteNumbersPlugin } from './finite-numbers.js';
import type {
  CacheMetricsSource,
  DbMetricsSource,
  HttpMetricsSource,
  MetricsRegistry,
} from './metrics-registry.js';
import { registerOpenApiDocs } from './openapi-docs.js';
import { installRequestContext, requestIdOf } from './request-context.js';
import { installRequestMetrics } from './request-metrics.js';
import { registerResponseCompression } from './response-compression.js';
import { createRouteContext, type RedisPinger } from './route-context.js';
import { clipSchema, errorSchema, jobSchema, videoSchema } from './route-schemas.js';
import { gatewayRoutes } from './routes/gateway-routes.js';
import { healthRoutes } from './routes/health-routes.js';
import { jobRoutes } from './routes/job-routes.js';
import { metricsRoute } from './routes/metrics-route.js';
import { slowQueryRoutes } from './routes/slow-query-routes.js';
import { statsRoutes } from './routes/stats-routes.js';
import { videoRoutes } from './routes/video-routes.js';
import { registerSecurityHeaders } from './security-headers.js';
import { listenOn, within } from './server-lifecycle.js';
import { createServerLogger, type ServerLoggerOptions } from './server-logger.js';
import { createServiceMetrics } from './service-metrics.js';
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
  cors?: false | CorsOptions;
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
  /**
   * The vendor gateway (`createGateway`): `/gateway/<vendor>/*` forwards to the vendors with the keys it
   * holds. Off when not given. createServer does not close it.
   */
  gateway?: Gateway;
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
 * The REST service (Fastify 5): videos, clips, jobs, stats, slow queries, health, Prometheus metrics, the OpenAPI
 * document and the live dashboard. Takes explicit dependencies; `serve()` builds them from a config.
 * Each concern is its own plugin or route module; this function composes them in the order Fastify needs.
 */
export async function createServer(options: ServerOptions): Promise<OpusServer> {
  const apiKeys = acceptedApiKeys(options.auth);
  const dependencyTimeoutMs = options.dependencyTimeoutMs ?? 3000;
  const closeTimeoutMs = options.closeTimeoutMs ?? 5000;
  const ownMetrics = options.metrics === undefined;
  const gateway = options.gateway;
  const gatewayClients = gateway ? [...gateway.vendors.values()].map((v) => v.http) : [];
  const httpMetrics = [...(options.httpMetrics ?? []), ...gatewayClients];
  const metrics =
    options.metrics ??
    createServiceMetrics(
      { db: options.db, cache: options.cache, httpMetrics, queue: options.queue },
      dependencyTimeoutMs,
    );
  const assetsDir = options.assetsDir ? resolve(options.assetsDir) : undefined;

  const app = Fastify({
    loggerInstance: serverLogger(options.logger, [
      ...apiKeys,
      ...[...(gateway?.vendors.values() ?? [])].flatMap((v) => v.secrets),
    ]),
    genReqId: requestIdOf,
    frameworkErrors: frameworkErrorResponse,
    bodyLimit: options.bodyLimit ?? 64 * 1024,
    // Numbers must be finite: `?limit=Infinity` or `1e400` fail validation instead of passing as Infinity.
    ajv: { customOptions: { removeAdditional: false, strictNumbers: true }, plugins: [finiteNumbersPlugin] },
    // Idle keep-alive connections close with the server; busy ones are dropped by close()'s bound.
    forceCloseConnections: 'idle',
  }) as unknown as FastifyInstance;

  // Cross-cutting: metrics, headers, compression, request context, auth, errors, CORS. Security headers come before
  // auth: their hook must run before auth's, which ends refused requests early.
  const requests = installRequestMetrics(app, metrics.registry);
  await registerSecurityHeaders(app);
  await registerResponseCompression(app);
  installRequestContext(app);
  if (options.auth !== false) {
    installApiKeyAuth(app, {
      apiKeys,
      publicMetrics: options.publicMetrics === true,
      onFailure: requests.authFailed,
    });
  }
  installErrorResponses(app);
  if (options.cors) await registerCors(app, options.cors);

  // Documents and files.
  for (const schema of [errorSchema, videoSchema, clipSchema, jobSchema]) app.addSchema(schema);
  if (options.docs !== false) {
    await registerOpenApiDocs(app, {
      authenticated: options.auth !== false,
      ...(options.publicUrl ? { publicUrl: options.publicUrl } : {}),
      gateway: gateway !== undefined,
    });
  }
  await registerStaticFiles(app, assetsDir);

  // Routes.
  const ctx = createRouteContext({
    db: options.db,
    store: options.store ?? createVideoStore(options.db),
    queue: options.queue,
    redis: options.redis,
    cache: options.cache,
    httpMetrics,
    metrics,
    dto: new ApiDto(assetsDir),
    requestStats: requests.stats,
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
  await app.register(slowQueryRoutes, ctx);
  if (gateway) {
    await app.register(gatewayRoutes, {
      gateway,
      registry: metrics.registry,
      authenticated: options.auth !== false,
    });
  }

  await app.ready();

  return {
    app,
    metrics,
    listen: (listenOptions = {}) => listenOn(app, listenOptions),
    async close() {
      // Requests still running past the bound lose their connection; app.close() then settles.
      await within(
        () => app.close(),
        closeTimeoutMs,
        () => app.server.closeAllConnections(),
      );
      if (ownMetrics) metrics.close();
    },
  };
}

/** The configured API keys; at least one unless authentication is off. */
function acceptedApiKeys(auth: ServerOptions['auth']): string[] {
  if (auth === false) return [];
  const keys = auth.apiKeys.filter((k) => k.length > 0);
  if (keys.length === 0) {
    throw new ServerError(
      ServerErrorCode.Config,
      500,
      'auth needs at least one API key; pass auth: false to run without authentication',
    );
  }
  return keys;
}

/** The given pino logger, or one built from the given options that blanks the API keys out. */
function serverLogger(logger: ServerOptions['logger'], apiKeys: readonly string[]): PinoLogger {
  return logger && 'info' in logger
    ? (logger as PinoLogger)
    : createServerLogger({ ...(logger as ServerLoggerOptions | undefined), secrets: apiKeys });
}
