import { Redis } from 'ioredis';
import { parseRedisUrl, type RedisTarget, redisEndpoints } from '../cache/index.js';
import { ConfigError, isOpusError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { redactConnectionUrl, redactSecrets } from '../core/redact.js';
import { createDatabase, type Database } from '../db/index.js';
import type { CliConfig } from './cli-config.js';
import { CliError, CliErrorCode } from './errors.js';
import { urlPasswords } from './url-passwords.js';

/**
 * How long one connection attempt may take, so that a command whose dependencies are down or stuck
 * (checked at once, not one after the other) ends within 10 s of its start, start-up included.
 */
const CONNECT_TIMEOUT_MS = 4_000;

/** `host:port` of a Redis URL (`host:port,host:port…` for a cluster's seeds), for messages (never the password). */
export function redisEndpoint(url: string): string {
  if (parseRedisUrl(url)?.kind === 'cluster') return redisEndpoints(url);
  try {
    const u = new URL(url);
    return `${u.hostname || 'localhost'}:${u.port || '6379'}`;
  } catch {
    return redactConnectionUrl(url);
  }
}

const AUTH_REPLY = /\b(WRONGPASS|NOAUTH|NOPERM)\b|invalid password|invalid username-password/i;

/**
 * Connects to Redis once (no retries, bounded), authenticates and sends PING, then disconnects. A
 * refused connection, an unknown host, no answer in time or refused credentials end here with one line
 * naming host and port; nothing the driver says about the AUTH command (which holds the password) is
 * kept.
 */
export async function checkRedis(
  url: string,
  options: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<void> {
  const target = parseRedisUrl(url);
  if (target?.kind === 'cluster') {
    await checkClusterSeeds(target, url, options);
    return;
  }
  await probeRedis(url, options);
}

/**
 * Connects, authenticates and PINGs one server. With `clusterInfo`, also resolves with the node's
 * `cluster_state` from CLUSTER INFO: `ok`, `fail` (its cluster does not serve every slot, or it sits in a
 * minority partition), or `disabled` for a server without cluster support.
 */
async function probeRedis(
  url: string,
  options: { timeoutMs?: number; signal?: AbortSignal },
  clusterInfo = false,
): Promise<string | undefined> {
  const timeoutMs = options.timeoutMs ?? CONNECT_TIMEOUT_MS;
  const endpoint = redisEndpoint(url);
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    enableReadyCheck: false,
    retryStrategy: () => null,
    reconnectOnError: () => false,
  });
  let lastError: unknown;
  client.on('error', (error) => {
    lastError = error;
  });
  let timer: NodeJS.Timeout | undefined;
  const onAbort = (): void => client.disconnect();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await Promise.race([
      (async () => {
        await client.connect();
        await client.ping();
        if (!clusterInfo) return undefined;
        const info = await client.cluster('INFO').then(String, (error: Error) => {
          if (/cluster support disabled/i.test(error.message)) return 'cluster_state:disabled';
          throw error;
        });
        return /cluster_state:(\w+)/.exec(info)?.[1] ?? 'unknown';
      })(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })),
          timeoutMs,
        );
      }),
    ]);
  } catch (error) {
    throw redisFailure(error, lastError, endpoint, timeoutMs, urlPasswords(url));
  } finally {
    if (timer) clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
    client.disconnect();
  }
}

/**
 * A Redis Cluster is usable when one of its seed nodes answers and reports `cluster_state:ok` (the client
 * learns the other nodes from it). The seeds are tried at once, each as `checkRedis` tries a single
 * server. Otherwise one line says why, naming every seed: refused credentials; a seed without cluster
 * support (a `redis+cluster://` URL naming a single Redis); a cluster that answers but is down (the
 * queue and the cache would wait on it without end); or no seed answering, with the first seed's reason.
 */
