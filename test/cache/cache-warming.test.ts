import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { Cache, type CacheWarmer, type WarmItem } from '../../src/cache/index.js';
import { FakeClock } from '../../src/testing/index.js';
import { uniqueName } from '../support/env.js';
import { connect, deferred, dropNamespace } from './helpers.js';

/** Lets the promise jobs queued so far run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}

/** A warmer of `item:<n>` keys whose loads are counted in `runs` and answer `n * 10`. */
function itemWarmer(runs: Map<string, number>, seeds: readonly string[] = []): CacheWarmer {
  return {
    itemFor(key): WarmItem | undefined {
      const n = Number(key.slice('item:'.length));
      if (!Number.isInteger(n)) return undefined;
      return {
        key,
        loader: () => {
          runs.set(key, (runs.get(key) ?? 0) + 1);
          return n * 10;
        },
        options: { ttlMs: 60_000, tags: ['items'] },
      };
    },
    seedKeys: () => Promise.resolve(seeds),
  };
}

describe('refresh-ahead (FakeClock, memory-only)', () => {
  it('reloads a hot entry once in the last part of its TTL, before it expires', async () => {
    const clock = new FakeClock();
    const cache = new Cache({ clock, refreshAhead: { fraction: 0.2, minHits: 2 } });
    let loads = 0;
    const loader = async () => ++loads;
    const read = () => cache.getOrSet('hot', loader, { ttlMs: 10_000 });
    assert.equal(await read(), 1);
    await clock.advance(1_000);
    await read();
    await read();
    await clock.advance(6_999); // 7,999 ms: before the last 20 %
    assert.equal(await read(), 1);
    await settle();
    assert.equal(loads, 1, 'no reload before the window');
    await clock.advance(1); // 8,000 ms: the window opens
    assert.equal(await read(), 1, 'the read is served the current value');
    assert.equal(await read(), 1);
    await settle();
    assert.equal(loads, 2, 'one reload, however many reads');
    assert.equal(cache.metrics().refreshAheads, 1);
    await clock.advance(5_000); // 13 s: past the first entry's expiry, inside the reloaded one's life
    assert.equal(await read(), 2);
    assert.equal(loads, 2);
    const m = cache.metrics();
    assert.equal(m.loaderRuns, 1, 'the reload is not a read');
    assert.equal(m.misses, 1);
    await cache.close();
  });

  it('leaves a cold entry to expire, and runs at most maxConcurrent reloads', async () => {
    const clock = new FakeClock();
    const cache = new Cache({ clock, refreshAhead: { fraction: 0.5, minHits: 3, maxConcurrent: 2 } });
    const pending = deferred<number>();
    let loads = 0;
    const slow = async () => {
      loads++;
      return loads <= 5 ? loads : pending.promise;
    };
    await cache.getOrSet('cold', slow, { ttlMs: 1_000 });
    for (const k of ['a', 'b', 'c']) {
      await cache.getOrSet(k, slow, { ttlMs: 1_000 });
      for (let i = 0; i < 3; i++) await cache.getOrSet(k, slow, { ttlMs: 1_000 });
    }
    assert.equal(loads, 4);
    await clock.advance(600);
    await cache.getOrSet('cold', slow, { ttlMs: 1_000 });
    await settle();
    assert.equal(loads, 4, 'a key hit once is not reloaded');
    for (const k of ['a', 'b', 'c']) await cache.getOrSet(k, slow, { ttlMs: 1_000 });
    await settle();
    assert.equal(cache.metrics().refreshAheads, 2, 'the third hot key waits for a free slot');
    assert.equal(loads, 6);
    pending.resolve(99);
    await cache.close();
  });

  it('is off by default: an entry is never reloaded before expiry', async () => {
    const clock = new FakeClock();
    const cache = new Cache({ clock });
    let loads = 0;
    for (let i = 0; i < 5; i++) await cache.getOrSet('k', async () => ++loads, { ttlMs: 1_000 });
    await clock.advance(999);
    for (let i = 0; i < 5; i++) await cache.getOrSet('k', async () => ++loads, { ttlMs: 1_000 });
    await settle();
    assert.equal(loads, 1);
    await cache.close();
  });
});

