import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import type { Cache } from '../../src/cache/index.js';
import { FakeClock } from '../../src/testing/index.js';
import { uniqueName } from '../support/env.js';
import { connect, deferred, dropNamespace, processCache, until } from './helpers.js';

describe('multi-level cache on Redis (two instances as two processes)', () => {
  const ns = uniqueName('cache');
  let admin: Redis;
  let a: Cache;
  let b: Cache;

  before(async () => {
    admin = await connect();
    a = (await processCache(ns)).cache;
    b = (await processCache(ns)).cache;
  });

  after(async () => {
    await a.close();
    await b.close();
    await dropNamespace(admin, ns);
    await admin.quit();
  });

  it('an L2 hit fills L1; values round-trip through Redis', async () => {
    const value = { at: new Date(1_700_000_000_000), n: 2n ** 80n, body: Buffer.from('hi'), none: null };
    await a.getOrSet('rt', async () => value, { ttlMs: 60_000 });
    const first = await b.getOrSetWithMeta('rt', async () => assert.fail('must not load'), { ttlMs: 60_000 });
    assert.equal(first.source, 'l2');
    assert.deepEqual(first.value, value);
    const second = await b.getOrSetWithMeta('rt', async () => assert.fail('must not load'));
    assert.equal(second.source, 'l1');
    assert.equal(b.metrics().l2Hits, 1);
    assert.equal(await admin.exists(`{${ns}}:k:rt`), 1, 'namespaced key');
  });

  it("an invalidation in one instance removes the other's L1 copy before it resolves", async () => {
    const tags = ['videos', 'video:1'];
    await a.getOrSet('video:1', async () => 'v1', { tags });
    await b.getOrSet('video:1', async () => 'unused', { tags });
    assert.equal((await b.getOrSetWithMeta('video:1', async () => 'x', { tags })).source, 'l1');
    await a.deleteByTag('video:1');
    // No waiting: the publisher waited for b's acknowledgement.
    assert.equal(await b.getOrSet('video:1', async () => 'v2', { tags }), 'v2');
    assert.equal(
      await a.getOrSet('video:1', async () => 'v3', { tags }),
      'v2',
      'a reads b’s fresh value from L2',
    );
    assert.ok(b.metrics().busMessagesReceived >= 1);
  });

  it('delete and set reach the other instance too', async () => {
    await a.set('plain', 1);
    assert.equal(await b.get('plain'), 1);
    await a.set('plain', 2);
    assert.equal(await b.get('plain'), 2);
    await b.delete('plain');
    assert.equal(await a.get('plain'), undefined);
  });

  it('a read that began before an invalidation of its tag does not store its value (across processes)', async () => {
    const gate = deferred<void>();
    const started = deferred<void>();
    const read = b.getOrSet(
      'video:7',
      async () => {
        started.resolve();
        await gate.promise;
        return 'old';
      },
      { tags: ['video:7'] },
    );
    await started.promise;
    await a.invalidateTags(['video:7', 'videos']);
    gate.resolve();
    assert.equal(await read, 'old');
    assert.equal(await admin.exists(`{${ns}}:k:video:7`), 0, 'not written back to L2');
    assert.equal(await b.getOrSet('video:7', async () => 'new', { tags: ['video:7'] }), 'new');
    assert.equal(await a.getOrSet('video:7', async () => 'other', { tags: ['video:7'] }), 'new');
    assert.ok(b.metrics().writeBackRejected >= 1);
  });

  it('a read on the invalidating instance itself does not store either', async () => {
    const gate = deferred<void>();
    const read = a.getOrSet(
      'video:8',
      async () => {
        await gate.promise;
        return 'old';
      },
      { tags: ['video:8'] },
    );
    await new Promise((r) => setTimeout(r, 20));
    await b.deleteByTag('video:8');
    gate.resolve();
    await read;
    assert.equal(await a.getOrSet('video:8', async () => 'new', { tags: ['video:8'] }), 'new');
  });

  it('writer loop and readers on both: after a write+invalidate resolves, nobody reads the older value', async () => {
    const tags = ['videos', 'video:42'];
    let db = 0;
    let committed = 0;
    const load = async (): Promise<number> => {
      const v = db;
      await new Promise((r) => setTimeout(r, Math.random() * 3));
      return v;
    };
    const stop = Date.now() + 2_000;
    const stale: string[] = [];
    let reads = 0;
    let writes = 0;
    const writer = async (): Promise<void> => {
      while (Date.now() < stop) {
        db++;
        await (db % 2 === 0 ? a : b).invalidateTags(tags);
        committed = db;
        writes++;
        await new Promise((r) => setTimeout(r, 2));
      }
    };
    const reader = async (c: Cache, name: string): Promise<void> => {
      while (Date.now() < stop) {
        const floor = committed;
        const v = await c.getOrSet('video:42', load, { tags, ttlMs: 60_000 });
        reads++;
        if (v < floor) stale.push(`${name} read ${v} after ${floor} committed`);
        // L1 hits resolve without I/O: yield so the writer's round trips progress.
        await new Promise((r) => setImmediate(r));
      }
    };
    await Promise.all([writer(), reader(a, 'a'), reader(a, 'a2'), reader(b, 'b'), reader(b, 'b2')]);
    assert.deepEqual(stale.slice(0, 5), []);
    // Floors low enough for a loaded machine; the point is that the loop ran and wrote.
    assert.ok(reads > 200 && writes > 20, `reads ${reads}, writes ${writes}`);
    const m = a.metrics();
    assert.ok(m.l1Hits + b.metrics().l1Hits > 0, 'the loop did hit L1');
  });

  it('100 concurrent getOrSet per instance on a cold key, with the lease: the loader runs once overall', async () => {
    const ns2 = uniqueName('cache_lease');
    const x = await processCache(ns2, { lease: true });
    const y = await processCache(ns2, { lease: true });
    try {
      let runs = 0;
      const loader = async (): Promise<string> => {
        runs++;
        await new Promise((r) => setTimeout(r, 100));
        return 'loaded';
      };
      const results = await Promise.all([
        ...Array.from({ length: 100 }, () => x.cache.getOrSet('cold', loader)),
        ...Array.from({ length: 100 }, () => y.cache.getOrSet('cold', loader)),
      ]);
      assert.equal(runs, 1);
      assert.ok(results.every((r) => r === 'loaded'));
      const mx = x.cache.metrics();
      const my = y.cache.metrics();
      assert.equal(mx.coalesced + my.coalesced, 198);
      assert.equal(mx.leaseWaits + my.leaseWaits, 1);
    } finally {
      await x.cache.close();
      await y.cache.close();
      await dropNamespace(admin, ns2);
    }
  });

  it('fail-safe from L2: a failing loader gets the value in grace from Redis, flagged stale', async () => {
    const ns3 = uniqueName('cache_grace');
    const clock = new FakeClock();
    const x = await processCache(ns3, { clock });
    const y = await processCache(ns3, { clock });
    try {
      await x.cache.getOrSet('g', async () => 'old', { ttlMs: 100, graceMs: 60_000 });
      await clock.advance(1_000);
      const r = await y.cache.getOrSetWithMeta(
        'g',
        async () => {
          throw new Error('database down');
        },
        { ttlMs: 100, graceMs: 60_000 },
      );
      assert.deepEqual(r, { value: 'old', stale: true, source: 'l2' });
      assert.equal(y.cache.metrics().failSafeServed, 1);
      await clock.advance(60_000);
      await assert.rejects(
        y.cache.getOrSet('g', async () => {
          throw new Error('database down');
        }),
        /database down/,
      );
    } finally {
      await x.cache.close();
      await y.cache.close();
      await dropNamespace(admin, ns3);
    }
  });

  it('clear empties both levels in every instance', async () => {
    await a.set('c1', 1, { tags: ['t'] });
    assert.equal(await b.get('c1'), 1);
    await a.clear();
    assert.equal(await b.get('c1'), undefined);
    assert.equal(await a.get('c1'), undefined);
    assert.equal(await admin.exists(`{${ns}}:k:c1`), 0);
  });

  it('a gap in a publisher’s sequence makes L1 stale: the entry is not served', async () => {
    let runs = 0;
    const loader = async (): Promise<number> => ++runs;
    await b.getOrSet('gap', loader);
    assert.equal((await b.getOrSetWithMeta('gap', loader)).source, 'l1');
    const channel = `${ns}:bus`;
    const gapsBefore = b.metrics().busGaps;
    await admin.publish(channel, JSON.stringify({ i: 'ghost', s: 1, k: ['unrelated'] }));
    await admin.publish(channel, JSON.stringify({ i: 'ghost', s: 3, k: ['unrelated'] }));
    await until(() => b.metrics().busGaps > gapsBefore);
    const after = await b.getOrSetWithMeta('gap', loader);
    assert.notEqual(after.source, 'l1');
    assert.equal(after.value, 1, 'L2 still holds the value; only L1 was distrusted');
    assert.equal((await b.getOrSetWithMeta('gap', loader)).source, 'l1', 'trusted again once reloaded');
  });

  it('a bus disconnect makes L1 stale until it is back', async () => {
    await a.getOrSet('disc', async () => 'v');
    assert.equal((await a.getOrSetWithMeta('disc', async () => 'x')).source, 'l1');
    a.simulateBusLoss();
    assert.equal(a.l1Trusted, false);
    const r = await a.getOrSetWithMeta('disc', async () => 'x');
    assert.equal(r.source, 'l2');
    assert.equal(
      (await a.getOrSetWithMeta('disc', async () => 'x')).source,
      'l2',
      'L1 not trusted while down',
    );
  });

  it("hit rate across processes: a read that waited on another process's lease and got its value is one miss", async () => {
    const ns4 = uniqueName('cache_lease_rate');
    const x = await processCache(ns4, { lease: true });
    const y = await processCache(ns4, { lease: true });
    try {
      const gate = deferred<void>();
      const holder = x.cache.getOrSet('k', async () => {
        await gate.promise;
        return 'from x';
      });
      // x holds the lease once its load has started.
      await until(() => x.cache.metrics().leaseAcquired === 1);
      const waiter = y.cache.getOrSet('k', async () => 'from y');
      await until(() => y.cache.metrics().leaseWaits === 1);
      gate.resolve();
      assert.equal(await holder, 'from x');
      assert.equal(await waiter, 'from x');
      const my = y.cache.metrics();
      assert.equal(my.leaseWaitHits, 1);
      assert.equal(my.loaderRuns, 0);
      assert.equal(my.misses, 1, 'counted once, as a miss');
      assert.equal(my.hits, 0, 'not as an L2 hit as well');
      const mx = x.cache.metrics();
      assert.equal(mx.misses, 1);
      assert.equal(mx.hits, 0);
    } finally {
      await x.cache.close();
      await y.cache.close();
      await dropNamespace(admin, ns4);
    }
  });
});
