import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { Cache } from '../../src/cache/index.js';
import { decodeEntry } from '../../src/cache/serializer.js';
import type { Logger } from '../../src/core/index.js';
import type { Database } from '../../src/db/index.js';
import {
  type StoreCache,
  type StoreRefresh,
  type StoreSchema,
  setupStore,
  type Video,
  VideoStore,
} from '../../src/store/index.js';
import { FakeClock, flushMicrotasks } from '../../src/testing/index.js';
import { postgresTarget } from '../support/databases.js';
import { uniqueName } from '../support/env.js';
import {
  closeProcesses,
  connect,
  deferred,
  processCache,
  sparePort,
  startRedis,
  stopRedis,
  until,
} from './helpers.js';

/** A logger that keeps the messages of warnings. */
function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const noop = (): void => {};
  return { warnings, debug: noop, info: noop, error: noop, warn: (_obj, msg) => warnings.push(msg ?? '') };
}

describe('write-through refresh in the cache (memory)', () => {
  it('a reader that starts after an invalidation does not join a load that began before it', async () => {
    const cache = new Cache({ clock: new FakeClock() });
    const old = deferred<string>();
    const first = cache.getOrSet('k', () => old.promise, { tags: ['t'] });
    await flushMicrotasks();
    // A write commits and invalidates while that load (which read the old row) is still running.
    await cache.invalidateTags(['t']);
    let loads = 0;
    const second = cache.getOrSet(
      'k',
      async () => {
        loads++;
        return 'new';
      },
      { tags: ['t'] },
    );
    old.resolve('old');
    assert.equal(await first, 'old', 'a read that began before the invalidation may get the old value');
    assert.equal(await second, 'new', 'a read that began after it must not');
    assert.equal(loads, 1);
    assert.equal(await cache.getOrSet('k', async () => 'unused', { tags: ['t'] }), 'new');
  });

  it('refresh stores the value, is not counted as a read, and readers arriving meanwhile wait for it', async () => {
    const cache = new Cache({ clock: new FakeClock() });
    const row = deferred<string>();
    const refreshed = cache.refresh('k', () => row.promise, { tags: ['t'] });
    await flushMicrotasks();
    let readerLoads = 0;
    const reader = cache.getOrSet(
      'k',
      async () => {
        readerLoads++;
        return 'reader';
      },
      { tags: ['t'] },
    );
    row.resolve('fresh');
    assert.equal(await refreshed, true);
    assert.equal(await reader, 'fresh');
    assert.equal(readerLoads, 0);
    assert.equal(await cache.getOrSet('k', async () => 'unused', { tags: ['t'] }), 'fresh');
    const m = cache.metrics();
    assert.equal(m.writeThroughRefreshes, 1);
    assert.equal(m.loaderRuns, 0, 'loaderRuns counts reads only');
    assert.equal(m.writeThroughWaits, 1);
    assert.equal(m.misses, 1, 'the reader that waited for the refresh is a miss');
    assert.equal(m.hits, 1, 'the read after it is an L1 hit');
  });

  it('a refresh overtaken by an invalidation stores nothing', async () => {
    const cache = new Cache({ clock: new FakeClock() });
    const row = deferred<string>();
    const refreshed = cache.refresh('k', () => row.promise, { tags: ['t'] });
    await flushMicrotasks();
    await cache.invalidateTags(['t']);
    row.resolve('read before the second write');
    assert.equal(await refreshed, false);
    assert.equal(await cache.getOrSet('k', async () => 'reloaded', { tags: ['t'] }), 'reloaded');
    assert.equal(cache.metrics().writeBackRejected, 1);
  });

  it('a failing refresh resolves false, is logged and counted, and stores nothing', async () => {
    const logger = recordingLogger();
    const cache = new Cache({ clock: new FakeClock(), logger });
    const stored = await cache.refresh('k', async () => {
      throw new Error('database down');
    });
    assert.equal(stored, false);
    const m = cache.metrics();
    assert.equal(m.writeThroughErrors, 1);
    assert.equal(m.loaderErrors, 0, 'loaderErrors counts reads only');
    assert.deepEqual(logger.warnings, ['cache: write-through refresh failed']);
    assert.equal(cache.inL1('k'), false);
  });

  it('close() waits for running refreshes', async () => {
    const cache = new Cache({ clock: new FakeClock() });
    const row = deferred<string>();
    const refreshed = cache.refresh('k', () => row.promise);
    let closed = false;
    const closing = cache.close().then(() => {
      closed = true;
    });
    await flushMicrotasks();
    assert.equal(closed, false);
    row.resolve('v');
    await closing;
    assert.equal(await refreshed, true);
    assert.equal(
      await cache.refresh('k', async () => 'after close'),
      false,
      'a closed cache refreshes nothing',
    );
  });
});

