import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { Cache } from '../../src/cache/index.js';
import { uniqueName } from '../support/env.js';
import { connect, processCache, sparePort, startRedis, stopRedis, until } from './helpers.js';

describe('Redis down and back (a redis-server this test starts and kills)', () => {
  let port: number;
  let server: ChildProcess;
  let a: Cache;
  let b: Cache;
  const ns = uniqueName('cache_outage');

  before(async () => {
    port = await sparePort();
    server = await startRedis(port);
    const url = `redis://127.0.0.1:${port}`;
    a = (await processCache(ns, { url, timeoutMs: 50 })).cache;
    b = (await processCache(ns, { url, timeoutMs: 50 })).cache;
  });

  after(async () => {
    await a.close();
    await b.close();
    if (server.exitCode === null) await stopRedis(server);
  });

  it('a slow Redis (server blocked) costs a read about the timeout, not the stall', async () => {
    await a.getOrSet('slow', async () => 'cached');
    // Connected first: on a loaded machine a fresh connection can take longer than the 50 ms below.
    const blocker = await connect(`redis://127.0.0.1:${port}`);
    try {
      // Only L2 can answer for b (its L1 is empty); the server will not answer for 700 ms.
      const stall = blocker.call('DEBUG', 'SLEEP', '0.7');
      await new Promise((r) => setTimeout(r, 50));
      const t0 = performance.now();
      const r = await b.getOrSetWithMeta('slow', async () => 'from-db');
      const elapsed = performance.now() - t0;
      assert.deepEqual(r, { value: 'from-db', stale: false, source: 'loader' });
      assert.ok(elapsed < 400, `took ${elapsed} ms`);
      assert.ok(b.metrics().redisTimeouts >= 1);
      await stall;
    } finally {
      // Also on failure: an open connection would keep this test process alive.
      blocker.disconnect();
    }
  });

  it('reads go on from the loader within the timeout while Redis is down, and L2 is used again after', async () => {
    await a.getOrSet('k', async () => 'before');
    assert.equal((await b.getOrSetWithMeta('k', async () => 'x')).source, 'l2');

    await stopRedis(server);
    await until(() => !a.l1Trusted && !b.l1Trusted);

    const t0 = performance.now();
    const down = await a.getOrSetWithMeta('k', async () => 'from-db', { tags: ['videos'] });
    const cold = await a.getOrSet('cold', async () => 'cold-from-db');
    const elapsed = performance.now() - t0;
    assert.deepEqual(down, { value: 'from-db', stale: false, source: 'loader' });
    assert.equal(cold, 'cold-from-db');
    assert.ok(elapsed < 500, `took ${elapsed} ms`);

    // Writes and invalidations do not fail or hang either; the invalidation is kept for later.
    const t1 = performance.now();
    await a.set('w', 1);
    await a.deleteByTag('videos');
    assert.ok(performance.now() - t1 < 500);
    assert.ok(a.metrics().pendingInvalidations > 0);
    assert.ok(a.metrics().redisErrors + a.metrics().redisTimeouts > 0);

    // A failing loader with nothing in grace still surfaces its own error, not a cache error.
    await assert.rejects(
      a.getOrSet('nothing', async () => {
        throw new Error('db down too');
      }),
      /db down too/,
    );

    server = await startRedis(port);
    await until(() => a.l1Trusted && b.l1Trusted, 5_000);
    await until(() => a.metrics().pendingInvalidations === 0, 5_000);

    await b.set('shared', 'from-b');
    const back = await a.getOrSetWithMeta('shared', async () => 'from-db');
    assert.deepEqual(back, { value: 'from-b', stale: false, source: 'l2' });
    // And the bus works again: b's invalidation reaches a's L1.
    assert.equal((await a.getOrSetWithMeta('shared', async () => 'x')).source, 'l1');
    await b.delete('shared');
    assert.equal(await a.getOrSet('shared', async () => 'reloaded'), 'reloaded');
  });
});
