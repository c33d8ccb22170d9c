import type { FastifyInstance } from 'fastify';
import type { QueueJobState } from '../../pipeline/pipeline-queue.js';
import { ServerError, ServerErrorCode } from '../errors.js';
import type { RouteContext } from '../route-context.js';
import { getJobSchema, listJobsSchema } from '../route-schemas.js';

const ALL_STATES: QueueJobState[] = ['active', 'waiting', 'delayed', 'prioritized', 'failed', 'completed'];

/** The jobs group: the pipeline's BullMQ jobs with their progress (503 without Redis). */
export async function jobRoutes(app: FastifyInstance, ctx: RouteContext): Promise<void> {
  app.get<{ Querystring: { state?: QueueJobState; limit: number } }>(
    '/api/jobs',
    { schema: listJobsSchema },
    async (request) => {
      const states = request.query.state ? [request.query.state] : ALL_STATES;
      const [items, counts] = await ctx.withQueue(request, (queue) =>
        Promise.all([queue.getJobs(states, 0, request.query.limit - 1), queue.counts()]),
      );
      return { items: items.map((j) => ctx.dto.job(j)), counts };
    },
  );

  app.get<{ Params: { id: string } }>('/api/jobs/:id', { schema: getJobSchema }, async (request) => {
    const job = await ctx.withQueue(request, (queue) => queue.getJob(request.params.id));
    if (!job) {
      throw new ServerError(ServerErrorCode.NotFound, 404, 'No such job', { details: { field: 'id' } });
    }
    return ctx.dto.job(job);
  });
}
