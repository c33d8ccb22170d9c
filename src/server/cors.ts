import fastifyCors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';

export interface CorsOptions {
  origin: string | readonly string[] | true;
}

/** CORS headers for the given origins (@fastify/cors); without this call the service sends none. */
export async function registerCors(app: FastifyInstance, options: CorsOptions): Promise<void> {
  const origin = options.origin;
  await app.register(fastifyCors, {
    origin: typeof origin === 'string' || origin === true ? origin : [...origin],
  });
}
