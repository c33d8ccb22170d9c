import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../route-context.js';
import { metricsSchema } from '../route-schemas.js';

/** The Prometheus exposition at /metrics (public only with `publicMetrics`). */
export async function metricsRoute(
  app: FastifyInstance,
  options: { ctx: RouteContext; isPublic: boolean },
): Promise<void> {
  const { ctx } = options;
  app.get('/metrics', { schema: metricsSchema(options.isPublic) }, async (_request, reply) => {
    const text = await ctx.metrics.metrics();
    return reply.type(ctx.metrics.contentType).send(text);
  });
}