/**
 * The real Cache, with hooks that hold an invalidation or a refresh at a chosen point: the interleavings
 * of two writers are forced instead of hoped for. Redis and PostgreSQL do all the work.
 */
class GatedCache implements StoreCache {
  readonly cache: Cache;
  /** When set, invalidateTags waits for it first (the write has committed by then). */
  holdInvalidation: Promise<void> | undefined;
  /** When set, a refresh's loader waits for it after reading the row. */
  holdRefresh: Promise<void> | undefined;
  /** Titles read by refresh loaders, in order. */
  readonly refreshRead: Array<string | null | undefined> = [];

  constructor(cache: Cache) {
    this.cache = cache;
  }

  getOrSet<T>(key: string, loader: () => Promise<T>, options: { tags: readonly string[]; ttlMs?: number }) {
    return this.cache.getOrSet(key, loader, options);
  }

  async invalidateTags(tags: readonly string[], options?: { refresh?: StoreRefresh }): Promise<void> {
    if (this.holdInvalidation) await this.holdInvalidation;
    const r = options?.refresh;
    if (!r) {
      await this.cache.invalidateTags(tags);
      return;
    }
    const gate = this.holdRefresh;
    await this.cache.invalidateTags(tags, {
      refresh: {
        ...r,
        loader: async () => {
          const value = await r.loader();
          this.refreshRead.push((value as Video | undefined)?.title);
          if (gate) await gate;
          return value;
        },
      },
    });
  }

  inL1(key: string): boolean {
    return this.cache.inL1(key);
  }
}

/**
 * The real Cache, whose invalidateAndReplace runs `afterRead` between reading the row and the Redis
 * script: the interleavings "another write lands in between" and "Redis dies in between" are forced.
 */
class ReplaceHook implements StoreCache {
  readonly cache: Cache;
  /** Runs once (then cleared) after a replace's loader has read the row, before it is stored. */
  afterRead: (() => Promise<void>) | undefined;
  /** Titles read by replace and refresh loaders, in order. */
  readonly reads: Array<string | null | undefined> = [];

  constructor(cache: Cache) {
    this.cache = cache;
  }

  getOrSet<T>(key: string, loader: () => Promise<T>, options: { tags: readonly string[]; ttlMs?: number }) {
    return this.cache.getOrSet(key, loader, options);
  }

  invalidateTags(tags: readonly string[], options?: { refresh?: StoreRefresh }): Promise<void> {
    return this.cache.invalidateTags(tags, options);
  }

  invalidateAndReplace(tags: readonly string[], replace: StoreRefresh): Promise<boolean> {
    return this.cache.invalidateAndReplace(tags, {
      ...replace,
      loader: async () => {
        const value = await replace.loader();
        this.reads.push((value as Video | undefined)?.title);
        const hook = this.afterRead;
        this.afterRead = undefined;
        if (hook) await hook();
        return value;
      },
    });
  }

  inL1(key: string): boolean {
    return this.cache.inL1(key);
  }
}

