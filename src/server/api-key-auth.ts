import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ServerError, ServerErrorCode } from './errors.js';

/** Paths answered without a key: probes, the dashboard's files, the docs and the media assets. */
const PUBLIC_PREFIXES = ['/assets/', '/docs', '/dashboard.', '/favicon'];
const PUBLIC_PATHS = new Set(['/', '/index.html', '/healthz', '/readyz']);

export interface ApiKeyAuthOptions {
  apiKeys: readonly string[];
  /** Serve /metrics without a key. */
  publicMetrics: boolean;
  /** Called once per refused request (the auth-failure counter). */
  onFailure(): void;
}

function isPublicPath(path: string, publicMetrics: boolean): boolean {
  return (
    PUBLIC_PATHS.has(path) ||
    PUBLIC_PREFIXES.some((p) => path.startsWith(p)) ||
    (publicMetrics && path === '/metrics')
  );
}

function hashKey(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

/**
 * The key a request presents: `x-api-key` or `Authorization: Bearer`; on the gateway routes also where
 * the vendors' own SDKs put theirs (`xi-api-key`, `x-goog-api-key`, a `key` query parameter), so an
 * SDK pointed at the gateway needs no change but its key.
 */
export function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers['x-api-key'];
  if (typeof header === 'string' && header.length > 0) return header;
  const auth = request.headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)$/i.exec(auth);
    if (m) return m[1];
  }
  if (request.url.startsWith('/gateway/')) {
    for (const name of ['xi-api-key', 'x-goog-api-key']) {
      const value = request.headers[name];
      if (typeof value === 'string' && value.length > 0) return value;
    }
    const key = (request.query as Record<string, unknown> | undefined)?.key;
    if (typeof key === 'string' && key.length > 0) return key;
  }
  return undefined;
}

/** API-key authentication of every non-public path, in `x-api-key` or `Authorization: Bearer`. */
export function installApiKeyAuth(app: FastifyInstance, options: ApiKeyAuthOptions): void {
  const keyHashes = options.apiKeys.map(hashKey);
  app.addHook('onRequest', async (request) => {
    const path = request.url.split('?')[0] ?? '';
    if (isPublicPath(path, options.publicMetrics)) return;
    const key = presentedKey(request);
    const given = key === undefined ? undefined : hashKey(key);
    // Compare hashes in constant time so response timing reveals nothing about the keys.
    if (given === undefined || !keyHashes.some((h) => timingSafeEqual(h, given))) {
      options.onFailure();
      throw new ServerError(
        ServerErrorCode.Unauthorized,
        401,
        'A valid API key is required (x-api-key or Bearer)',
      );
    }
  });
}
