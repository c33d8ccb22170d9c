import { ConfigError, InvalidArgumentError } from '../../core/errors.js';
import { serve } from '../../server/serve.js';
import type { CommandContext } from '../main.js';

/**
 * `opusclip serve`: the REST API, /metrics and the dashboard. The service's own API keys come from
 * OPUSCLIP_API_KEYS (comma-separated); OPUSCLIP_AUTH=off runs without authentication, and only then.
 */
export async function runServe(ctx: CommandContext): Promise<number> {
  const port = ctx.flags.port === undefined ? 8080 : Number(ctx.flags.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new InvalidArgumentError('--port must be 0..65535');
  if (!ctx.config.redisUrl)
    throw new InvalidArgumentError('opusclip serve needs Redis: set REDIS_URL or --redis-url');
  const keys = (ctx.config.serviceApiKeys ?? []).filter(Boolean);
  if (!ctx.config.serviceAuthOff && keys.length === 0) {
    throw new ConfigError(
      'Set OPUSCLIP_API_KEYS (comma-separated) for the service, or OPUSCLIP_AUTH=off to run without',
    );
  }
  const running = await serve({
    databaseUrl: ctx.config.databaseUrl,
    redisUrl: ctx.config.redisUrl,
    port,
    host: '0.0.0.0',
    auth: ctx.config.serviceAuthOff ? false : { apiKeys: keys },
    assetsDir: ctx.config.assetsDir,
    logLevel: ctx.config.logLevel,
    pretty: process.stdout.isTTY === true,
  });
  ctx.io.err(`opusclip serve: listening on ${running.url}`);
  await new Promise<void>((resolve) =>
    ctx.stopSignal.addEventListener('abort', () => resolve(), { once: true }),
  );
  await running.close();
  return 0;
}
