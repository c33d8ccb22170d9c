import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

const DASHBOARD_DIR = locateDashboard();

function locateDashboard(): string {
  const here = fileURLToPath(new URL('./dashboard/', import.meta.url));
  if (existsSync(here)) return here;
  // Built to dist/server/: tsc copies no HTML, so fall back to the sources in the package.
  return fileURLToPath(new URL('../../src/server/dashboard/', import.meta.url));
}

/** The dashboard's files at / and, when a directory is given, the media assets under /assets/. Public. */
export async function registerStaticFiles(
  app: FastifyInstance,
  assetsDir: string | undefined,
): Promise<void> {
  await app.register(fastifyStatic, {
    root: DASHBOARD_DIR,
    prefix: '/',
    wildcard: false,
    index: 'index.html',
  });
  if (assetsDir) {
    await app.register(fastifyStatic, { root: assetsDir, prefix: '/assets/', decorateReply: false });
  }
}
