import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { Cache, type CacheOptions, redisClientOptions } from '../../src/cache/index.js';
import type { TestTarget } from '../support/databases.js';
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

/**
 * A cache acting as one process: its own command and subscriber connections, on the given namespace.
 * `maxStalenessMs` is 1 s unless given: these suites are about the bus, and on a machine shared with many
 * other processes, event-loop and scheduling delays can exceed the 100 ms default, which would turn the L1
 * hits they expect into (correct) refusals. bounded-staleness.test.ts tests the default.
 */
export async function processCache(
  namespace: string,
  options: Omit<CacheOptions, 'namespace' | 'redis'> & {
    lease?: boolean;
    timeoutMs?: number;
    url?: string;
    maxStalenessMs?: number | false;
  } = {},
): Promise<{ cache: Cache; client: Redis }> {
  const { lease, timeoutMs, url, maxStalenessMs = 1_000, ...rest } = options;
  const client = await connect(url);
  const cache = new Cache({
    ...rest,
    namespace,
    redis: {
      client,
      closeClient: true,
      maxStalenessMs,
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

/**
 * Teardown of a "two processes" suite: caches, then databases, the target, and the Redis namespace.
 * Tolerates what `before` did not get to open.
 */
export async function closeProcesses(p: {
  caches: ReadonlyArray<Cache | undefined>;
  dbs: ReadonlyArray<{ close(): Promise<void> } | undefined>;
  target: TestTarget;
  admin: Redis | undefined;
  namespace: string;
}): Promise<void> {
  for (const cache of p.caches) await cache?.close();
  for (const db of p.dbs) await db?.close();
  await p.target.dispose();
  if (p.admin) {
    await dropNamespace(p.admin, p.namespace);
    await p.admin.quit();
  }
}

export async function sparePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** A throwaway redis-server on `port` (no persistence), resolved once it answers. */
export async function startRedis(port: number): Promise<ChildProcess> {
  const args = ['--port', String(port), '--save', '', '--appendonly', 'no', '--enable-debug-command', 'yes'];
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  // Keeps retrying every 20 ms until the server listens.
  const probe = new Redis({ port, maxRetriesPerRequest: 0, retryStrategy: () => 20 });
  probe.on('error', () => {});
  await until(() => probe.status === 'ready', 5_000);
  await probe.quit();
  return child;
}

export async function stopRedis(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await exited;
}
