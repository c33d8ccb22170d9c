import type { FastifyInstance, FastifyRequest } from 'fastify';
import { withDeadline } from '../dependency-deadline.js';
import type { RouteContext } from '../route-context.js';
import { statsSchema, summarySchema } from '../route-schemas.js';

/** The stats group: store counts by status, and the JSON digest the dashboard's charts poll. */
export async function statsRoutes(app: FastifyInstance, ctx: RouteContext): Promise<void> {
  /** Queue counts when Redis answers in time; left out (not an error) otherwise. */
  const queueCounts = (request: FastifyRequest) =>
    ctx.queue
      ? ctx.withQueue(request, (queue) => queue.counts()).catch(() => undefined)
      : Promise.resolve(undefined);

  app.get('/api/stats', { schema: statsSchema }, async (request) => {
    const [stats, counts] = await Promise.all([
      ctx.database(request, (signal) => ctx.store.stats({ signal })),
      queueCounts(request),
    ]);
    return counts ? { ...stats, queue: counts } : stats;
  });

  app.get('/api/metrics/summary', { schema: summarySchema }, async (request) => {
    const db = ctx.db.metrics();
    const cache = ctx.cache?.metrics();
    const [counts, http] = await Promise.all([
      queueCounts(request),
      Promise.all(
        ctx.httpMetrics.map((s) =>
          // Quota figures may come from Redis: bounded, and left out when late.
          withDeadline('redis', ctx.dependencyTimeoutMs, request.clientGone.signal, () =>
            s.getApiMetrics(),
          ).catch(() => undefined),
        ),
      ),
    ]);
    const server = ctx.requestStats.summary();
    return {
      time: Date.now(),
      ...(counts ? { queue: counts } : {}),
      server: { requests: ctx.requestStats.count(), p50Ms: server.p50Ms, p95Ms: server.p95Ms },
      db: {
        queries: db.queriesExecuted,
        avgMs: db.latency.avgMs,
        p95Ms: db.latency.p95Ms,
        pool: {
          limit: db.pool.limit,
          open: db.pool.total,
          inUse: db.pool.inUse,
          waiting: db.pool.waiting,
          acquireWaitP99Ms: db.pool.acquireWaitP99Ms,
        },
      },
      ...(cache
        ? {
            cache: {
              hits: cache.hits,
              misses: cache.misses,
              hitRate: cache.cacheHitRate,
              warmedKeys: cache.warmedKeys,
              refreshedAhead: cache.refreshAheads,
            },
          }
        : {}),
      http: http
        .filter((s) => s !== undefined)
        .map((s) => ({
          service: s.service,
          requests: s.totalRequests,
          avgMs: s.avgResponseTime,
          p95Ms: s.latency.p95Ms,
          quotaUsed: s.quota.reduce((n, q) => n + q.used, 0),
          quotaLimit: s.quota.reduce((n, q) => n + q.limit, 0),
          origins: Object.entries(s.origins).map(([origin, o]) => ({
            origin,
            attempts: o.attempts,
            failedAttempts: o.failedAttempts,
            breakerState: o.breakerState,
            ...(o.concurrency
              ? {
                  concurrencyLimit: o.concurrency.limit,
                  inFlight: o.concurrency.inFlight,
                  waiting: o.concurrency.waiting,
                }
              : {}),
          })),
        })),
    };
  });
}