async function checkClusterSeeds(
  target: Extract<RedisTarget, { kind: 'cluster' }>,
  url: string,
  options: { timeoutMs?: number; signal?: AbortSignal },
): Promise<void> {
  const scheme = target.tls ? 'rediss' : 'redis';
  const user = target.username ? encodeURIComponent(target.username) : '';
  const pass = target.password ? `:${encodeURIComponent(target.password)}` : '';
  const auth = user || pass ? `${user}${pass}@` : '';
  const results = await Promise.allSettled(
    target.nodes.map((n) =>
      probeRedis(
        `${scheme}://${auth}${n.host.includes(':') ? `[${n.host}]` : n.host}:${n.port}`,
        options,
        true,
      ),
    ),
  );
  const states = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  if (states.includes('ok')) return;
  const errors = results.map((r) => (r.status === 'rejected' ? r.reason : undefined));
  const refused = errors.find((e) => e instanceof CliError && e.code === CliErrorCode.AuthFailed);
  const endpoint = redisEndpoints(url);
  if (refused) {
    throw new CliError(
      CliErrorCode.AuthFailed,
      `Redis Cluster at ${endpoint} refused the credentials in REDIS_URL`,
      { details: { endpoint } },
    );
  }
  if (states.includes('disabled')) {
    throw new ConfigError(
      `REDIS_URL names a Redis Cluster, but ${endpoint} has cluster support disabled: use redis://host:port for a single Redis`,
    );
  }
  if (states.length > 0) {
    // A seed answers but its cluster cannot serve every slot: BullMQ and the cache would wait on it.
    throw new CliError(
      CliErrorCode.Unreachable,
      `Redis Cluster at ${endpoint} is down: the seeds that answer report cluster_state:${states[0]}`,
      { details: { endpoint } },
    );
  }
  const first = errors[0];
  const reason = first instanceof Error ? first.message.split(': ').slice(1).join(': ') || first.message : '';
  throw new CliError(
    CliErrorCode.Unreachable,
    `cannot reach Redis Cluster at ${endpoint}: ${redactSecrets(reason, urlPasswords(url)) || 'no seed node answered'}`,
    { details: { endpoint } },
  );
}

function redisFailure(
  error: unknown,
  last: unknown,
  endpoint: string,
  timeoutMs: number,
  secrets: string[],
): CliError {
  const texts = [error, last].map((e) => (e instanceof Error ? e.message : String(e ?? '')));
  const codes = [error, last].map((e) => (e as { code?: unknown } | undefined)?.code);
  const auth = texts.map((t) => AUTH_REPLY.exec(t)).find((m) => m !== null);
  if (auth) {
    return new CliError(
      CliErrorCode.AuthFailed,
      `Redis at ${endpoint} refused the credentials in REDIS_URL (${(auth[1] ?? 'invalid password').toUpperCase()})`,
      { details: { endpoint } },
    );
  }
  const why = reasonOf(codes, texts, timeoutMs, secrets);
  return new CliError(CliErrorCode.Unreachable, `cannot reach Redis at ${endpoint}: ${why}`, {
    details: { endpoint },
  });
}

function reasonOf(codes: unknown[], texts: string[], timeoutMs: number, secrets: string[]): string {
  if (codes.includes('ECONNREFUSED')) return 'connection refused';
  if (codes.includes('ENOTFOUND') || codes.includes('EAI_AGAIN')) return 'host not found';
  if (codes.includes('ETIMEDOUT') || texts.some((t) => /timed? ?out/i.test(t)))
    return `no answer within ${timeoutMs / 1000} s`;
  if (codes.includes('ECONNRESET') || texts.some((t) => /Connection is closed/i.test(t)))
    return 'the connection was closed';
  const text = texts.find((t) => t !== '') ?? 'unknown error';
  return redactSecrets(text.split('\n')[0] ?? text, secrets);
}

/**
 * Opens the database with a bounded connect (CONNECT_TIMEOUT_MS) so that a database that is gone ends the command
 * with one line; the db layer's error already names the URL with its password hidden.
 */
export async function connectDatabase<DB>(
  config: Pick<CliConfig, 'databaseUrl' | 'databasePipeline'> &
    Partial<Pick<CliConfig, 'databaseReplicaUrls' | 'databaseAdaptivePool'>>,
  logger?: Logger,
): Promise<Database<DB>> {
  const url = config.databaseUrl;
  try {
    return await createDatabase<DB>({
      url,
      ...(config.databasePipeline === undefined ? {} : { pipeline: config.databasePipeline }),
      ...(config.databaseAdaptivePool === false ? { adaptivePool: false } : {}),
      ...(config.databaseReplicaUrls?.length ? { replicas: config.databaseReplicaUrls } : {}),
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
      closeTimeoutMs: 2_000,
      ...(logger ? { logger } : {}),
    });
  } catch (error) {
    if (isOpusError(error)) throw error;
    throw new CliError(
      CliErrorCode.Unreachable,
      `cannot open the database ${redactConnectionUrl(url)}: ${redactSecrets(String((error as Error)?.message ?? error), urlPasswords(url, ...(config.databaseReplicaUrls ?? [])))}`,
    );
  }
}
