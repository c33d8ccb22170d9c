import {
  Cache,
  createRedisClient,
  type RedisClient,
  redisClientOptions,
  type WarmReport,
} from '../cache/index.js';
import { type Logger, silentLogger } from '../core/index.js';
import { ApiMetricsCollector, type ServiceMetrics } from '../http/index.js';
import { type SharedBudgetOptions, sharedBudgets } from '../pipeline/pipeline-services.js';
import type { Budget } from '../resilience/index.js';
import type { HttpMetricsSource } from './metrics-registry.js';

export interface ServiceCacheOptions {
  /** Redis for the L2 cache, its invalidation bus and the shared API budgets; without it L1 only. */
  redisUrl?: string | undefined;
  /** Cache namespace; the CLI's workers use 'opusclip' (the default), so all share L2 and the bus. */
  namespace?: string;
  /** Key prefix of the shared API budgets (default 'opusclip:budget', the workers' default too). */
  budgetPrefix?: string;
  /** Limits of the shared budgets (default: each vendor's usual ones). */
  budgets?: SharedBudgetOptions;
  /**
   * Self-tuning of the cache (default true): hot keys recorded in Redis (with a Redis URL) for the next
   * start's warm-up, and refresh-ahead of hot entries.
   */
  tuning?: boolean;
  logger?: Logger;
}

export interface ServiceCache {
  /** L1, plus Redis L2 and the invalidation bus when a Redis URL is given. */
  readonly cache: Cache;
  /**
   * One source per external API (youtube, openai, stability, elevenlabs) whose quota windows are the
   * shared budgets in Redis that the workers draw from; empty without Redis (budgets are then
   * per-process, and the service itself calls no external API).
   */
  readonly httpMetrics: readonly HttpMetricsSource[];
  /** The API budgets shared in Redis (the workers' and the gateway's); undefined without Redis. */
  readonly budgets: ReturnType<typeof sharedBudgets> | undefined;
  /** Closes the cache and its Redis connection. */
  close(): Promise<void>;
}

/** Reports a shared budget's windows as a service's quota, with no calls of its own. */
function budgetQuotaSource(service: string, budget: Budget): HttpMetricsSource {
  const collector = new ApiMetricsCollector(service);
  return {
    async getApiMetrics(): Promise<ServiceMetrics> {
      let quota: ServiceMetrics['quota'] = [];
      try {
        quota = (await budget.usage()).map(({ name, limit, used, remaining }) => ({
          name,
          limit,
          used,
          remaining,
        }));
      } catch {
        // Redis down: no quota series for this scrape rather than a failed scrape.
      }
      return collector.snapshot({ breakerState: 'NONE', breakerTransitions: 0, quota });
    },
  };
}

/**
 * What `serve` reads through and reports: the cache its store reads go through (the same namespace as
 * the workers', so their writes invalidate the service's L1 over the bus) and the quota sources of the
 * API budgets shared in Redis.
 */
export function openServiceCache(options: ServiceCacheOptions = {}): ServiceCache {
  const logger = options.logger ?? silentLogger;
  let redis: RedisClient | undefined;
  if (options.redisUrl) {
    redis = createRedisClient(options.redisUrl, redisClientOptions());
    // The cache counts and logs its own Redis failures; an unhandled 'error' event would print a stack.
    redis.on('error', () => {});
  }
  const tuning = options.tuning ?? true;
  const cache = new Cache({
    namespace: options.namespace ?? 'opusclip',
    logger,
    ...(redis ? { redis: { client: redis } } : {}),
    ...(tuning ? { hotKeys: true, refreshAhead: true } : {}),
  });
  const budgets = redis ? sharedBudgets(redis, options.budgetPrefix, options.budgets) : undefined;
  const httpMetrics = budgets
    ? Object.entries(budgets).map(([service, budget]) => budgetQuotaSource(service, budget))
    : [];
  return {
    cache,
    httpMetrics,
    budgets,
    async close() {
      await cache.close();
      if (!redis) return;
      const client = redis;
      if (client.status !== 'ready') {
        client.disconnect();
        return;
      }
      // QUIT, bounded: a Cluster node that stopped answering must not hold the service's shutdown.
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, 1_000);
      });
      const quit = client.quit().then(
        () => undefined,
        () => client.disconnect(),
      );
      await Promise.race([quit, late.then(() => client.disconnect())]);
      clearTimeout(timer);
    },
  };
}

/**
 * Warms `cache` at start, all within `budgetMs`: waits for its invalidation bus (L1 serves nothing
 * before), then loads the hot keys recorded in Redis and the popular videos (`warmFromHistory`). Never
 * rejects: a failure or an exhausted budget leaves the rest to be loaded by reads. Undefined when the
 * bus did not come up in time.
 */
export async function warmServiceCache(
  cache: Cache,
  budgetMs: number,
  logger: Logger = silentLogger,
): Promise<WarmReport | undefined> {
  const started = performance.now();
  if (budgetMs <= 0 || !(await cache.ready(budgetMs))) return undefined;
  const timeBudgetMs = Math.max(0, budgetMs - (performance.now() - started));
  const report = await cache.warmFromHistory({ timeBudgetMs });
  logger.info({ ...report, ms: Math.round(performance.now() - started) }, 'cache warmed');
  return report;
}
