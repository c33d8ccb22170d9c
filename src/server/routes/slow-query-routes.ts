import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../route-context.js';
import { slowQueriesSchema } from '../route-schemas.js';

/** The slow-query group: what the database captured as slow (createDatabase's `slowQueries`). */
export async function slowQueryRoutes(app: FastifyInstance, ctx: RouteContext): Promise<void> {
  app.get<{ Querystring: { limit: number } }>(
    '/api/slow-queries',
    { schema: slowQueriesSchema },
    async (request) => {
      // In memory, no database call: the entries are what the database kept.
      const entries = ctx.db.slowQueries?.() ?? [];
      return {
        items: entries.slice(0, request.query.limit).map((e) => ({
          ...e,
          firstSeenAt: new Date(e.firstSeenAt).toISOString(),
          lastSeenAt: new Date(e.lastSeenAt).toISOString(),
        })),
      };
    },
  );
}
