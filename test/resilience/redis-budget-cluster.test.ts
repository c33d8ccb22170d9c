import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Cluster } from 'ioredis';
import { isOpusError } from '../../src/core/index.js';
import { Budget, RedisBreakerStore, RedisBudgetBackend } from '../../src/resilience/index.js';
import { uniqueName } from '../support/env.js';
import { clusterClient, dropClusterKeys, ensureRedisCluster } from '../support/redis-cluster.js';

describe('a budget shared by two clients over Redis Cluster', () => {
  const prefix = uniqueName('cbudget');
  let one: Cluster;
  let two: Cluster;

  let releaseCluster: (() => Promise<void>) | undefined;

  before(async () => {
    releaseCluster = await ensureRedisCluster();
    one = await clusterClient();
    two = await clusterClient();
  });
  after(async () => {
    if (one) {
      await dropClusterKeys(one, `{${prefix}*`);
    }
    one?.disconnect();
    two?.disconnect();
  });
  after(() => releaseCluster?.());

  it('reserve, commit, refund, the concurrency slot and a pause are shared; every key is in {prefix}', async () => {
    const key = `${prefix}:openai`;
    const windows = [
      { name: 'tokens', limit: 1000, windowMs: 60_000 },
      { name: 'concurrent', kind: 'concurrent' as const, limit: 1, leaseMs: 10_000 },
    ];
    const a = new Budget({
      name: 'openai',
      windows,
      backend: new RedisBudgetBackend({ redis: one, key, windows }),
    });
    const b = new Budget({
      name: 'openai',
      windows,
      backend: new RedisBudgetBackend({ redis: two, key, windows }),
    });
    const r = await a.reserve({ tokens: 900, concurrent: 1 });
    await assert.rejects(b.reserve({ tokens: 10, concurrent: 1 }, { deadline: Date.now() + 30 }), (e) =>
      isOpusError(e, 'ERR_RATE_LIMITED'),
    );
    await r.commit({ tokens: 300 });
    assert.deepEqual(
      (await b.usage()).map((u) => u.used),
      [300, 0],
    );
    const r2 = await b.reserve({ tokens: 700, concurrent: 1 });
    await assert.rejects(a.reserve({ tokens: 1 }, { deadline: Date.now() + 30 }), (e) =>
      isOpusError(e, 'ERR_RATE_LIMITED'),
    );
    await r2.refund();
    assert.equal((await a.usage())[0]!.used, 300);
    await a.pause(Date.now() + 60_000, 'quota_exhausted');
    await assert.rejects(b.reserve({ tokens: 1 }, { deadline: Date.now() + 1000 }), (e) =>
      isOpusError(e, 'ERR_QUOTA_EXHAUSTED'),
    );
    // The keys carry the hash tag {prefix:openai}: one slot, so the multi-key scripts are legal.
    assert.equal(await one.exists(`{${key}}:pause`), 1);
    assert.equal(await one.exists(`{${key}}:w:tokens:sum`), 1);
  });

  it('many reservations from both clients at once never exceed the limit', async () => {
    const key = `${prefix}:race`;
    const windows = [{ name: 'requests', limit: 25, windowMs: 60_000 }];
    const a = new Budget({
      name: 'x',
      windows,
      backend: new RedisBudgetBackend({ redis: one, key, windows }),
    });
    const b = new Budget({
      name: 'x',
      windows,
      backend: new RedisBudgetBackend({ redis: two, key, windows }),
    });
    const tries = Array.from({ length: 60 }, (_, i) =>
      (i % 2 === 0 ? a : b).reserve(1, { deadline: Date.now() + 20 }).then(
        () => true,
        () => false,
      ),
    );
    const granted = (await Promise.all(tries)).filter(Boolean).length;
    assert.equal(granted, 25);
  });

  it('a breaker opened through one client is seen open through the other', async () => {
    const sa = new RedisBreakerStore(one, `${prefix}:breaker`);
    const sb = new RedisBreakerStore(two, `${prefix}:breaker`);
    const now = Date.now();
    await sa.open('youtube', now + 30_000, now);
    assert.equal(await sb.openUntil('youtube', now), now + 30_000);
    await sb.reset('youtube');
    assert.equal(await sa.openUntil('youtube', now), undefined);
  });
});
