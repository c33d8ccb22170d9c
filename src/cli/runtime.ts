import { type ApiClients, createApiClients, sandboxBaseUrls } from '../apis/api-clients.js';
import { stabilityCreditWindow, stabilityWindows } from '../apis/index.js';
import { Cache, createRedisClient, type RedisClient, redisClientOptions } from '../cache/index.js';
import { ConfigError } from '../core/errors.js';
import { type Logger, silentLogger } from '../core/logger.js';
import type { Database } from '../db/index.js';
import { coalesceVideoLookups } from '../pipeline/coalesce-video-lookups.js';
import { createPipelinePorts, sharedBudgets } from '../pipeline/pipeline-services.js';
import { VideoPipeline } from '../pipeline/video-pipeline.js';
import { Budget } from '../resilience/index.js';
import { createSandbox, type Sandbox } from '../sandbox/index.js';
import { type StoreSchema, setupStore, VideoStore } from '../store/index.js';
import type { CliConfig } from './cli-config.js';
import { connectDatabase } from './dependency-check.js';

export interface RuntimeOptions {
  narration?: boolean;
  thumbnails?: boolean;
  /** Rate limits and quotas reach the job queue instead of failing the video. */
  workerMode?: boolean;
  logger?: Logger;
  /** Called once with a line saying where the APIs are (sandbox or real). */
  announce?: (line: string) => void;
}

export interface Runtime {
  db: Database<StoreSchema>;
  store: VideoStore;
  cache: Cache;
  /** A single Redis or a Redis Cluster (`redis+cluster://` URL). */
  redis: RedisClient | undefined;
  clients: ApiClients;
  pipeline: VideoPipeline;
  sandbox: Sandbox | undefined;
  usingSandbox: boolean;
  close(): Promise<void>;
}

/**
 * Everything a command needs, built from the configuration: the database (migrated), the cache (L1, plus
 * Redis L2 and its invalidation bus when REDIS_URL is set), the API clients (real with keys, else the
 * sandbox, started in-process unless OPUSCLIP_SANDBOX_URL points at a running one) and the pipeline.
 * A key missing for a stage that is switched on is reported here, before any work starts.
 */
