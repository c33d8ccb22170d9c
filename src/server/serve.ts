import { createRedisClient, type RedisClient, redisEndpoints } from '../cache/index.js';
import { createDatabase, type DatabaseConfig } from '../db/index.js';
import { PipelineQueue } from '../pipeline/pipeline-queue.js';
import { type StoreSchema, setupStore, VideoStore } from '../store/index.js';
import { createGateway, type GatewayVendorConfig } from './create-gateway.js';
import { createServer, type OpusServer, type ServerOptions } from './create-server.js';
import type { GatewayVendorName } from './gateway-vendors.js';
import { within } from './server-lifecycle.js';
import { asCoreLogger, createServerLogger } from './server-logger.js';
import { openServiceCache, warmServiceCache } from './service-cache.js';

/** Everything `opusclip serve` needs, explicit (the CLI reads env vars and flags and passes them here). */
export interface ServeConfig {
  databaseUrl: string;
  /** PostgreSQL only: the schema (search_path). */
  databaseSchema?: string;
  /** createDatabase's `pipeline` (default: the dialect's; docs/database.md, "Pipelined statements"). */
  databasePipeline?: DatabaseConfig['pipeline'];
  /** createDatabase's `adaptivePool` (default on; docs/database.md, "Adaptive pool size"). */
  databaseAdaptivePool?: DatabaseConfig['adaptivePool'];
  /** PostgreSQL read replicas of `databaseUrl` (docs/database.md, "Read replicas"). */
  databaseReplicaUrls?: readonly string[];
  /**
   * createDatabase's `slowQueries`: statements slower than the threshold are captured with their plan
   * for /api/slow-queries and the dashboard. Default on (threshold 200 ms); `false` turns it off.
   */
  databaseSlowQueries?: DatabaseConfig['slowQueries'];
  /**
   * Redis for the pipeline queue and /readyz: `redis://host:port/db`, or `redis+cluster://host:port,…`
   * for a Redis Cluster. Without it the service runs: the queue routes
   * (`POST /api/videos`, `/api/jobs`) answer 503 ERR_SERVER_REDIS_NOT_CONFIGURED, the rest works.
   */
  redisUrl?: string | undefined;
  port?: number;
  /** Interface to listen on (default 127.0.0.1); `RunningService.url` is the address really bound. */
  host?: string;
  /** API keys, or false to run without authentication. */
  auth: { apiKeys: readonly string[] } | false;
  /**
   * Other literal secrets the process holds (vendor keys, connection passwords) that the logs blank out
   * wherever they appear, as the API keys are; a request path or body may carry one.
   */
  secrets?: readonly string[];
  publicMetrics?: boolean;
  cors?: ServerOptions['cors'];
  assetsDir?: string;
  logLevel?: string;
  /** Human-readable logs (pino-pretty) instead of JSON. */
  pretty?: boolean;
  /** Where the logs go (default stdout); the CLI sends them to stderr. */
  logDestination?: NodeJS.WritableStream;
  queueName?: string;
  queuePrefix?: string;
  /** Create or update the store's tables first (default true). */
  migrate?: boolean;
  /** Namespace of the cache in Redis (default 'opusclip', the workers' namespace). */
  cacheNamespace?: string;
  /**
   * Before listening, warm the cache for at most this long (ms, default 3000; 0: no warm-up) with the hot
   * keys recorded in Redis and the most popular videos (docs/cache.md, "Cache warming"). `false` also
   * turns off recording hot keys and refresh-ahead.
   */
  cacheWarmMs?: number | false;
  /** Key prefix of the API budgets shared in Redis (default 'opusclip:budget', the workers' prefix). */
  budgetPrefix?: string;
  /** Deadline of each database or Redis call a request makes (default 3000 ms). */
  dependencyTimeoutMs?: number;
  /**
   * Longest close() takes, requests in flight and dependencies that are gone included (default 5000 ms):
   * in-flight requests get half of it, then the queue, Redis and the database share the rest.
   */
  closeTimeoutMs?: number;
  /**
   * The vendor gateway (`/gateway/<vendor>/*`, docs/gateway.md): the accounts it forwards to. Their
   * budgets are the ones shared in Redis with the workers when `redisUrl` is set. Off when not given.
   */
  gateway?: ServeGatewayConfig;
}

