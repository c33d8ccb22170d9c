import type { FastifyInstance } from 'fastify';
import { withDeadline } from '../dependency-deadline.js';
import type { RouteContext } from '../route-context.js';
import { healthSchema, readySchema } from '../route-schemas.js';

interface Check {
  ok: boolean;
  ms: number;
  error?: string;
}

/** The health group: liveness (/healthz) and readiness of the database and Redis (/readyz). Public. */
export async function healthRoutes(app: FastifyInstance, ctx: RouteContext): Promise<void> {
  app.get('/healthz', { schema: healthSchema }, async () => ({
    status: 'ok',
    uptimeSeconds: (Date.now() - ctx.startedAt) / 1000,
  }));

  app.get('/readyz', { schema: readySchema }, async (request, reply) => {
    const check = async (what: 'database' | 'redis', fn: (signal: AbortSignal) => Promise<unknown>) => {
      const t0 = performance.now();
      try {
        await withDeadline(what, ctx.readinessTimeoutMs, request.clientGone.signal, fn);
        return { ok: true, ms: performance.now() - t0 } as Check;
      } catch (error) {
        const cause = (error as Error).cause;
        const text = cause instanceof Error ? `${(error as Error).message}: ${cause.message}` : String(error);
        return { ok: false, ms: performance.now() - t0, error: text.slice(0, 200) } as Check;
      }
    };
    const redis = ctx.redis;
    const [database, redisCheck] = await Promise.all([
      check('database', (signal) =>
        // The primary's readiness: with read replicas a plain read would ask a replica.
        ctx.db.execute(
          { sql: 'select 1', parameters: [] },
          { name: 'readyz', signal, consistency: 'primary' },
        ),
      ),
      redis ? check('redis', () => redis.ping()) : Promise.resolve(undefined),
    ]);
    const checks: Record<string, Check> = redisCheck ? { database, redis: redisCheck } : { database };
    const ready = Object.values(checks).every((c) => c.ok);
    // Error texts could carry a connection string: never let a password through.
    for (const c of Object.values(checks)) if (c.error) c.error = c.error.replace(/\/\/[^@\s]*@/g, '//***@');
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'unavailable', checks });
  });
}
