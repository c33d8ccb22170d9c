import { ConfigError } from '../../core/errors.js';
import { parseDatabaseUrl } from '../../db/index.js';
import { createSandbox, type Sandbox } from '../../sandbox/index.js';
import { GATEWAY_VENDORS, gatewaySandboxRoots } from '../../server/gateway-vendors.js';
import { type ServeGatewayConfig, serve } from '../../server/serve.js';
import type { CliConfig } from '../cli-config.js';
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
  const vendors = await gatewayVendors(ctx.config);
  const gateway: ServeGatewayConfig | undefined = vendors
    ? {
        vendors: vendors.vendors,
        ...(ctx.config.gatewayCallerRpm === undefined
          ? {}
          : { callerRequestsPerMinute: ctx.config.gatewayCallerRpm }),
        ...(ctx.config.stabilityCreditsPerMonth === undefined
          ? {}
          : { stabilityCreditsPerMonth: ctx.config.stabilityCreditsPerMonth }),
      }
    : undefined;
  const running = await serve({
    ...(gateway ? { gateway } : {}),
    databaseUrl: ctx.config.databaseUrl,
    ...(ctx.config.databasePipeline === undefined ? {} : { databasePipeline: ctx.config.databasePipeline }),
    databaseAdaptivePool: ctx.config.databaseAdaptivePool,
    databaseSlowQueries: ctx.config.slowQueryMs === false ? false : { thresholdMs: ctx.config.slowQueryMs },
    cacheWarmMs: ctx.config.cacheWarmMs,
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
  }).catch(async (error: unknown) => {
    await vendors?.sandbox?.close();
    throw error;
  });
  try {
    ctx.io.err(`opusclip serve: listening on ${listeningOn(host, running.url)}`);
    if (vendors) ctx.io.err(`opusclip serve: vendor gateway at /gateway/<vendor>/ (${vendors.where})`);
    await new Promise<void>((resolve) => {
      if (ctx.stopSignal.aborted) resolve();
      else ctx.stopSignal.addEventListener('abort', () => resolve(), { once: true });
    });
    return 0;
  } finally {
    await running.close();
    await vendors?.sandbox?.close();
  }
}

/** What serve() bound, said truthfully: a wildcard host listens on every interface, not on 127.0.0.1. */
export function listeningOn(host: string, url: string): string {
  if (host !== '0.0.0.0' && host !== '::') return url;
  const port = new URL(url).port;
  return `every interface (${host}), port ${port}: ${url}`;
}

/**
 * The gateway's accounts: the real APIs whose keys are set, or the sandbox (OPUSCLIP_SANDBOX_URL, or one
 * started in-process) with `--sandbox`; undefined (no gateway) without either, or with OPUSCLIP_GATEWAY=off.
 */
async function gatewayVendors(
  config: CliConfig,
): Promise<{ vendors: ServeGatewayConfig['vendors']; where: string; sandbox?: Sandbox } | undefined> {
  if (config.gatewayOff) return undefined;
  const keys = config.keys;
  if (config.sandbox || config.sandboxUrl) {
    const sandbox = config.sandboxUrl ? undefined : await createSandbox({ port: 0, host: '127.0.0.1' });
    const url = config.sandboxUrl ?? sandbox!.url;
    const roots = gatewaySandboxRoots(url);
    const vendors: ServeGatewayConfig['vendors'] = {};
    for (const name of GATEWAY_VENDORS) {
      vendors[name] = {
        apiKey: 'sandbox-key',
        baseUrl: roots[name],
        ...(name === 'youtube' ? { oauthToken: 'sandbox-oauth-token' } : {}),
      };
    }
    return { vendors, where: `the sandbox at ${url}`, ...(sandbox ? { sandbox } : {}) };
  }
  const vendors: ServeGatewayConfig['vendors'] = {};
  if (keys.youtube) {
    vendors.youtube = {
      apiKey: keys.youtube,
      ...(keys.youtubeOAuthToken ? { oauthToken: keys.youtubeOAuthToken } : {}),
    };
  }
  if (keys.openai) vendors.openai = { apiKey: keys.openai };
  if (keys.stability) vendors.stability = { apiKey: keys.stability };
  if (keys.elevenlabs) vendors.elevenlabs = { apiKey: keys.elevenlabs };
  const names = Object.keys(vendors);
  return names.length === 0 ? undefined : { vendors, where: `the real APIs: ${names.join(', ')}` };
}
