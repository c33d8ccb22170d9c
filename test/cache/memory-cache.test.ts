import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { APICache, Cache } from '../../src/cache/index.js';
import { MemoryStore } from '../../src/cache/memory-store.js';
import { decode, encode } from '../../src/cache/serializer.js';
import { FakeClock, flushMicrotasks } from '../../src/testing/index.js';
import { deferred } from './helpers.js';

describe('serialization', () => {
  it('round-trips Date, bigint, Buffer, Uint8Array, nested objects and null', () => {
    const value = {
      at: new Date(Date.UTC(2026, 10, 28, 17, 0, 0, 123)),
      small: 42n,
      huge: 2n ** 100n + 7n,
      negative: -(2n ** 70n),
      body: Buffer.from('{"ok":true}'),
      bytes: new Uint8Array([0, 1, 254, 255]),
      nothing: null,
      nested: { list: [1, 2.5, 'x', { deeper: [null, true, new Date(0)] }], big: 2 ** 40 },
    };
    const back = decode(encode(value)) as typeof value;
    assert.deepEqual(back, value);
    assert.ok(back.at instanceof Date);
    assert.equal(typeof back.small, 'bigint');
    assert.ok(Buffer.isBuffer(back.body));
    assert.ok(back.bytes instanceof Uint8Array);
    assert.equal(typeof back.nested.big, 'number');
    assert.equal(decode(encode(null)), null);
    assert.deepEqual(decode(encode(new Set([1, 'a']))), new Set([1, 'a']));
    assert.deepEqual(decode(encode(new Map([['k', 1]]))), { k: 1 }, 'a Map comes back as a plain object');
  });
});

