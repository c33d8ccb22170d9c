import type { FastifyInstance } from 'fastify';

/** Starts listening and returns the URL really bound (the address and port, IPv6 in brackets). */
export async function listenOn(
  app: FastifyInstance,
  options: { port?: number; host?: string },
): Promise<string> {
  await app.listen({ port: options.port ?? 0, host: options.host ?? '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') return String(address);
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}

/**
 * Runs `step` for at most `ms`: past it, `abandon` is called (drop connections) and this resolves
 * without waiting for the step any longer. A step that fails in time rejects with its error.
 */
export async function within(step: () => Promise<unknown>, ms: number, abandon?: () => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((done) => {
    timer = setTimeout(() => done('late'), ms);
  });
  try {
    const outcome = await Promise.race([step(), late]);
    if (outcome === 'late') abandon?.();
  } finally {
    clearTimeout(timer);
  }
}