describe('warmFromHistory (FakeClock, memory-only: the warmers seeds)', () => {
  it('loads the seed keys through their warmer, counted apart from reads', async () => {
    const clock = new FakeClock();
    const cache = new Cache({ clock });
    const runs = new Map<string, number>();
    cache.registerWarmer('item:', itemWarmer(runs, ['item:1', 'item:2', 'item:x', 'other:1', 'item:1']));
    const report = await cache.warmFromHistory({ limit: 10 });
    assert.deepEqual(report, { candidates: 2, warmed: 2, present: 0, failed: 0, cutShort: false });
    assert.ok(cache.inL1('item:1') && cache.inL1('item:2'));
    assert.equal(
      await cache.getOrSet('item:2', () => assert.fail('warmed'), { ttlMs: 60_000 }),
      20,
      'a later read hits',
    );
    const m = cache.metrics();
    assert.equal(m.warmedKeys, 2);
    assert.equal(m.loaderRuns, 0);
    assert.equal(m.l1Hits, 1);
    // Warmed again: present, not loaded twice.
    const again = await cache.warmFromHistory({ limit: 10 });
    assert.equal(again.present, 2);
    assert.equal(runs.get('item:1'), 1);
    await cache.close();
  });

  it('a real read during warming joins the warm load (no second load)', async () => {
    const clock = new FakeClock();
    const cache = new Cache({ clock });
    const gate = deferred<string>();
    let runs = 0;
    cache.registerWarmer('slow:', {
      itemFor: (key) => ({
        key,
        loader: () => {
          runs++;
          return gate.promise;
        },
      }),
      seedKeys: () => Promise.resolve(['slow:1']),
    });
    const warming = cache.warmFromHistory({ timeBudgetMs: 60_000 });
    await settle();
    const read = cache.getOrSet('slow:1', async () => {
      runs++;
      return 'read';
    });
    gate.resolve('warm');
    assert.equal(await read, 'warm');
    assert.equal((await warming).warmed, 1);
    assert.equal(runs, 1);
    assert.equal(cache.metrics().coalesced, 1);
    await cache.close();
  });

  it('resolves by its time budget, and on abort, with the loads not done', async () => {
    const clock = new FakeClock();
    const cache = new Cache({ clock });
    const never = new Promise<number>(() => {});
    cache.registerWarmer('stuck:', {
      itemFor: (key) => ({ key, loader: () => never }),
      seedKeys: () => Promise.resolve(['stuck:1', 'stuck:2', 'stuck:3']),
    });
    let done = false;
    const warming = cache.warmFromHistory({ timeBudgetMs: 1_000, concurrency: 2 }).then((r) => {
      done = true;
      return r;
    });
    await clock.advance(999);
    await settle();
    assert.equal(done, false);
    await clock.advance(1);
    const report = await warming;
    assert.equal(report.cutShort, true);
    assert.equal(report.warmed, 0);
    assert.equal(report.candidates, 3);

    const abort = new AbortController();
    const aborted = cache.warmFromHistory({ timeBudgetMs: 60_000, signal: abort.signal });
    abort.abort();
    assert.equal((await aborted).cutShort, true);
    await cache.close();
  });
});

