import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import type { Cache } from '../../src/cache/index.js';
import type { Database } from '../../src/db/index.js';
import { type StoreCache, type StoreSchema, setupStore, VideoStore } from '../../src/store/index.js';
import { postgresTarget } from '../support/databases.js';
import { uniqueName } from '../support/env.js';
import { closeProcesses, connect, processCache } from './helpers.js';

/**
 * The real Cache with every invalidateTags call recorded: the spy only watches, Redis and PostgreSQL do
 * the work. It satisfies both the store's and the database's cache hooks, as a Cache does.
 */
class InvalidationSpy implements StoreCache {
  readonly calls: string[][] = [];
  readonly #cache: Cache;

  constructor(cache: Cache) {
    this.#cache = cache;
  }

  getOrSet<T>(
    key: string,
    loader: () => Promise<T>,
    options: { tags?: readonly string[]; ttlMs?: number },
  ): Promise<T> {
    return this.#cache.getOrSet(key, loader, options);
  }

  async invalidateTags(tags: readonly string[]): Promise<void> {
    this.calls.push([...tags]);
    await this.#cache.invalidateTags(tags);
  }

  /** Every tag invalidated since the last call. */
  take(): string[] {
    const out = this.calls.flat();
    this.calls.length = 0;
    return out;
  }
}

const VERSION = /^v(\d+)$/;

function versionOf(title: string | null | undefined): number {
  const m = VERSION.exec(title ?? '');
  assert.ok(m, `unexpected title ${String(title)}`);
  return Number(m[1]);
}

