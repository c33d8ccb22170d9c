import { ConfigError } from '../../core/errors.js';
import { parseDatabaseUrl } from '../../db/index.js';
import { serve } from '../../server/serve.js';
import type { CommandContext } from '../command-context.js';
import { checkRedis, connectDatabase } from '../dependency-check.js';
import { urlPasswords } from '../url-passwords.js';

/**
 * `opusclip serve`: the REST API, /metrics and the dashboard. The service's own API keys come from
 * OPUSCLIP_API_KEYS (comma-separated); OPUSCLIP_AUTH=off runs without authentication, and only then.
 * Without REDIS_URL it runs with an in-process cache, and the queue routes answer 503. Logs go to stderr.
 */
export async function runServe(ctx: CommandContext): Promise<number> {
  const port = typeof ctx.flags.port === 'number' ? ctx.flags.port : 8080;
  const host = typeof ctx.flags.host === 'string' ? ctx.flags.host : '127.0.0.1';
  const keys = (ctx.config.serviceApiKeys ?? []).filter(Boolean);
  if (!ctx.config.serviceAuthOff && keys.length === 0) {
    throw new ConfigError(
      'Set OPUSCLIP_API_KEYS (comma-separated) for the service, or OPUSCLIP_AUTH=off to run without',
    );
  }
  // Both dependencies answer (bounded, at once) before the service opens them for good. A SQLite file
  // is local: it is not opened twice.
  const sqlite = parseDatabaseUrl(ctx.config.databaseUrl).dialect === 'sqlite';
  const redisUrl = ctx.config.redisUrl;
  await Promise.all([
    redisUrl ? checkRedis(redisUrl, { signal: ctx.stopSignal }) : undefined,
    sqlite ? undefined : connectDatabase(ctx.config).then((db) => db.close()),
  ]);
  const running = await serve({
    databaseUrl: ctx.config.databaseUrl,
    ...(ctx.config.databasePipeline === undefined ? {} : { databasePipeline: ctx.config.databasePipeline }),
    ...(ctx.config.databaseReplicaUrls.length > 0
      ? { databaseReplicaUrls: ctx.config.databaseReplicaUrls }
      : {}),
    ...(redisUrl ? { redisUrl } : {}),
    port,
    host,
    auth: ctx.config.serviceAuthOff ? false : { apiKeys: keys },
    secrets: [
      ...Object.values(ctx.config.keys).filter((k): k is string => Boolean(k)),
      ...(ctx.config.serviceApiKeys ?? []),
      ...urlPasswords(ctx.config.databaseUrl, redisUrl, ...ctx.config.databaseReplicaUrls),
    ],
    assetsDir: ctx.config.assetsDir,
    logLevel: ctx.config.logLevelSet ? ctx.config.logLevel : 'info',
    pretty: process.stderr.isTTY === true,
    logDestination: process.stderr,
  });
  try {
    ctx.io.err(`opusclip serve: listening on ${listeningOn(host, running.url)}`);
    await new Promise<void>((resolve) => {
      if (ctx.stopSignal.aborted) resolve();
      else ctx.stopSignal.addEventListener('abort', () => resolve(), { once: true });
    });
    return 0;
  } finally {
    await running.close();
  }
}

/** What serve() bound, said truthfully: a wildcard host listens on every interface, not on 127.0.0.1. */
export function listeningOn(host: string, url: string): string {
  if (host !== '0.0.0.0' && host !== '::') return url;
  const port = new URL(url).port;
  return `every interface (${host}), port ${port}: ${url}`;
}