describe('hot-key recording in Redis (FakeClock for the windows)', () => {
  let admin: Redis;
  const spaces: string[] = [];
  before(async () => {
    admin = await connect();
  });
  after(async () => {
    for (const ns of spaces) await dropNamespace(admin, ns);
    admin.disconnect();
  });

  async function recordingCache(
    clock: FakeClock,
    options: { sampleEvery?: number; maxKeys?: number; namespace?: string } = {},
  ): Promise<{ cache: Cache; ns: string; runs: Map<string, number> }> {
    const ns = options.namespace ?? uniqueName('hotkeys');
    spaces.push(ns);
    const client = await connect();
    const cache = new Cache({
      namespace: ns,
      clock,
      redis: { client, closeClient: true, maxStalenessMs: false },
      hotKeys: {
        sampleEvery: options.sampleEvery ?? 1,
        maxKeys: options.maxKeys ?? 100,
        windowMs: 60_000,
        halfLifeMs: 300_000,
        windows: 30,
      },
    });
    const runs = new Map<string, number>();
    cache.registerWarmer('item:', itemWarmer(runs));
    assert.ok(await cache.ready(3_000));
    return { cache, ns, runs };
  }

  const read = (cache: Cache, key: string) => cache.getOrSet(key, async () => key, { ttlMs: 60_000 });

  it('samples every Nth read, and sends them in one flush on the clock', async () => {
    const clock = new FakeClock();
    const { cache, ns } = await recordingCache(clock, { sampleEvery: 4 });
    for (let i = 0; i < 8; i++) await read(cache, 'item:7');
    const window = `{${ns}}:hot:${Math.floor(clock.now() / 60_000)}`;
    assert.equal(await admin.exists(window), 0, 'nothing sent before the flush interval');
    await clock.advance(5_000);
    await until(async () => (await admin.zscore(window, 'item:7')) !== null);
    assert.equal(await admin.zscore(window, 'item:7'), '8', 'two samples, each worth 4 reads');
    const ttl = await admin.pttl(window);
    assert.ok(ttl > 1_700_000 && ttl <= 1_800_000, `the window expires with the history (${ttl})`);
    await cache.close();
  });

  it('records only keys a warmer loads: nothing else a caller uses as a key reaches Redis', async () => {
    const clock = new FakeClock();
    const { cache, ns } = await recordingCache(clock);
    await read(cache, 'video:url:https://example.com/?token=s3cret');
    await read(cache, 'item:1');
    await cache.flushHotKeys();
    const members = await admin.zrange(`{${ns}}:hot:${Math.floor(clock.now() / 60_000)}`, 0, -1);
    assert.deepEqual(members, ['item:1']);
    await cache.close();
  });

  it('decays old reads: ten reads 50 minutes ago weigh less than four now', async () => {
    const clock = new FakeClock();
    const { cache } = await recordingCache(clock);
    for (let i = 0; i < 10; i++) await read(cache, 'item:100');
    for (let i = 0; i < 3; i++) await read(cache, 'item:200');
    await cache.flushHotKeys();
    let top = await cache.hotKeys(10);
    assert.deepEqual(
      top.map((h) => [h.key, h.score]),
      [
        ['item:100', 10],
        ['item:200', 3],
      ],
    );
    await clock.advance(25 * 60_000); // five half-lives
    for (let i = 0; i < 4; i++) await read(cache, 'item:200');
    await cache.flushHotKeys();
    top = await cache.hotKeys(10);
    assert.deepEqual(
      top.map((h) => h.key),
      ['item:200', 'item:100'],
    );
    assert.ok(Math.abs(top[1]!.score - 10 / 32) < 1e-9, `old reads weigh 1/32 (${top[1]!.score})`);
    assert.ok(Math.abs(top[0]!.score - (4 + 3 / 32)) < 1e-9);
    await clock.advance(30 * 60_000); // past the history: the windows are not read any more
    assert.deepEqual(await cache.hotKeys(10), []);
    await cache.close();
  });

  it('keeps the top maxKeys of a window', async () => {
    const clock = new FakeClock();
    const { cache, ns } = await recordingCache(clock, { maxKeys: 3 });
    for (let k = 1; k <= 5; k++) for (let i = 0; i < k; i++) await read(cache, `item:${k}`);
    await cache.flushHotKeys();
    const window = `{${ns}}:hot:${Math.floor(clock.now() / 60_000)}`;
    assert.equal(await admin.zcard(window), 3);
    assert.deepEqual(
      (await cache.hotKeys(10)).map((h) => h.key),
      ['item:5', 'item:4', 'item:3'],
    );
    await cache.close();
  });

  it('refresh-ahead across processes: the second takes the first one’s reload from L2', async () => {
    const clock = new FakeClock();
    const ns = uniqueName('ahead');
    spaces.push(ns);
    const open = async (): Promise<Cache> => {
      const cache = new Cache({
        namespace: ns,
        clock,
        redis: { client: await connect(), closeClient: true, maxStalenessMs: false },
        refreshAhead: { fraction: 0.2, minHits: 1 },
      });
      assert.ok(await cache.ready(3_000));
      return cache;
    };
    const [a, b] = [await open(), await open()];
    try {
      const loads = { a: 0, b: 0 };
      const readA = () => a.getOrSet('k', async () => `a${++loads.a}`, { ttlMs: 10_000 });
      const readB = () => b.getOrSet('k', async () => `b${++loads.b}`, { ttlMs: 10_000 });
      assert.equal(await readA(), 'a1');
      assert.equal(await readB(), 'a1', 'from L2');
      const stored = await admin.getBuffer(`{${ns}}:k:k`);
      assert.ok(stored !== null);
      await readA();
      await readB();
      await clock.advance(8_000);
      assert.equal(await readA(), 'a1');
      // A's reload runs the loader (L2 holds nothing newer) and stores a2 in L2.
      await until(async () => {
        const now = await admin.getBuffer(`{${ns}}:k:k`);
        return loads.a === 2 && now !== null && !now.equals(stored);
      });
      assert.equal(await readB(), 'a1', 'served its current entry while it reloads');
      // B's reload is out on Redis: moving the fake clock before it answers would time its read out.
      await until(async () => (await b.get('k')) === 'a2');
      await clock.advance(3_000); // past the first entry's expiry
      assert.equal(await readB(), 'a2', 'B took A’s reload from L2');
      assert.equal(loads.b, 0, 'B never ran its loader');
      assert.equal(b.metrics().refreshAheads, 1);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a new process warms the previous one’s hot keys into L1, from L2', async () => {
    const clock = new FakeClock();
    const first = await recordingCache(clock);
    for (let k = 1; k <= 3; k++) for (let i = 0; i < 5 - k; i++) await read(first.cache, `item:${k}`);
    await read(first.cache, 'item:9');
    await first.cache.close(); // close() flushes what is pending

    const second = await recordingCache(clock, { namespace: first.ns });
    assert.equal(second.cache.inL1('item:1'), false);
    const report = await second.cache.warmFromHistory({ limit: 3 });
    assert.equal(report.warmed, 3);
    assert.deepEqual(
      ['item:1', 'item:2', 'item:3', 'item:9'].map((k) => second.cache.inL1(k)),
      [true, true, true, false],
      'the three hottest, within the limit',
    );
    assert.equal(second.runs.size, 0, 'the values came from L2: no loader ran');
    assert.equal(await read(second.cache, 'item:1'), 'item:1');
    assert.equal(second.cache.metrics().l1Hits, 1);
    await second.cache.close();
  });
});

async function until(check: () => Promise<boolean>, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
