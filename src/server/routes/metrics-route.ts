import type { FastifyInstance } from 'fastify';
import { withDeadline } from '../dependency-deadline.js';
import type { RouteContext } from '../route-context.js';
import { metricsSchema } from '../route-schemas.js';

/** The Prometheus exposition at /metrics (public only with `publicMetrics`). */
export async function metricsRoute(
  app: FastifyInstance,
  options: { ctx: RouteContext; isPublic: boolean },
): Promise<void> {
  const { ctx } = options;
  app.get('/metrics', { schema: metricsSchema(options.isPublic) }, async (request, reply) => {
    // The queue and quota series read Redis; each read is bounded, and so is the whole scrape.
    const text = await withDeadline('redis', ctx.dependencyTimeoutMs * 2, request.clientGone.signal, () =>
      ctx.metrics.metrics(),
    );
    return reply.type(ctx.metrics.contentType).send(text);
  });
}
