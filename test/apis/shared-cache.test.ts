import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { type ApiClients, createApiClients, sandboxBaseUrls } from '../../src/apis/index.js';
import { Cache, redisClientOptions } from '../../src/cache/index.js';
import type { Sandbox } from '../../src/sandbox/index.js';
import { TEST_REDIS_URL, uniqueName } from '../support/env.js';
import { KEYS, startSandbox } from './support.js';

async function connect(): Promise<Redis> {
  const client = new Redis(TEST_REDIS_URL, { ...redisClientOptions(), lazyConnect: true });
  client.on('error', () => {});
  await client.connect();
  return client;
}

describe('API responses shared through the two-level cache (Redis)', () => {
  const namespace = uniqueName('apis');
  let sandbox: Sandbox;
  const caches: Cache[] = [];
  const clients: ApiClients[] = [];
  let admin: Redis;

  /** One "process": its own Cache (L1 + Redis) and its own clients. */
  const startProcess = async (): Promise<ApiClients> => {
    const cache = new Cache({ namespace, redis: { client: await connect(), closeClient: true } });
    assert.ok(await cache.ready(3_000), 'the cache bus came up');
    caches.push(cache);
    const apis = createApiClients({
      baseUrls: sandboxBaseUrls(sandbox.url),
      cache,
      youtube: { apiKey: KEYS.youtube },
      openai: { apiKey: KEYS.openai },
    });
    clients.push(apis);
    return apis;
  };

  before(async () => {
    sandbox = await startSandbox();
    admin = await connect();
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(caches.map((c) => c.close()));
    let cursor = '0';
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `*${namespace}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await admin.del(...keys);
    } while (cursor !== '0');
    admin.disconnect();
    await sandbox.close();
  });

  it('a video fetched by one process is served to another from Redis, without a request or quota', async () => {
    const a = await startProcess();
    const b = await startProcess();
    const fromA = await a.youtube!.getVideoInfo('dQw4w9WgXcQ', { cache: { ttlMs: 60_000 } });
    const fromB = await b.youtube!.getVideoInfo('dQw4w9WgXcQ', { cache: true });
    assert.deepEqual(fromB, fromA);
    assert.equal(sandbox.requests.filter('youtube').length, 1);
    assert.equal((await b.youtube!.quotaUsage())[0]!.used, 0, 'process B spent no quota');
    // The credential never reaches a cache key.
    const keys = await admin.keys(`*${namespace}*`);
    assert.ok(keys.length > 0);
    assert.ok(keys.every((k) => !k.includes(KEYS.youtube)));
  });

  it('a POST is cached only when the call asks for it (same prompt, same answer)', async () => {
    const a = await startProcess();
    const before = sandbox.requests.filter('openai').length;
    const first = await a.openai!.generateText('cache me', { cache: true });
    const second = await a.openai!.generateText('cache me', { cache: true });
    assert.deepEqual(second, first);
    assert.equal(sandbox.requests.filter('openai').length, before + 1);
    await a.openai!.generateText('cache me');
    assert.equal(sandbox.requests.filter('openai').length, before + 2);
  });
});