export async function openRuntime(config: CliConfig, options: RuntimeOptions = {}): Promise<Runtime> {
  const logger = options.logger ?? silentLogger;
  const narration = options.narration ?? true;
  const thumbnails = options.thumbnails ?? true;
  const keys = config.keys;
  const anyKey = Object.values(keys).some(Boolean);
  const usingSandbox = config.sandbox || !anyKey;
  if (!usingSandbox) {
    const missing: string[] = [];
    if (!keys.youtube) missing.push('YOUTUBE_API_KEY (metadata)');
    if (!keys.openai) missing.push('OPENAI_API_KEY (highlights)');
    if (thumbnails && !keys.stability) missing.push('STABILITY_API_KEY (thumbnails; or --no-thumbnails)');
    if (narration && !keys.elevenlabs) missing.push('ELEVENLABS_API_KEY (narration; or --no-narration)');
    if (missing.length > 0) {
      throw new ConfigError(
        `Missing API keys for the stages switched on: ${missing.join(', ')}. Set them, or pass --sandbox.`,
        {
          details: { missing },
        },
      );
    }
  }

  const closers: Array<() => Promise<unknown>> = [];
  const closeAll = async (): Promise<void> => {
    for (const close of closers.reverse()) await close().catch(() => {});
  };
  try {
    const db = await connectDatabase<StoreSchema>(config, logger);
    closers.push(() => db.close());
    await setupStore(db);

    let redis: RedisClient | undefined;
    let cacheRedis: RedisClient | undefined;
    if (config.redisUrl) {
      redis = createRedisClient(config.redisUrl, { maxRetriesPerRequest: null, lazyConnect: false });
      // One line per distinct failure while Redis is down, not one per reconnection attempt.
      let lastError: string | undefined;
      redis.on('error', (error: Error) => {
        if (error.message === lastError) return;
        lastError = error.message;
        logger.warn({ err: error.message }, 'redis error');
      });
      redis.on('ready', () => {
        lastError = undefined;
      });
      closers.push(() => quitWithin(redis!, REDIS_QUIT_MS));
      cacheRedis = createRedisClient(config.redisUrl, redisClientOptions());
      cacheRedis.on('error', () => {});
      closers.push(() => quitWithin(cacheRedis!, REDIS_QUIT_MS));
    }
    const cache = new Cache({
      namespace: 'opusclip',
      logger,
      ...(cacheRedis ? { redis: { client: cacheRedis } } : {}),
    });
    closers.push(() => cache.close());
    db.useCache(cache);
    const store = new VideoStore(db, { cache });

    let sandbox: Sandbox | undefined;
    let baseUrls: ReturnType<typeof sandboxBaseUrls> | undefined;
    if (usingSandbox) {
      if (config.sandboxUrl) baseUrls = sandboxBaseUrls(config.sandboxUrl);
      else {
        sandbox = await createSandbox({ port: 0, host: '127.0.0.1' });
        closers.push(() => sandbox!.close());
        baseUrls = sandboxBaseUrls(sandbox.url);
      }
      options.announce?.(
        `using the sandbox APIs at ${config.sandboxUrl ?? sandbox!.url} (no keys needed, nothing leaves this machine)`,
      );
    } else options.announce?.('using the real YouTube, OpenAI, Stability and ElevenLabs APIs');

    const fake = 'sandbox-key';
    const credits = config.stabilityCreditsPerMonth;
    const budgets = redis
      ? sharedBudgets(redis, undefined, credits === undefined ? {} : { stabilityCreditsPerMonth: credits })
      : undefined;
    // Without Redis a monthly credit allowance is this process's own.
    const stabilityBudget =
      budgets?.stability ??
      (credits === undefined
        ? undefined
        : new Budget({
            name: 'stability',
            windows: [...stabilityWindows(), stabilityCreditWindow(credits)],
          }));
    const clients = createApiClients({
      youtube: {
        apiKey: keys.youtube ?? fake,
        ...(keys.youtubeOAuthToken ? { oauthToken: keys.youtubeOAuthToken } : {}),
        ...(budgets ? { budget: budgets.youtube } : {}),
      },
      openai: { apiKey: keys.openai ?? fake, ...(budgets ? { budget: budgets.openai } : {}) },
      ...(thumbnails
        ? {
            stability: {
              apiKey: keys.stability ?? fake,
              ...(stabilityBudget ? { budget: stabilityBudget } : {}),
            },
          }
        : {}),
      ...(narration
        ? {
            elevenlabs: {
              apiKey: keys.elevenlabs ?? fake,
              ...(budgets ? { budget: budgets.elevenlabs } : {}),
            },
          }
        : {}),
      cache,
      http: { logger },
      ...(baseUrls
        ? { baseUrls }
        : config.openaiBaseUrls
          ? { baseUrls: { openai: config.openaiBaseUrls } }
          : {}),
    });
    closers.push(() => clients.close());
    const ports = createPipelinePorts(clients, { captions: Boolean(config.keys.youtubeOAuthToken) });
    const pipeline = new VideoPipeline({
      store,
      // A worker runs one job per video: its metadata lookups are merged across jobs (quota units).
      ports: options.workerMode ? coalesceVideoLookups(ports) : ports,
      assetsDir: config.assetsDir,
      narration,
      thumbnails,
      logger,
      onRetryableError: options.workerMode ? 'throw' : 'fail',
    });
    return { db, store, cache, redis, clients, pipeline, sandbox, usingSandbox, close: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/** How long a closing command waits for Redis to acknowledge QUIT before it just disconnects. */
const REDIS_QUIT_MS = 1_000;

/** QUIT when Redis answers; a Redis that is down (or does not answer in time) is disconnected instead. */
async function quitWithin(redis: RedisClient, ms: number): Promise<void> {
  if (redis.status !== 'ready') {
    redis.disconnect();
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), ms);
  });
  const done = await Promise.race([redis.quit().then(() => 'quit' as const), late]).catch(
    () => 'late' as const,
  );
  clearTimeout(timer);
  if (done === 'late') redis.disconnect();
}
