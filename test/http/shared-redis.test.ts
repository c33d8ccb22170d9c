import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { HttpClient, HttpError } from '../../src/http/index.js';
import { Budget, RedisBudgetBackend } from '../../src/resilience/index.js';
import { TEST_REDIS_URL, uniqueName } from '../support/env.js';
import { json, TestServer } from './server.js';

describe('HttpClient on a Redis-shared budget', () => {
  const server = new TestServer();
  const prefix = uniqueName('httpbudget');
  let redis: Redis;
  let url = '';
  const clients: HttpClient[] = [];

  before(async () => {
    redis = new Redis(TEST_REDIS_URL);
    server
      .route('/v1/ok', (_req, res) => json(res, 200, { ok: true }))
      .route('/v1/limited', (_req, res) => json(res, 429, { error: 'slow down' }, { 'retry-after': '20' }));
    url = await server.listen();
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await server.close();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  const make = (): HttpClient => {
    const windows = [{ name: 'requests', limit: 3, windowMs: 60_000 }];
    const budget = new Budget({
      name: 'openai',
      windows,
      backend: new RedisBudgetBackend({ redis, key: prefix, windows }),
    });
    const c = new HttpClient({
      service: 'openai',
      baseUrl: `${url}/v1`,
      budget,
      deadlineMs: 2000,
      maxRetries: 0,
    });
    clients.push(c);
    return c;
  };

  it('two clients share one budget, and a 429 in one pauses the other', async () => {
    const a = make();
    const b = make();
    await a.get('ok');
    await b.get('ok');
    const before = server.hitCount('/v1/ok');
    await assert.rejects(
      a.get('limited'),
      (e) => e instanceof HttpError && e.code === 'ERR_HTTP_RATE_LIMITED',
    );
    // The pause write is fire-and-forget; wait until Redis has it.
    for (let i = 0; i < 50 && (await redis.pttl(`${prefix}:pause`)) <= 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    await assert.rejects(b.get('ok'), (e) => {
      assert.ok(e instanceof HttpError && e.code === 'ERR_HTTP_RATE_LIMITED');
      assert.ok(e.retryAt! > Date.now() + 10_000);
      return true;
    });
    assert.equal(server.hitCount('/v1/ok'), before);
    const usage = (await b.getApiMetrics()).quota;
    assert.equal(usage[0]!.used, 3);
  });
});
