import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Cache } from '../../src/cache/index.js';
import { createDatabase, type Database } from '../../src/db/index.js';
import { type StoreSchema, setupStore, VideoStore } from '../../src/store/index.js';
import { uniqueName } from '../support/env.js';
import { connect, dropNamespace } from './helpers.js';

/** The store's warmers (a video by id, the popular list), on SQLite in memory with a memory-only cache. */
describe('VideoStore warmers', () => {
  let db: Database<StoreSchema>;
  let cache: Cache;
  let store: VideoStore;
  const ids: string[] = [];

  before(async () => {
    db = await createDatabase<StoreSchema>({ url: 'sqlite::memory:' });
    await setupStore(db);
    cache = new Cache();
    store = new VideoStore(db, { cache });
    for (let i = 0; i < 3; i++) {
      ids.push(
        await store.createVideoRecord({
          url: `https://www.youtube.com/watch?v=warmers000${i}`,
          viewCount: i === 2 ? null : 100 * (i + 1),
        }),
      );
    }
  });
  after(async () => {
    await cache.close();
    await db.close();
  });

  it('warms the most viewed videos and the popular list; reads then hit L1 with the same value', async () => {
    const report = await cache.warmFromHistory();
    // Two videos have a view count (seeds), plus `videos:popular:10`.
    assert.equal(report.warmed, 3);
    assert.deepEqual(
      ids.map((id) => cache.inL1(`video:${id}`)),
      [true, true, false],
    );
    assert.ok(cache.inL1('videos:popular:10'));
    const runs = cache.metrics().loaderRuns;
    const video = await store.getVideoById(ids[1]!);
    assert.equal(video?.viewCount, 200);
    assert.deepEqual(
      (await store.getPopularVideos()).map((v) => v.id),
      [ids[1], ids[0]],
    );
    assert.equal(cache.metrics().loaderRuns, runs, 'both reads were L1 hits');
  });

  it('a warmed entry carries the read’s tags: the write invalidations drop it', async () => {
    assert.ok(cache.inL1(`video:${ids[0]}`) && cache.inL1('videos:popular:10'));
    await cache.invalidateTags([`video:${ids[0]}`]);
    assert.equal(cache.inL1(`video:${ids[0]}`), false);
    assert.ok(cache.inL1(`video:${ids[1]}`));
    await cache.invalidateTags(['videos']);
    assert.equal(cache.inL1('videos:popular:10'), false);
  });

  it('records only the keys its warmers load: a video id, a list size; never a URL', async () => {
    const ns = uniqueName('storewarm');
    const client = await connect();
    const recording = new Cache({
      namespace: ns,
      redis: { client, closeClient: true, maxStalenessMs: false },
      hotKeys: { sampleEvery: 1 },
    });
    const admin = await connect();
    try {
      const s = new VideoStore(db, { cache: recording });
      await s.getVideoById(ids[2]!);
      await s.getPopularVideos(25);
      await s.findVideoByUrl('https://www.youtube.com/watch?v=warmers0000&token=s3cret');
      await s.getVideosByStatus('pending');
      await recording.flushHotKeys();
      assert.deepEqual((await recording.hotKeys(10)).map((h) => h.key).sort(), [
        `video:${ids[2]}`,
        'videos:popular:25',
      ]);
    } finally {
      await recording.close();
      await dropNamespace(admin, ns);
      admin.disconnect();
    }
  });
});