describe('write-through refresh in the store (two processes on PostgreSQL and Redis)', () => {
  const target = postgresTarget();
  const ns = uniqueName('wt');
  const logger = recordingLogger();
  let admin: Redis;
  let dbA: Database<StoreSchema>;
  let dbB: Database<StoreSchema>;
  let cacheA: Cache;
  let cacheB: Cache;
  let storeA: VideoStore;
  let storeB: VideoStore;
  /** Reads the database directly: the truth the caches must agree with. */
  let plainA: VideoStore;
  let urlN = 0;
  const newUrl = (): string => `https://wt-${process.pid}.example.com/v/${++urlN}.mp4`;
  const newVideo = (title = 'v0'): Promise<string> => storeA.createVideoRecord({ url: newUrl(), title });
  const l2Key = (id: string): string => `{${ns}}:k:video:${id}`;

  before(async () => {
    admin = await connect();
    dbA = await target.open<StoreSchema>({ max: 8 });
    await setupStore(dbA);
    dbB = await target.open<StoreSchema>({ max: 8 });
    // Commands get seconds, not the default 50 ms: these tests are about write-through's logic, and a
    // command timed out on a loaded machine is a fault (it falls back to invalidation), tested below.
    cacheA = (await processCache(ns, { logger, timeoutMs: 5_000 })).cache;
    cacheB = (await processCache(ns, { timeoutMs: 5_000 })).cache;
    storeA = new VideoStore(dbA, { cache: cacheA, cacheTtlMs: 60_000 });
    storeB = new VideoStore(dbB, { cache: cacheB, cacheTtlMs: 60_000 });
    plainA = new VideoStore(dbA);
  });

  after(() => closeProcesses({ caches: [cacheA, cacheB], dbs: [dbA, dbB], target, admin, namespace: ns }));

  it('after updateVideo of a video read here, L1 and L2 hold the committed row: the next reads hit', async () => {
    const id = await newVideo();
    assert.equal((await storeA.getVideoById(id))?.title, 'v0');
    assert.equal((await storeB.getVideoById(id))?.title, 'v0');
    const a0 = cacheA.metrics();
    const b0 = cacheB.metrics();

    await storeA.updateVideo(id, { title: 'v1', viewCount: 42 });
    // No draining: the write resolves once its refresh is done.
    assert.equal(
      cacheA.inL1(`video:${id}`),
      true,
      'A holds the refreshed entry as soon as the write resolves',
    );
    const a1 = cacheA.metrics();
    assert.equal(a1.writeThroughRefreshes - a0.writeThroughRefreshes, 1);
    assert.equal(a1.loaderRuns, a0.loaderRuns, 'a refresh is not a read');
    assert.equal(await admin.exists(l2Key(id)), 1, 'L2 holds the entry again');

    const truth = await plainA.getVideoById(id);
    assert.equal(truth?.title, 'v1');
    const qA = dbA.metrics().queriesExecuted;
    assert.deepEqual(await storeA.getVideoById(id), truth, 'A serves the committed row');
    assert.equal(dbA.metrics().queriesExecuted, qA, 'from its cache');
    assert.equal(cacheA.metrics().l1Hits, a1.l1Hits + 1, 'from L1');

    const qB = dbB.metrics().queriesExecuted;
    assert.deepEqual(await storeB.getVideoById(id), truth, 'B serves the committed row');
    assert.equal(dbB.metrics().queriesExecuted, qB, 'from the cache');
    const b1 = cacheB.metrics();
    assert.equal(b1.l2Hits, b0.l2Hits + 1, "B's L1 copy was invalidated; the refreshed L2 entry answered");
    assert.equal(b1.loaderRuns, b0.loaderRuns);
  });

  it('updateVideoStatus refreshes too', async () => {
    const id = await newVideo();
    await storeA.getVideoById(id);
    const r0 = cacheA.metrics().writeThroughRefreshes;
    await storeA.updateVideoStatus(id, 'downloading');
    await cacheA.drainRefreshes();
    assert.equal(cacheA.metrics().writeThroughRefreshes, r0 + 1);
    const q = dbA.metrics().queriesExecuted;
    assert.equal((await storeA.getVideoById(id))?.status, 'downloading');
    assert.equal(dbA.metrics().queriesExecuted, q);
  });

  it('a video not held in L1 here is not refreshed: the write costs no extra read', async () => {
    const id = await newVideo();
    // Hot in B only: A is the writer and has never read it.
    await storeB.getVideoById(id);
    assert.equal(cacheA.inL1(`video:${id}`), false);
    const r0 = cacheA.metrics().writeThroughRefreshes;
    const q = dbA.metrics().queriesExecuted;
    await storeA.updateVideo(id, { title: 'v1' });
    await cacheA.drainRefreshes();
    assert.equal(cacheA.metrics().writeThroughRefreshes, r0);
    assert.equal(dbA.metrics().queriesExecuted, q + 1, 'only the UPDATE ran');
    assert.equal(await admin.exists(l2Key(id)), 0, 'nothing was stored for it');
    assert.equal((await storeB.getVideoById(id))?.title, 'v1');
  });

  it('writeThrough: false turns it off', async () => {
    const off = new VideoStore(dbA, { cache: cacheA, cacheTtlMs: 60_000, writeThrough: false });
    const id = await newVideo();
    await off.getVideoById(id);
    assert.equal(cacheA.inL1(`video:${id}`), true);
    const r0 = cacheA.metrics().writeThroughRefreshes;
    await off.updateVideo(id, { title: 'v1' });
    await cacheA.drainRefreshes();
    assert.equal(cacheA.metrics().writeThroughRefreshes, r0);
    assert.equal(cacheA.inL1(`video:${id}`), false, 'invalidated, not refreshed');
    assert.equal((await off.getVideoById(id))?.title, 'v1');
  });

  it('inside a transaction: refreshed after COMMIT, never before, never after ROLLBACK or a rolled-back savepoint', async () => {
    const kept = await newVideo();
    const dropped = await newVideo();
    await storeA.getVideoById(kept);
    await storeA.getVideoById(dropped);
    const r0 = cacheA.metrics().writeThroughRefreshes;

    await storeA.transaction(async (s) => {
      await s.updateVideo(kept, { title: 'v1' });
      await assert.rejects(
        s.transaction(async (inner) => {
          await inner.updateVideo(dropped, { title: 'v1' });
          throw new Error('roll back the savepoint');
        }),
        /savepoint/,
      );
      await cacheA.drainRefreshes();
      assert.equal(cacheA.metrics().writeThroughRefreshes, r0, 'nothing before COMMIT');
      assert.equal(cacheA.inL1(`video:${kept}`), true, 'not even invalidated before COMMIT');
    });
    await cacheA.drainRefreshes();
    assert.equal(cacheA.metrics().writeThroughRefreshes, r0 + 1, 'only the committed write refreshed');
    let q = dbA.metrics().queriesExecuted;
    assert.equal((await storeA.getVideoById(kept))?.title, 'v1');
    assert.equal((await storeA.getVideoById(dropped))?.title, 'v0', 'the savepoint rolled back');
    assert.equal(dbA.metrics().queriesExecuted, q, 'both answered from L1');

    await assert.rejects(
      storeA.transaction(async (s) => {
        await s.updateVideo(kept, { title: 'v2' });
        throw new Error('roll back');
      }),
      /roll back/,
    );
    await cacheA.drainRefreshes();
    assert.equal(cacheA.metrics().writeThroughRefreshes, r0 + 1, 'no refresh after ROLLBACK');
    q = dbA.metrics().queriesExecuted;
    assert.equal((await storeA.getVideoById(kept))?.title, 'v1');
    assert.equal(dbA.metrics().queriesExecuted, q, 'the entry survived the ROLLBACK');
  });

  it('a refresh that fails does not fail the write; it is logged and counted', async () => {
    const id = await newVideo();
    await storeA.getVideoById(id);
    const e0 = cacheA.metrics().writeThroughErrors;
    const w0 = logger.warnings.length;
    // A real failure of the refresh's SELECT that leaves the UPDATE (title, updated_at) working.
    await dbA.executeQuery('alter table videos rename column thumbnail_path to thumbnail_path_gone', [], {
      queryType: 'ddl',
    });
    try {
      await storeA.updateVideo(id, { title: 'v1' });
      await cacheA.drainRefreshes();
    } finally {
      await dbA.executeQuery('alter table videos rename column thumbnail_path_gone to thumbnail_path', [], {
        queryType: 'ddl',
      });
    }
    assert.equal(cacheA.metrics().writeThroughErrors, e0 + 1);
    assert.ok(logger.warnings.slice(w0).includes('cache: write-through refresh failed'));
    assert.equal(await admin.exists(l2Key(id)), 0, 'nothing stored');
    assert.equal((await storeA.getVideoById(id))?.title, 'v1', 'the write committed; the next read loads it');
  });

  it('race: a refresh that read the row before another writer committed is rejected; the cache ends equal to the database', async () => {
    const gated = new GatedCache(cacheA);
    const writerA = new VideoStore(dbA, { cache: gated, cacheTtlMs: 60_000 });
    const id = await newVideo();
    await writerA.getVideoById(id);
    await storeB.getVideoById(id);
    const hold = deferred<void>();
    gated.holdRefresh = hold.promise;
    const rejected0 = cacheA.metrics().writeBackRejected;

    // A's write waits for its refresh, which has read v1 and is held before storing it.
    const writeA = writerA.updateVideo(id, { title: 'v1' });
    await until(() => gated.refreshRead.length === 1 && !cacheB.inL1(`video:${id}`));
    assert.equal(gated.refreshRead[0], 'v1');
    // B reads v1 again (A's invalidation dropped B's copy), so B holds it and its own write refreshes it.
    assert.equal((await storeB.getVideoById(id))?.title, 'v1');
    await storeB.updateVideo(id, { title: 'v2' });
    await cacheB.drainRefreshes();
    const stored0 = cacheA.metrics().writeThroughRefreshes;
    hold.resolve();
    await writeA;
    assert.equal(cacheA.metrics().writeThroughRefreshes, stored0, 'it had already started');
    assert.equal(
      cacheA.metrics().writeBackRejected,
      rejected0 + 1,
      "B's invalidation rejected A's older row",
    );

    const truth = await plainA.getVideoById(id);
    assert.equal(truth?.title, 'v2');
    const qA = dbA.metrics().queriesExecuted;
    assert.deepEqual(await storeA.getVideoById(id), truth);
    assert.deepEqual(await storeB.getVideoById(id), truth);
    assert.equal(dbA.metrics().queriesExecuted, qA, "A answered from B's refreshed entry");
  });

  it('race: commits in order v1, v2 but invalidations in order v2, v1 still leave v2 cached', async () => {
    const gated = new GatedCache(cacheA);
    const writerA = new VideoStore(dbA, { cache: gated, cacheTtlMs: 60_000 });
    const id = await newVideo();
    await writerA.getVideoById(id);
    await storeB.getVideoById(id);
    const hold = deferred<void>();
    gated.holdInvalidation = hold.promise;

    const writeA = writerA.updateVideo(id, { title: 'v1' });
    // A's UPDATE has committed; its invalidation is held.
    for (let i = 0; i < 400 && (await plainA.getVideoById(id))?.title !== 'v1'; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal((await plainA.getVideoById(id))?.title, 'v1');
    await storeB.updateVideo(id, { title: 'v2' });
    await cacheB.drainRefreshes();
    assert.equal(await admin.exists(l2Key(id)), 1, "B's refresh stored v2");
    gated.holdInvalidation = undefined;
    hold.resolve();
    await writeA;
    await cacheA.drainRefreshes();
    // A's refresh began after its own invalidation and read the database: v2, not the v1 its UPDATE wrote.
    assert.deepEqual(gated.refreshRead, ['v2']);

    const truth = await plainA.getVideoById(id);
    assert.equal(truth?.title, 'v2');
    const qA = dbA.metrics().queriesExecuted;
    const qB = dbB.metrics().queriesExecuted;
    assert.deepEqual(await storeA.getVideoById(id), truth);
    assert.deepEqual(await storeB.getVideoById(id), truth);
    assert.equal(dbA.metrics().queriesExecuted, qA, 'A answered v2 from its cache');
    assert.equal(dbB.metrics().queriesExecuted, qB, 'B answered v2 from the cache');
  });

  it('race: concurrent writers on both instances, round after round, leave the cache equal to the database', async () => {
    const id = await newVideo();
    const r0 = cacheA.metrics().writeThroughRefreshes + cacheB.metrics().writeThroughRefreshes;
    for (let round = 0; round < 40; round++) {
      await Promise.all([
        storeA.updateVideo(id, { title: `a${round}` }),
        storeB.updateVideo(id, { title: `b${round}` }),
      ]);
      await Promise.all([cacheA.drainRefreshes(), cacheB.drainRefreshes()]);
      const truth = await plainA.getVideoById(id);
      // Reading through both stores also keeps the video in both L1s, so the next writes refresh it.
      assert.deepEqual(await storeA.getVideoById(id), truth, `round ${round}: A`);
      assert.deepEqual(await storeB.getVideoById(id), truth, `round ${round}: B`);
    }
    const refreshes = cacheA.metrics().writeThroughRefreshes + cacheB.metrics().writeThroughRefreshes - r0;
    assert.ok(refreshes >= 40, `only ${refreshes} refreshes ran`);
  });

  it('invalidate and replace: the entry is never missing from L2; the other instance reads the new row as an L2 hit', async () => {
    const id = await newVideo();
    await storeA.getVideoById(id);
    await storeB.getVideoById(id);
    const a0 = cacheA.metrics();
    const b0 = cacheB.metrics();
    // Watches the L2 entry from outside while the write runs: invalidation and refresh as two steps
    // would leave it missing between the DELETE and the refresh's store.
    let writing = true;
    let polls = 0;
    let missing = 0;
    const poller = (async () => {
      while (writing) {
        polls++;
        if ((await admin.exists(l2Key(id))) === 0) missing++;
      }
    })();
    await storeA.updateVideo(id, { title: 'v1' });
    writing = false;
    await poller;
    assert.ok(polls >= 2, `only ${polls} polls`);
    assert.equal(missing, 0, 'the L2 entry was missing during the write');
    const stored = await admin.getBuffer(l2Key(id));
    assert.ok(stored);
    assert.equal((decodeEntry(stored).value as Video).title, 'v1', 'L2 holds the new row');

    const a1 = cacheA.metrics();
    assert.equal(a1.writeThroughReplaced, a0.writeThroughReplaced + 1);
    assert.equal(a1.writeThroughFallbacks, a0.writeThroughFallbacks);
    assert.equal(a1.writeThroughRefreshes, a0.writeThroughRefreshes + 1, 'one database read spent');
    assert.equal(a1.loaderRuns, a0.loaderRuns, 'it is not a read');
    assert.equal(cacheA.inL1(`video:${id}`), true);

    const truth = await plainA.getVideoById(id);
    const qA = dbA.metrics().queriesExecuted;
    const qB = dbB.metrics().queriesExecuted;
    assert.deepEqual(await storeA.getVideoById(id), truth);
    assert.deepEqual(await storeB.getVideoById(id), truth);
    assert.equal(dbA.metrics().queriesExecuted, qA, 'A answered from L1');
    assert.equal(dbB.metrics().queriesExecuted, qB, 'B answered from L2');
    const b1 = cacheB.metrics();
    assert.equal(b1.l2Hits, b0.l2Hits + 1, "B's L1 copy was dropped by the bus; L2 held the new row");
    assert.equal(b1.loaderRuns, b0.loaderRuns);
    assert.equal(b1.misses, b0.misses, 'no read missed');
  });

  it('invalidate and replace is refused when a write lands between its snapshot and its script; the cache ends equal to the database', async () => {
    const hook = new ReplaceHook(cacheA);
    const writerA = new VideoStore(dbA, { cache: hook, cacheTtlMs: 60_000 });
    const id = await newVideo();
    await writerA.getVideoById(id);
    await storeB.getVideoById(id);
    // A's replace has read v1; before its script runs, B commits v2 and its own invalidation (a
    // replace too: B holds the video) moves the generations A's snapshot saw.
    hook.afterRead = async () => {
      await storeB.updateVideo(id, { title: 'v2' });
    };
    const a0 = cacheA.metrics();
    await writerA.updateVideo(id, { title: 'v1' });
    const a1 = cacheA.metrics();
    assert.equal(a1.writeThroughRefused, a0.writeThroughRefused + 1);
    assert.equal(a1.writeThroughFallbacks, a0.writeThroughFallbacks + 1);
    assert.equal(a1.writeThroughReplaced, a0.writeThroughReplaced);
    // The refused replace read v1; the refresh it fell back to read the database again.
    assert.deepEqual(hook.reads, ['v1', 'v2']);

    const truth = await plainA.getVideoById(id);
    assert.equal(truth?.title, 'v2');
    const stored = await admin.getBuffer(l2Key(id));
    assert.ok(stored);
    assert.equal((decodeEntry(stored).value as Video).title, 'v2');
    const qA = dbA.metrics().queriesExecuted;
    const qB = dbB.metrics().queriesExecuted;
    assert.deepEqual(await writerA.getVideoById(id), truth);
    assert.deepEqual(await storeB.getVideoById(id), truth);
    assert.equal(dbA.metrics().queriesExecuted, qA);
    assert.equal(dbB.metrics().queriesExecuted, qB);
  });

  it('invalidate and replace: three writers on each instance at once, round after round, leave the cache equal to the database', async () => {
    const id = await newVideo();
    const count = (name: 'writeThroughReplaced'): number => cacheA.metrics()[name] + cacheB.metrics()[name];
    const replaced0 = count('writeThroughReplaced');
    for (let round = 0; round < 40; round++) {
      await Promise.all(
        [storeA, storeB].flatMap((store, i) =>
          [0, 1, 2].map((w) => store.updateVideo(id, { title: `r${round}-${i}-${w}` })),
        ),
      );
      const truth = await plainA.getVideoById(id);
      // Both instances read (keeping the video in both L1s, so the next round's writers replace it).
      assert.deepEqual(await storeA.getVideoById(id), truth, `round ${round}: A`);
      assert.deepEqual(await storeB.getVideoById(id), truth, `round ${round}: B`);
      const stored = await admin.getBuffer(l2Key(id));
      if (stored) assert.deepEqual(decodeEntry(stored).value, truth, `round ${round}: L2`);
      // Then one write alone: nothing can move a generation between its snapshot and its script, so it
      // is always replaced in place, and both instances read the new row without a query.
      const before = count('writeThroughReplaced');
      await (round % 2 === 0 ? storeA : storeB).updateVideo(id, { title: `r${round}-solo` });
      const m = cacheA.metrics();
      assert.equal(
        count('writeThroughReplaced'),
        before + 1,
        `round ${round}: the lone write was replaced (A: refused ${m.writeThroughRefused}, fallbacks ${m.writeThroughFallbacks})`,
      );
      const solo = await plainA.getVideoById(id);
      assert.deepEqual(await storeA.getVideoById(id), solo, `round ${round}: A after the lone write`);
      assert.deepEqual(await storeB.getVideoById(id), solo, `round ${round}: B after the lone write`);
    }
    const replaced = count('writeThroughReplaced') - replaced0;
    assert.ok(replaced >= 40, `only ${replaced} replaced`);
  });
});

describe('invalidate and replace with Redis failing (a redis-server this test starts and kills)', () => {
  const target = postgresTarget();
  const ns = uniqueName('wt_down');
  let port: number;
  let server: ChildProcess | undefined;
  let db: Database<StoreSchema>;
  let cache: Cache;
  let hook: ReplaceHook;
  let store: VideoStore;
  let urlN = 0;
  const newVideo = (): Promise<string> =>
    store.createVideoRecord({
      url: `https://wt-down-${process.pid}.example.com/v/${++urlN}.mp4`,
      title: 'v0',
    });

  before(async () => {
    port = await sparePort();
    server = await startRedis(port);
    db = await target.open<StoreSchema>({ max: 4 });
    await setupStore(db);
    cache = (await processCache(ns, { url: `redis://127.0.0.1:${port}`, timeoutMs: 50 })).cache;
    hook = new ReplaceHook(cache);
    store = new VideoStore(db, { cache: hook, cacheTtlMs: 60_000 });
  });

  after(async () => {
    if (server) await stopRedis(server);
    await closeProcesses({ caches: [cache], dbs: [db], target, admin: undefined, namespace: ns });
  });

  const restart = async (): Promise<void> => {
    server = await startRedis(port);
    await until(() => cache.l1Trusted, 5_000);
    await until(() => cache.metrics().pendingInvalidations === 0, 5_000);
  };

  it('Redis down before the write: the write succeeds at once and the next read has the new row', async () => {
    const id = await newVideo();
    await store.getVideoById(id);
    assert.equal(cache.inL1(`video:${id}`), true);
    await stopRedis(server!);
    await until(() => !cache.l1Trusted);
    const m0 = cache.metrics();
    const t0 = performance.now();
    await store.updateVideo(id, { title: 'v1' });
    const elapsed = performance.now() - t0;
    assert.ok(elapsed < 1_000, `took ${elapsed} ms`);
    const m1 = cache.metrics();
    assert.equal(m1.writeThroughFallbacks, m0.writeThroughFallbacks + 1);
    assert.equal(m1.writeThroughReplaced, m0.writeThroughReplaced);
    assert.ok(m1.pendingInvalidations > 0, 'the invalidation waits for Redis');
    assert.equal((await store.getVideoById(id))?.title, 'v1');
    await restart();
  });

  it('Redis dies between the snapshot and the script: the write succeeds, and the invalidation is replayed when Redis is back', async () => {
    const id = await newVideo();
    await store.getVideoById(id);
    hook.afterRead = () => stopRedis(server!);
    const m0 = cache.metrics();
    await store.updateVideo(id, { title: 'v1' });
    const m1 = cache.metrics();
    assert.equal(m1.writeThroughFallbacks, m0.writeThroughFallbacks + 1);
    assert.equal(m1.writeThroughReplaced, m0.writeThroughReplaced);
    assert.equal(m1.writeThroughRefused, m0.writeThroughRefused, 'not refused: Redis failed');
    assert.ok(m1.pendingInvalidations > 0);
    assert.equal(cache.inL1(`video:${id}`), false, 'the old row left L1');
    assert.equal((await store.getVideoById(id))?.title, 'v1');
    await restart();
    // Redis answers again: the replayed invalidation went through, and replacing works again.
    await store.getVideoById(id);
    const m2 = cache.metrics();
    await store.updateVideo(id, { title: 'v2' });
    assert.equal(cache.metrics().writeThroughReplaced, m2.writeThroughReplaced + 1);
    assert.equal((await store.getVideoById(id))?.title, 'v2');
  });
});
