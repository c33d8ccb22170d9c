import { Redis } from 'ioredis';
import { Cache, type CacheOptions, redisClientOptions } from '../../src/cache/index.js';
import { TEST_REDIS_URL } from '../support/env.js';

export function deferred<T>(): {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
} {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export async function connect(url = TEST_REDIS_URL): Promise<Redis> {
  const client = new Redis(url, { ...redisClientOptions(), lazyConnect: true });
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** A cache acting as one process: its own command and subscriber connections, on the given namespace. */
export async function processCache(
  namespace: string,
  options: Omit<CacheOptions, 'namespace' | 'redis'> & {
    lease?: boolean;
    timeoutMs?: number;
    url?: string;
  } = {},
): Promise<{ cache: Cache; client: Redis }> {
  const { lease, timeoutMs, url, ...rest } = options;
  const client = await connect(url);
  const cache = new Cache({
    ...rest,
    namespace,
    redis: {
      client,
      closeClient: true,
      ...(lease ? { lease: { pollMs: 5 } } : {}),
      ...(timeoutMs ? { timeoutMs } : {}),
    },
  });
  const up = await cache.ready(3_000);
  if (!up) throw new Error('cache bus did not come up');
  return { cache, client };
}

/** Deletes every key of a test namespace. */
export async function dropNamespace(client: Redis, namespace: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `{${namespace}}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await client.del(...keys);
  } while (cursor !== '0');
}

export async function until(check: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