describe('memory cache (FakeClock)', () => {
  it('serves L1 hits until ttl, then loads again', async () => {
    const clock = new FakeClock();
    const cache = new Cache({ clock });
    let runs = 0;
    const loader = async (): Promise<number> => ++runs;
    assert.equal(await cache.getOrSet('k', loader, { ttlMs: 1_000 }), 1);
    assert.equal(await cache.getOrSet('k', loader, { ttlMs: 1_000 }), 1);
    await clock.advance(999);
    assert.equal(await cache.getOrSet('k', loader, { ttlMs: 1_000 }), 1);
    await clock.advance(1);
    assert.equal(await cache.getOrSet('k', loader, { ttlMs: 1_000 }), 2);
    const m = cache.metrics();
    assert.equal(m.l1Hits, 2);
    assert.equal(m.loaderRuns, 2);
    assert.equal(m.cacheHitRate, 0.5);
  });

  it('null is cached and is not a miss', async () => {
    const cache = new Cache({ clock: new FakeClock() });
    let runs = 0;
    const loader = async (): Promise<null> => {
      runs++;
      return null;
    };
    assert.equal(await cache.getOrSet('n', loader), null);
    assert.equal(await cache.getOrSet('n', loader), null);
    assert.equal(runs, 1);
    assert.equal(await cache.get('n'), null);
    assert.equal(await cache.get('absent'), undefined);
  });

  it('inside grace serves the stale value and refreshes once in the background', async () => {
    const clock = new FakeClock();
    const cache = new Cache({ clock });
    let runs = 0;
    const gate = deferred<void>();
    const loader = async (): Promise<string> => {
      runs++;
      if (runs === 2) await gate.promise;
      return `v${runs}`;
    };
    const opts = { ttlMs: 1_000, graceMs: 10_000 };
    assert.equal(await cache.getOrSet('k', loader, opts), 'v1');
    await clock.advance(2_000);
    const a = await cache.getOrSetWithMeta('k', loader, opts);
    const b = await cache.getOrSetWithMeta('k', loader, opts);
    assert.deepEqual(a, { value: 'v1', stale: true, source: 'l1' });
    assert.deepEqual(b, { value: 'v1', stale: true, source: 'l1' });
    assert.equal(runs, 2, 'one background refresh for both stale reads');
    gate.resolve();
    await flushMicrotasks();
    assert.deepEqual(await cache.getOrSetWithMeta('k', loader, opts), {
      value: 'v2',
      stale: false,
      source: 'l1',
    });
    assert.equal(cache.metrics().staleServed, 2);
    assert.equal(cache.metrics().backgroundRefreshes, 1);
  });

  it('after grace the stale value is gone: the caller waits for the loader', async () => {
    const clock = new FakeClock();
    const cache = new Cache({ clock });
    let runs = 0;
    const loader = async (): Promise<number> => ++runs;
    await cache.getOrSet('k', loader, { ttlMs: 100, graceMs: 100 });
    await clock.advance(200);
    assert.deepEqual(await cache.getOrSetWithMeta('k', loader, { ttlMs: 100, graceMs: 100 }), {
      value: 2,
      stale: false,
      source: 'loader',
    });
  });

  it('fail-safe: a failing loader yields the value within grace, flagged stale; past grace the error', async () => {
    const clock = new FakeClock();
    const cache = new Cache({ clock });
    await cache.getOrSet('k', async () => 'old', { ttlMs: 100, graceMs: 1_000 });
    await clock.advance(500);
    const boom = async (): Promise<string> => {
      throw new Error('database down');
    };
    // The first stale read is served from grace and starts a refresh; that refresh fails quietly.
    assert.deepEqual(await cache.getOrSetWithMeta('k', boom, { ttlMs: 100, graceMs: 1_000 }), {
      value: 'old',
      stale: true,
      source: 'l1',
    });
    await flushMicrotasks();
    assert.equal(cache.metrics().loaderErrors, 1);
    await clock.advance(1_000);
    await assert.rejects(cache.getOrSet('k', boom, { ttlMs: 100, graceMs: 1_000 }), /database down/);
  });

  it('a finished background refresh replaces the stale value', async () => {
    const clock = new FakeClock();
    const cache = new Cache({ clock });
    await cache.getOrSet('k', async () => 'old', { ttlMs: 100, graceMs: 1_000 });
    await clock.advance(200);
    await cache.getOrSetWithMeta('k', async () => 'new', { ttlMs: 100, graceMs: 1_000 });
    await flushMicrotasks();
    assert.equal(await cache.getOrSet('k', async () => 'x', { ttlMs: 100 }), 'new');
  });

  it('100 concurrent getOrSet on a cold key run the loader once', async () => {
    const cache = new Cache({ clock: new FakeClock() });
    const gate = deferred<void>();
    let runs = 0;
    const loader = async (): Promise<string> => {
      runs++;
      await gate.promise;
      return 'v';
    };
    const all = Promise.all(Array.from({ length: 100 }, () => cache.getOrSet('cold', loader)));
    await flushMicrotasks();
    gate.resolve();
    const values = await all;
    assert.equal(runs, 1);
    assert.ok(values.every((v) => v === 'v'));
    assert.equal(cache.metrics().coalesced, 99);
  });

  it('a waiting caller can give up with its signal while the shared load carries on', async () => {
    const cache = new Cache({ clock: new FakeClock() });
    const gate = deferred<void>();
    const loader = async (): Promise<string> => {
      await gate.promise;
      return 'v';
    };
    const ac = new AbortController();
    const first = cache.getOrSet('k', loader);
    const second = cache.getOrSet('k', loader, { signal: ac.signal });
    ac.abort();
    await assert.rejects(second, { code: 'ERR_ABORTED' });
    gate.resolve();
    assert.equal(await first, 'v');
  });

  it('deleteByTag removes tagged entries only; invalidateTags takes several', async () => {
    const cache = new Cache({ clock: new FakeClock() });
    await cache.set('video:1', 'a', { tags: ['videos', 'video:1'] });
    await cache.set('video:2', 'b', { tags: ['videos', 'video:2'] });
    await cache.set('clip:9', 'c', { tags: ['clips'] });
    await cache.deleteByTag('video:1');
    assert.equal(await cache.get('video:1'), undefined);
    assert.equal(await cache.get('video:2'), 'b');
    await cache.invalidateTags(['videos', 'clips']);
    assert.equal(await cache.get('video:2'), undefined);
    assert.equal(await cache.get('clip:9'), undefined);
    assert.equal(cache.metrics().l1Entries, 0);
  });

  it('overwriting an entry re-indexes its tags', async () => {
    const cache = new Cache({ clock: new FakeClock() });
    await cache.set('k', 1, { tags: ['a'] });
    await cache.set('k', 2, { tags: ['b'] });
    await cache.deleteByTag('a');
    assert.equal(await cache.get('k'), 2);
    await cache.deleteByTag('b');
    assert.equal(await cache.get('k'), undefined);
  });

  it('a load that began before an invalidation of its tag does not store its value', async () => {
    const cache = new Cache({ clock: new FakeClock() });
    const gate = deferred<void>();
    const first = cache.getOrSet(
      'video:1',
      async () => {
        await gate.promise;
        return 'old';
      },
      { tags: ['video:1'] },
    );
    await flushMicrotasks();
    await cache.deleteByTag('video:1');
    gate.resolve();
    assert.equal(await first, 'old', 'the caller still gets what it read');
    assert.equal(await cache.getOrSet('video:1', async () => 'new', { tags: ['video:1'] }), 'new');
    assert.equal(cache.metrics().writeBackRejected, 1);
  });

  it('LRU bound by entries evicts the least recently used', async () => {
    const cache = new Cache({ clock: new FakeClock(), l1: { maxEntries: 3 } });
    for (const k of ['a', 'b', 'c']) await cache.set(k, k);
    await cache.get('a');
    await cache.set('d', 'd');
    assert.equal(await cache.get('b'), undefined);
    assert.equal(await cache.get('a'), 'a');
    assert.equal(cache.metrics().l1Entries, 3);
  });

  it('LRU bound by bytes keeps the total under maxBytes and refuses an oversized entry', async () => {
    const cache = new Cache({ clock: new FakeClock(), l1: { maxEntries: 1_000, maxBytes: 5_000 } });
    for (let i = 0; i < 20; i++) await cache.set(`k${i}`, Buffer.alloc(1_000, i), { tags: ['blob'] });
    const m = cache.metrics();
    assert.ok(m.l1Bytes <= 5_000, `bytes ${m.l1Bytes}`);
    assert.ok(m.l1Entries >= 3 && m.l1Entries <= 4, `entries ${m.l1Entries}`);
    assert.equal(await cache.get('k0'), undefined);
    assert.deepEqual(await cache.get('k19'), Buffer.alloc(1_000, 19));
    await cache.set('huge', Buffer.alloc(10_000));
    assert.equal(await cache.get('huge'), undefined);
  });

  it('MemoryStore drops tag index entries on eviction', () => {
    const store = new MemoryStore({ maxEntries: 2 });
    const entry = (tag: string) => ({
      value: 1,
      expiresAt: 1,
      staleUntil: 1,
      tags: [tag],
      epoch: 0,
      size: 1,
      hits: 0,
      refreshAfter: Number.POSITIVE_INFINITY,
    });
    store.set('a', entry('ta'));
    store.set('b', entry('tb'));
    store.set('c', entry('tc'));
    assert.equal(store.tagCount, 2);
    assert.equal(store.deleteByTag('ta'), 0);
  });

  it('clear empties L1; warm loads each item once', async () => {
    const cache = new Cache({ clock: new FakeClock() });
    let runs = 0;
    const n = await cache.warm(
      Array.from({ length: 10 }, (_, i) => ({ key: `w${i}`, loader: async () => ++runs })),
      { concurrency: 3 },
    );
    assert.equal(n, 10);
    assert.equal(runs, 10);
    assert.equal(cache.metrics().l1Entries, 10);
    await cache.clear();
    assert.equal(cache.metrics().l1Entries, 0);
  });

  it('APICache(maxSize, ttlMs) is a bounded LRU whose entries live ttlMs', async () => {
    const clock = new FakeClock();
    const api = new APICache(2, 60_000, { clock });
    await api.set('a', { body: 1 });
    await api.set('b', { body: 2 });
    await api.set('c', { body: 3 });
    assert.equal(await api.get('a'), undefined);
    await clock.advance(59_999);
    assert.deepEqual(await api.get('c'), { body: 3 });
    await clock.advance(1);
    assert.equal(await api.get('c'), undefined);
  });

  it('rejects a non-positive ttl', async () => {
    const cache = new Cache({ clock: new FakeClock() });
    await assert.rejects(cache.set('k', 1, { ttlMs: 0 }), { code: 'ERR_INVALID_ARGUMENT' });
  });

  it('refuses a duration option named without its unit instead of ignoring it', async () => {
    const cache = new Cache({ clock: new FakeClock() });
    // As a JavaScript caller would pass them: the types do not have these names.
    const untyped = (json: string): never => JSON.parse(json) as never;
    const refused = { code: 'ERR_INVALID_ARGUMENT' };
    await assert.rejects(cache.set('k', 1, untyped('{"ttl":1000}')), refused);
    await assert.rejects(
      cache.getOrSet('k', async () => 1, untyped('{"grace":1000}')),
      refused,
    );
    assert.throws(() => new Cache(untyped('{"defaultTtl":1000}')), /defaultTtlMs/);
    assert.throws(() => new Cache(untyped('{"defaultGrace":0}')), /defaultGraceMs/);
  });

  it('a closed cache rejects writes (never throws), with ERR_CACHE_CLOSED, permanent', async () => {
    const cache = new Cache({ clock: new FakeClock() });
    await cache.close();
    const closed = { code: 'ERR_CACHE_CLOSED', transient: false };
    let replace: Promise<boolean> | undefined;
    assert.doesNotThrow(() => {
      replace = cache.invalidateAndReplace(['t'], { key: 'k', loader: async () => 1 });
    });
    await assert.rejects(replace!, closed);
    await assert.rejects(cache.set('k', 1), closed);
    await assert.rejects(cache.invalidateTags(['t']), closed);
  });

  it('in a loop that never yields, L1 entries still expire on time (the hit path’s clock moves)', async () => {
    // The system clock: FakeClock would be read on every call.
    const cache = new Cache({ defaultTtlMs: 30 });
    let runs = 0;
    const loader = async (): Promise<number> => ++runs;
    assert.equal(await cache.getOrSet('k', loader), 1);
    const end = Date.now() + 2_000;
    let value = 1;
    // Only awaits of settled promises: no timer can fire in here.
    while (value === 1 && Date.now() < end) value = await cache.getOrSet('k', loader);
    assert.equal(value, 2, 'the entry expired and was loaded again');
    await cache.close();
  });

  it("hit rate: a read that waited for another read's load is a miss; a grace refresh and its load are not reads", async () => {
    const clock = new FakeClock();
    const cache = new Cache({ clock });
    const gate = deferred<void>();
    let runs = 0;
    const loader = async (): Promise<string> => {
      runs++;
      await gate.promise;
      return `v${runs}`;
    };
    const opts = { ttlMs: 1_000, graceMs: 10_000 };
    const first = cache.getOrSet('k', loader, opts);
    const joined = cache.getOrSet('k', loader, opts);
    await flushMicrotasks();
    gate.resolve();
    assert.deepEqual(await Promise.all([first, joined]), ['v1', 'v1']);
    let m = cache.metrics();
    assert.equal(m.loaderRuns, 1);
    assert.equal(m.coalesced, 1);
    assert.equal(m.misses, 2, 'the joined read waited for the database too');
    assert.equal(m.hits, 0);
    assert.equal(m.cacheHitRate, 0);

    assert.equal(await cache.getOrSet('k', loader, opts), 'v1');
    m = cache.metrics();
    assert.equal(m.hits, 1);
    assert.equal(m.cacheHitRate, 1 / 3);

    // Inside grace: the read is served (a hit); the background refresh it starts is no read.
    await clock.advance(2_000);
    assert.equal(await cache.getOrSet('k', loader, opts), 'v1');
    await flushMicrotasks();
    assert.equal(runs, 2, 'the background refresh ran');
    m = cache.metrics();
    assert.equal(m.hits, 2);
    assert.equal(m.misses, 2);
    assert.equal(m.loaderRuns, 1, 'a grace refresh is counted in backgroundRefreshes only');
    assert.equal(m.backgroundRefreshes, 1);

    // get() that finds nothing is a miss too.
    assert.equal(await cache.get('absent'), undefined);
    assert.equal(cache.metrics().misses, 3);
  });
});