/** Two "processes": each its own Database (pool) and its own Cache (two Redis connections), one schema. */
describe('cache with the database and the store (two processes on PostgreSQL and Redis)', () => {
  const target = postgresTarget();
  const ns = uniqueName('cachedb');
  let admin: Redis;
  let dbA: Database<StoreSchema>;
  let dbB: Database<StoreSchema>;
  let cacheA: Cache;
  let cacheB: Cache;
  let spyA: InvalidationSpy;
  let storeA: VideoStore;
  let storeB: VideoStore;
  let urlN = 0;
  const newUrl = (): string => `https://cachedb-${process.pid}.example.com/v/${++urlN}.mp4`;

  before(async () => {
    admin = await connect();
    dbA = await target.open<StoreSchema>({ max: 8 });
    await setupStore(dbA);
    dbB = await target.open<StoreSchema>({ max: 8 });
    cacheA = (await processCache(ns)).cache;
    cacheB = (await processCache(ns)).cache;
    spyA = new InvalidationSpy(cacheA);
    dbA.useCache(spyA);
    dbB.useCache(cacheB);
    storeA = new VideoStore(dbA, { cache: spyA, cacheTtlMs: 60_000 });
    storeB = new VideoStore(dbB, { cache: cacheB, cacheTtlMs: 60_000 });
  });

  after(() => closeProcesses({ caches: [cacheA, cacheB], dbs: [dbA, dbB], target, admin, namespace: ns }));

  it('no read on either instance returns a title older than the last write that had resolved', async () => {
    const videos = 3;
    const ids: string[] = [];
    for (let v = 0; v < videos; v++) ids.push(await storeA.createVideoRecord({ url: newUrl(), title: 'v0' }));
    /** Per video: the highest version whose updateVideo promise has resolved. */
    const resolved = ids.map(() => 0);
    const stores = [storeA, storeB];
    const before = [cacheA.metrics(), cacheB.metrics()];
    let stop = false;
    let writes = 0;
    let stale = 0;
    const reads = [0, 0];
    const staleSamples: string[] = [];

    const writer = async (): Promise<void> => {
      for (let n = 1; !stop; n++) {
        const v = n % videos;
        // Alternate the writing instance so invalidations travel both ways over the bus.
        await stores[n % 2]!.updateVideo(ids[v]!, { title: `v${n}` });
        resolved[v] = Math.max(resolved[v]!, n);
        writes++;
        // Leave gaps between writes so readers also see cache hits, not only misses.
        await new Promise((r) => setTimeout(r, 4));
      }
    };
    const reader = async (which: 0 | 1, seed: number): Promise<void> => {
      for (let i = seed; !stop; i++) {
        const v = i % videos;
        const floor = resolved[v]!;
        const video = await stores[which]!.getVideoById(ids[v]!);
        const version = versionOf(video?.title);
        reads[which]!++;
        if (version < floor) {
          stale++;
          if (staleSamples.length < 5) staleSamples.push(`${which}: read v${version} after v${floor}`);
        }
        // Yield to the event loop: a chain of L1 hits never leaves the microtask queue.
        if ((i & 3) === 0) await new Promise((r) => setImmediate(r));
      }
    };
    const loops = [writer()];
    for (let r = 0; r < 4; r++) loops.push(reader(0, r), reader(1, r + 7));
    await new Promise((r) => setTimeout(r, 3_000));
    stop = true;
    await Promise.all(loops);

    assert.equal(stale, 0, `stale reads: ${staleSamples.join('; ')}`);
    assert.ok(writes >= 30, `only ${writes} writes`);
    assert.ok(reads[0]! >= 500 && reads[1]! >= 500, `too few reads: ${reads.join(', ')}`);
    const [a, b] = [cacheA.metrics(), cacheB.metrics()];
    assert.ok(a.hits - before[0]!.hits > 100, 'instance A served reads from the cache');
    assert.ok(b.hits - before[1]!.hits > 100, 'instance B served reads from the cache');
    assert.ok(b.busMessagesReceived > 0 && a.busMessagesReceived > 0, 'invalidations crossed the bus');
    // The last write is what both instances read now.
    const last = Math.max(...resolved);
    const lastVideo = ids[last % videos]!;
    assert.equal((await storeB.getVideoById(lastVideo))?.title, `v${last}`);
    assert.equal((await storeA.getVideoById(lastVideo))?.title, `v${last}`);
  });

  it('a transaction invalidates on COMMIT only, never before and never on ROLLBACK', async () => {
    const id = await storeA.createVideoRecord({ url: newUrl(), title: 'v0' });
    assert.equal((await storeB.getVideoById(id))?.title, 'v0');
    spyA.take();
    const queriesB = dbB.metrics().queriesExecuted;

    await storeA.transaction(async (s) => {
      await s.updateVideo(id, { title: 'v1' });
      // Written but not committed: nothing invalidated, B still serves v0 from its cache.
      assert.deepEqual(spyA.calls, []);
      assert.equal((await storeB.getVideoById(id))?.title, 'v0');
    });
    assert.deepEqual(spyA.take().sort(), ['video:' + id, 'videos'].sort());
    assert.equal(dbB.metrics().queriesExecuted, queriesB, 'B answered from its cache during the tx');
    assert.equal((await storeB.getVideoById(id))?.title, 'v1', 'after COMMIT B reads the new title');
    assert.equal(dbB.metrics().queriesExecuted, queriesB + 1);

    const loadsB = cacheB.metrics().loaderRuns;
    await assert.rejects(
      storeA.transaction(async (s) => {
        await s.updateVideo(id, { title: 'v2' });
        throw new Error('roll back');
      }),
      /roll back/,
    );
    assert.deepEqual(spyA.take(), [], 'no invalidation after ROLLBACK');
    assert.equal((await storeB.getVideoById(id))?.title, 'v1');
    assert.equal(cacheB.metrics().loaderRuns, loadsB, "B's entry survived: read from the cache");
    assert.equal(
      (await dbA.kysely.selectFrom('videos').select('title').where('id', '=', id).executeTakeFirst())?.title,
      'v1',
    );
  });

  it('a rolled-back savepoint drops only its own invalidations', async () => {
    const kept = await storeA.createVideoRecord({ url: newUrl(), title: 'v0' });
    const dropped = await storeA.createVideoRecord({ url: newUrl(), title: 'v0' });
    await storeB.getVideoById(kept);
    await storeB.getVideoById(dropped);
    spyA.take();

    await storeA.transaction(async (s) => {
      await s.updateVideo(kept, { title: 'v1' });
      await assert.rejects(
        s.transaction(async (inner) => {
          await inner.updateVideo(dropped, { title: 'v1' });
          throw new Error('roll back the savepoint');
        }),
        /savepoint/,
      );
      // A savepoint that commits hands its invalidations to the outer transaction.
      await s.transaction(async (inner) => {
        await inner.updateVideo(kept, { description: 'released savepoint' });
      });
    });
    const tags = spyA.take();
    assert.ok(tags.includes(`video:${kept}`), 'the committed write was invalidated');
    assert.ok(!tags.includes(`video:${dropped}`), 'the rolled-back savepoint left no invalidation');

    const loadsB = cacheB.metrics().loaderRuns;
    const droppedRead = await storeB.getVideoById(dropped);
    assert.equal(droppedRead?.title, 'v0');
    assert.equal(cacheB.metrics().loaderRuns, loadsB, "dropped's entry is still cached in B");
    const keptRead = await storeB.getVideoById(kept);
    assert.equal(keptRead?.title, 'v1');
    assert.equal(keptRead?.description, 'released savepoint');
    assert.equal(cacheB.metrics().loaderRuns, loadsB + 1, "kept's entry was invalidated in B and reloaded");
  });

  it('executeQuery with cacheKey: the second read runs no query; a write with tags invalidates it everywhere', async () => {
    const id = await storeA.createVideoRecord({ url: newUrl(), title: 'q0' });
    const key = `q:title:${id}`;
    const select = (db: Database<StoreSchema>) =>
      db.executeQuery<{ title: string }>('select title from videos where id = ?', [id], {
        cacheKey: key,
        cacheTtlMs: 30_000,
        tags: [`video:${id}`],
      });

    const q0 = dbB.metrics().queriesExecuted;
    assert.deepEqual(await select(dbB), [{ title: 'q0' }]);
    assert.equal(dbB.metrics().queriesExecuted, q0 + 1);
    assert.deepEqual(await select(dbB), [{ title: 'q0' }]);
    assert.equal(dbB.metrics().queriesExecuted, q0 + 1, 'second read is a cache hit');
    // The Redis entry lives cacheTtlMs.
    const pttl = await admin.pttl(`{${ns}}:k:${key}`);
    assert.ok(pttl > 25_000 && pttl <= 30_000, `entry TTL ${pttl} ms`);
    // The other process reads the same entry from L2 without a query either.
    const qa = dbA.metrics().queriesExecuted;
    assert.deepEqual(await select(dbA), [{ title: 'q0' }]);
    assert.equal(dbA.metrics().queriesExecuted, qa);

    const changed = await dbA.executeQuery('update videos set title = ? where id = ?', ['q1', id], {
      queryType: 'update',
      tags: [`video:${id}`],
    });
    assert.equal(changed, 1);
    assert.deepEqual(await select(dbB), [{ title: 'q1' }], 'B reads the new title once the write resolved');
    assert.equal(dbB.metrics().queriesExecuted, q0 + 2);

    // A write without tags invalidates nothing (the caller chose not to name any).
    await dbA.executeQuery('update videos set title = ? where id = ?', ['q2', id], { queryType: 'update' });
    assert.deepEqual(await select(dbB), [{ title: 'q1' }]);
  });

  it('executeQuery writes with tags inside a transaction invalidate after COMMIT, not after ROLLBACK', async () => {
    const id = await storeA.createVideoRecord({ url: newUrl(), title: 't0' });
    const key = `q:tx:${id}`;
    const select = () =>
      dbB.executeQuery<{ title: string }>('select title from videos where id = ?', [id], {
        cacheKey: key,
        tags: [`video:${id}`],
      });
    const update = (q: Pick<Database<StoreSchema>, 'executeQuery'>, title: string) =>
      q.executeQuery('update videos set title = ? where id = ?', [title, id], {
        queryType: 'update',
        tags: [`video:${id}`],
      });
    assert.deepEqual(await select(), [{ title: 't0' }]);
    spyA.take();

    await assert.rejects(
      dbA.transaction(async (tx) => {
        await update(tx, 't-rolled-back');
        throw new Error('roll back');
      }),
      /roll back/,
    );
    assert.deepEqual(spyA.take(), []);
    const q = dbB.metrics().queriesExecuted;
    assert.deepEqual(await select(), [{ title: 't0' }]);
    assert.equal(dbB.metrics().queriesExecuted, q, 'still cached after the ROLLBACK');

    await dbA.transaction(async (tx) => {
      await update(tx, 't1');
      assert.deepEqual(spyA.calls, [], 'nothing invalidated before COMMIT');
      // Reads inside the transaction bypass the cache: they see the uncommitted write.
      const inside = await tx.executeQuery<{ title: string }>('select title from videos where id = ?', [id], {
        cacheKey: key,
      });
      assert.deepEqual(inside, [{ title: 't1' }]);
    });
    assert.deepEqual(spyA.take(), [`video:${id}`]);
    assert.deepEqual(await select(), [{ title: 't1' }]);
  });

  it('every cached store read is shared across instances and invalidated by the writes that touch it', async () => {
    const id = await storeA.createVideoRecord({
      url: newUrl(),
      title: 'r0',
      duration: 100,
      viewCount: 9_000_000_000,
    });
    const url = (await storeA.getVideoById(id))!.url;
    const reads = {
      getVideosByStatus: () => storeB.getVideosByStatus('pending', { limit: 500 }),
      getPopularVideos: () => storeB.getPopularVideos(5),
      getClipsByVideoId: () => storeB.getClipsByVideoId(id),
      findVideoByUrl: () => storeB.findVideoByUrl(url),
      stats: () => storeB.stats(),
    };
    const before: Record<string, string> = {};
    const q0 = dbB.metrics().queriesExecuted;
    for (const [name, read] of Object.entries(reads)) before[name] = JSON.stringify(await read());
    const q1 = dbB.metrics().queriesExecuted;
    assert.ok(q1 > q0);
    for (const [name, read] of Object.entries(reads)) {
      assert.equal(JSON.stringify(await read()), before[name], name);
    }
    assert.equal(dbB.metrics().queriesExecuted, q1, 'every second read was a cache hit (stats included)');

    await storeA.createClipRecord(id, { startTime: 1, endTime: 5, title: 'c' });
    await storeA.updateVideo(id, { title: 'r1' });
    const after = {
      getVideosByStatus: (await reads.getVideosByStatus()).items.find((v) => v.id === id)?.title,
      getPopularVideos: (await reads.getPopularVideos()).find((v) => v.id === id)?.title,
      getClipsByVideoId: (await reads.getClipsByVideoId()).length,
      findVideoByUrl: (await reads.findVideoByUrl())?.title,
      clipsTotal: (await reads.stats()).clips.total,
    };
    assert.deepEqual(after, {
      getVideosByStatus: 'r1',
      getPopularVideos: 'r1',
      getClipsByVideoId: 1,
      findVideoByUrl: 'r1',
      clipsTotal: JSON.parse(before.stats!).clips.total + 1,
    });
  });
});
