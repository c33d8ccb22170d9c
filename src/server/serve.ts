import { Redis } from 'ioredis';
import { createDatabase } from '../db/index.js';
import { PipelineQueue } from '../pipeline/pipeline-queue.js';
import { type StoreSchema, setupStore, VideoStore } from '../store/index.js';
import { asCoreLogger, createServer, type OpusServer, type ServerOptions } from './create-server.js';
import { createServerLogger } from './server-logger.js';
import { openServiceCache } from './service-cache.js';

/** Everything `opusclip serve` needs, explicit (the CLI reads env vars and flags and passes them here). */
export interface ServeConfig {
  databaseUrl: string;
  /** PostgreSQL only: the schema (search_path). */
  databaseSchema?: string;
  redisUrl: string;
  port?: number;
  host?: string;
  /** API keys, or false to run without authentication. */
  auth: { apiKeys: readonly string[] } | false;
  publicMetrics?: boolean;
  cors?: ServerOptions['cors'];
  assetsDir?: string;
  logLevel?: string;
  /** Human-readable logs (pino-pretty) instead of JSON. */
  pretty?: boolean;
  queueName?: string;
  queuePrefix?: string;
  /** Create or update the store's tables first (default true). */
  migrate?: boolean;
  /** Namespace of the cache in Redis (default 'opusclip', the workers' namespace). */
  cacheNamespace?: string;
  /** Key prefix of the API budgets shared in Redis (default 'opusclip:budget', the workers' prefix). */
  budgetPrefix?: string;
}

export interface RunningService {
  readonly url: string;
  readonly server: OpusServer;
  /** Stops accepting requests, then closes the queue, Redis and the database. */
  close(): Promise<void>;
}

/** Opens the database, Redis and the queue from `config`, starts the service and listens. */
export async function serve(config: ServeConfig): Promise<RunningService> {
  const secrets = config.auth === false ? [] : [...config.auth.apiKeys];
  const logger = createServerLogger({
    ...(config.logLevel ? { level: config.logLevel } : {}),
    ...(config.pretty ? { pretty: true } : {}),
    secrets,
  });
  const db = await createDatabase<StoreSchema>({
    url: config.databaseUrl,
    ...(config.databaseSchema ? { schema: config.databaseSchema } : {}),
    logger: asCoreLogger(logger.child({ component: 'db' })),
  });
  const opened: Array<() => Promise<unknown>> = [() => db.close()];
  try {
    if (config.migrate !== false) await setupStore(db);
    const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 1, lazyConnect: false });
    opened.unshift(() => redis.quit().catch(() => redis.disconnect()));
    const queue = new PipelineQueue({
      connection: config.redisUrl,
      ...(config.queueName ? { name: config.queueName } : {}),
      ...(config.queuePrefix ? { prefix: config.queuePrefix } : {}),
    });
    opened.unshift(() => queue.close());
    // Store reads go through the cache (L1, Redis L2); /metrics reports it and the shared API quotas.
    const cached = openServiceCache({
      redisUrl: config.redisUrl,
      ...(config.cacheNamespace ? { namespace: config.cacheNamespace } : {}),
      ...(config.budgetPrefix ? { budgetPrefix: config.budgetPrefix } : {}),
      logger: asCoreLogger(logger.child({ component: 'cache' })),
    });
    opened.unshift(() => cached.close());
    db.useCache(cached.cache);
    const server = await createServer({
      db,
      store: new VideoStore(db, { cache: cached.cache }),
      cache: cached.cache,
      httpMetrics: cached.httpMetrics,
      redis,
      queue,
      auth: config.auth,
      logger,
      ...(config.publicMetrics ? { publicMetrics: true } : {}),
      ...(config.cors ? { cors: config.cors } : {}),
      ...(config.assetsDir ? { assetsDir: config.assetsDir } : {}),
    });
    opened.unshift(() => server.close());
    const url = await server.listen({ port: config.port ?? 8080, host: config.host ?? '127.0.0.1' });
    return {
      url,
      server,
      async close() {
        for (const close of opened) await close();
      },
    };
  } catch (error) {
    for (const close of opened) await close().catch(() => {});
    throw error;
  }
}