/** The gateway's accounts and limit, as `serve` takes them. */
export interface ServeGatewayConfig {
  vendors: Partial<Record<GatewayVendorName, Pick<GatewayVendorConfig, 'apiKey' | 'baseUrl' | 'oauthToken'>>>;
  /** Requests per minute per caller key; 0 = none (default 600). */
  callerRequestsPerMinute?: number;
  /** The Stability account's credits per UTC month (default: counted, not limited); shared through Redis when set. */
  stabilityCreditsPerMonth?: number;
}

export interface RunningService {
  /** The base URL of the bound address, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  readonly server: OpusServer;
  /**
   * Stops accepting requests, then closes the queue, Redis and the database, all within
   * `closeTimeoutMs`: a dependency that is gone is dropped rather than waited for.
   */
  close(): Promise<void>;
}

/** Closes one dependency within `ms`, then `abandon`s it (drop the connection); its failure is ignored. */
function bounded(step: () => Promise<unknown>, ms: number, abandon?: () => void): Promise<void> {
  return within(() => step().catch(() => undefined), ms, abandon);
}

/** Opens the database, Redis (when configured) and the queue from `config`, starts the service, listens. */
export async function serve(config: ServeConfig): Promise<RunningService> {
  const gatewaySecrets = Object.values(config.gateway?.vendors ?? {}).flatMap((v) =>
    v ? [v.apiKey, ...(v.oauthToken ? [v.oauthToken] : [])] : [],
  );
  const secrets = [
    ...(config.auth === false ? [] : config.auth.apiKeys),
    ...(config.secrets ?? []),
    ...gatewaySecrets,
  ];
  const logger = createServerLogger({
    ...(config.logLevel ? { level: config.logLevel } : {}),
    ...(config.pretty ? { pretty: true } : {}),
    ...(config.logDestination ? { destination: config.logDestination } : {}),
    secrets,
  });
  const closeTimeoutMs = config.closeTimeoutMs ?? 5000;
  const db = await createDatabase<StoreSchema>({
    url: config.databaseUrl,
    ...(config.databaseSchema ? { schema: config.databaseSchema } : {}),
    ...(config.databasePipeline === undefined ? {} : { pipeline: config.databasePipeline }),
    ...(config.databaseAdaptivePool === undefined ? {} : { adaptivePool: config.databaseAdaptivePool }),
    slowQueries: config.databaseSlowQueries ?? true,
    ...(config.databaseReplicaUrls?.length ? { replicas: config.databaseReplicaUrls } : {}),
    logger: asCoreLogger(logger.child({ component: 'db' })),
  });
  // close() has one bound in all: the server gets half of it, the dependencies share what is left.
  let closeDeadline = 0;
  const remaining = () => Math.max(50, closeDeadline - Date.now());
  const opened: Array<() => Promise<void>> = [() => bounded(() => db.close(), remaining())];
  try {
    if (config.migrate !== false) await setupStore(db);
    let redis: RedisClient | undefined;
    let queue: PipelineQueue | undefined;
    if (config.redisUrl) {
      const redisUrl = config.redisUrl;
      const redisLog = logger.child({ component: 'redis' });
      // One line per distinct failure, redacted by the logger (ioredis reports each retry).
      let lastError = '';
      const onRedisError = (error: Error) => {
        if (error.message === lastError) return;
        lastError = error.message;
        redisLog.warn(
          { err: error.message, endpoint: redisEndpoints(redisUrl) },
          'Redis connection failed; queue routes answer 503 until it is back',
        );
      };
      const client = createRedisClient(config.redisUrl, { maxRetriesPerRequest: 1, lazyConnect: false });
      client.on('error', onRedisError);
      client.on('ready', () => {
        lastError = '';
      });
      redis = client;
      opened.unshift(() =>
        bounded(
          () => client.quit(),
          remaining(),
          () => client.disconnect(),
        ),
      );
      const q = new PipelineQueue({
        connection: config.redisUrl,
        ...(config.queueName ? { name: config.queueName } : {}),
        ...(config.queuePrefix ? { prefix: config.queuePrefix } : {}),
      });
      q.queue.on('error', onRedisError);
      queue = q;
      opened.unshift(() =>
        bounded(
          () => q.close(),
          remaining(),
          () => void q.queue.disconnect().catch(() => {}),
        ),
      );
    }
    // Store reads go through the cache (L1, plus Redis L2 and its invalidation bus when Redis is
    // configured); /metrics reports it and the API quotas shared in Redis.
    const cached = openServiceCache({
      redisUrl: config.redisUrl,
      ...(config.cacheNamespace ? { namespace: config.cacheNamespace } : {}),
      ...(config.budgetPrefix ? { budgetPrefix: config.budgetPrefix } : {}),
      ...(config.gateway?.stabilityCreditsPerMonth === undefined
        ? {}
        : { budgets: { stabilityCreditsPerMonth: config.gateway.stabilityCreditsPerMonth } }),
      tuning: config.cacheWarmMs !== false,
      logger: asCoreLogger(logger.child({ component: 'cache' })),
    });
    opened.unshift(() => bounded(() => cached.close(), remaining()));
    db.useCache(cached.cache);
    const gatewayConfig = config.gateway;
    const gateway = gatewayConfig
      ? createGateway({
          vendors: Object.fromEntries(
            Object.entries(gatewayConfig.vendors).map(([name, vendor]) => [
              name,
              {
                ...vendor,
                ...(name === 'stability' && gatewayConfig.stabilityCreditsPerMonth !== undefined
                  ? { creditsPerMonth: gatewayConfig.stabilityCreditsPerMonth }
                  : {}),
                ...(cached.budgets ? { budget: cached.budgets[name as GatewayVendorName] } : {}),
              },
            ]),
          ),
          ...(gatewayConfig.callerRequestsPerMinute === undefined
            ? {}
            : { callerRequestsPerMinute: gatewayConfig.callerRequestsPerMinute }),
          logger: asCoreLogger(logger.child({ component: 'gateway' })),
        })
      : undefined;
    if (gateway) opened.unshift(() => bounded(() => gateway.close(), remaining()));
    // Built before the warm-up: the store registers how its cached reads are loaded again.
    const store = new VideoStore(db, { cache: cached.cache });
    const server = await createServer({
      db,
      store,
      cache: cached.cache,
      httpMetrics: cached.httpMetrics,
      ...(redis ? { redis } : {}),
      ...(queue ? { queue } : {}),
      auth: config.auth,
      logger,
      closeTimeoutMs: Math.floor(closeTimeoutMs / 2),
      ...(config.dependencyTimeoutMs !== undefined
        ? { dependencyTimeoutMs: config.dependencyTimeoutMs }
        : {}),
      ...(config.publicMetrics ? { publicMetrics: true } : {}),
      ...(config.cors ? { cors: config.cors } : {}),
      ...(config.assetsDir ? { assetsDir: config.assetsDir } : {}),
      ...(gateway ? { gateway } : {}),
    });
    opened.unshift(() => server.close());
    // Bounded, so readiness waits at most this long; reads arriving later join the loads still running.
    const warmMs = config.cacheWarmMs ?? 3_000;
    if (warmMs !== false && warmMs > 0) {
      await warmServiceCache(cached.cache, warmMs, asCoreLogger(logger.child({ component: 'cache' })));
    }
    const url = await server.listen({ port: config.port ?? 8080, host: config.host ?? '127.0.0.1' });
    return {
      url,
      server,
      async close() {
        closeDeadline = Date.now() + closeTimeoutMs;
        for (const close of opened) await close();
      },
    };
  } catch (error) {
    closeDeadline = Date.now() + closeTimeoutMs;
    for (const close of opened) await close().catch(() => {});
    throw error;
  }
}
