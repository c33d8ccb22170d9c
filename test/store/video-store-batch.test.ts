import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isOpusError } from '../../src/core/index.js';
import type { NewVideo, VideoStore } from '../../src/store/index.js';
import { uuidv7 } from '../../src/store/uuid-v7.js';
import { testTargets } from '../support/databases.js';
import { countRows, openStore, rejectsWith, type StoreFixture } from './helpers.js';

class Boom extends Error {}

for (const target of testTargets()) {
  describe(`VideoStore batches and transactions on ${target.name}`, () => {
    let f: StoreFixture;
    before(async () => {
      f = await openStore(target);
    });
    after(async () => {
      await f?.db.close();
      await target.dispose();
    });

    async function counts(): Promise<[number, number, number]> {
      return [
        await countRows(f.db, 'videos'),
        await countRows(f.db, 'clips'),
        await countRows(f.db, 'processing_jobs'),
      ];
    }

    /** A video, its clips, a job and a status change: what one pipeline step writes. */
    async function writeAll(s: VideoStore, label: string): Promise<string> {
      const id = await s.createVideoRecord({ url: `${f.host(label)}/v`, duration: 100 });
      await s.createClipRecord(id, { startTime: 0, endTime: 10 });
      await s.replaceClips(id, [
        { startTime: 1, endTime: 2 },
        { startTime: 3, endTime: 4 },
      ]);
      await s.batchInsertClips([{ videoId: id, startTime: 5, endTime: 6 }]);
      await s.createProcessingJob({ videoId: id, jobType: 'render' });
      await s.updateVideoStatus(id, 'downloading');
      await s.batchUpdateVideoStatus([id], 'processing');
      await s.batchInsertVideos([{ url: `${f.host(label)}/batch` }]);
      return id;
    }

    it('store.transaction commits every write on one connection', async () => {
      const before = await counts();
      const id = await f.store.transaction(async (s) => {
        assert.equal(s.queryable.inTransaction, true);
        const id = await writeAll(s, 'commit');
        // Read-your-writes inside the transaction.
        assert.equal((await s.getVideoById(id))?.status, 'processing');
        assert.equal((await s.getClipsByVideoId(id)).length, 3);
        return id;
      });
      assert.deepEqual(await counts(), [before[0] + 2, before[1] + 3, before[2] + 1]);
      assert.equal((await f.store.getVideoById(id))?.status, 'processing');
    });

    it('a store.transaction that throws leaves nothing behind', async () => {
      const before = await counts();
      let id: string | undefined;
      await assert.rejects(
        f.store.transaction(async (s) => {
          id = await writeAll(s, 'rollback');
          throw new Boom('after every write');
        }),
        Boom,
      );
      assert.deepEqual(await counts(), before);
      assert.equal(await f.store.getVideoById(id!), undefined);
    });

    it('store.with(tx) inside db.transaction rolls back with it', async () => {
      const before = await counts();
      await assert.rejects(
        f.db.transaction(async (tx) => {
          await writeAll(f.store.with(tx), 'with-tx');
          throw new Boom('rollback');
        }),
        Boom,
      );
      assert.deepEqual(await counts(), before);
    });

    it('a failed store call inside a transaction rolls back the earlier writes too', async () => {
      const before = await counts();
      await rejectsWith(
        f.store.transaction(async (s) => {
          const id = await s.createVideoRecord({ url: `${f.host('midway')}/v`, duration: 10 });
          await s.createClipRecord(id, { startTime: 0, endTime: 5 });
          await s.createClipRecord(id, { startTime: 0, endTime: 50 });
        }),
        'ERR_STORE_INVALID_INPUT',
      );
      assert.deepEqual(await counts(), before);
    });

    it('rolling back to a savepoint keeps the outer work', async () => {
      const before = await counts();
      const [outer, inner] = await f.store.transaction(async (s) => {
        const outer = await s.createVideoRecord({ url: `${f.host('outer')}/v` });
        let inner: string | undefined;
        await assert.rejects(
          s.transaction(async (nested) => {
            assert.equal((nested.queryable as { depth?: number }).depth, 1);
            inner = await writeAll(nested, 'inner');
            throw new Boom('only the savepoint');
          }),
          Boom,
        );
        // The store's own transactional methods nest as savepoints too.
        await rejectsWith(s.replaceClips(outer, [{ startTime: 2, endTime: 1 }]), 'ERR_STORE_INVALID_INPUT');
        await s.createClipRecord(outer, { startTime: 0, endTime: 1 });
        return [outer, inner!];
      });
      assert.deepEqual(await counts(), [before[0] + 1, before[1] + 1, before[2]]);
      assert.ok(await f.store.getVideoById(outer));
      assert.equal(await f.store.getVideoById(inner), undefined);
    });

    it('batchInsertVideos: 10,000 videos, ids in input order, every row stored', async () => {
      const base = f.host('bulk');
      const n = 10_000;
      const input: NewVideo[] = Array.from({ length: n }, (_, i) => ({
        url: `${base}/v/${i}?utm_source=test`,
        title: `video ${i}`,
        duration: i % 7 === 0 ? null : i / 10,
        viewCount: i * 1000,
        ...(i % 3 === 0 ? { status: 'completed' as const } : {}),
        publishedAt: new Date(Date.UTC(2020, 0, 1) + i * 1000),
      }));
      const ids = await f.store.batchInsertVideos(input);
      assert.equal(ids.length, n);
      assert.equal(new Set(ids).size, n);
      const rows = await f.db.kysely
        .selectFrom('videos')
        .select(['id', 'url_normalized', 'title', 'status', 'duration', 'view_count', 'published_at'])
        .where('url_normalized', 'like', `${base}/v/%`)
        .execute();
      assert.equal(rows.length, n);
      const byId = new Map(rows.map((r) => [String(r.id), r]));
      ids.forEach((id, i) => {
        const row = byId.get(id);
        assert.ok(row, `row ${i}`);
        assert.equal(row.url_normalized, `${base}/v/${i}`);
        assert.equal(row.title, `video ${i}`);
        assert.equal(row.status, i % 3 === 0 ? 'completed' : 'pending');
        assert.equal(Number(row.view_count), i * 1000);
      });
      // Spot-check the typed read path.
      for (const i of [0, 1, 4999, 9999]) {
        const v = await f.store.getVideoById(ids[i]!);
        assert.equal(v?.urlNormalized, `${base}/v/${i}`);
        assert.equal(v?.duration, i % 7 === 0 ? null : i / 10);
        assert.equal(v?.publishedAt?.getTime(), Date.UTC(2020, 0, 1) + i * 1000);
        assert.equal(v?.createdAt.getTime(), f.clock.now());
      }

      // batchUpdateVideoStatus over more than one IN-list chunk.
      const some = ids.slice(0, 2500);
      const movable = some.filter((_, i) => i % 3 !== 0).length; // pending ones; completed ones may not move
      assert.equal(await f.store.batchUpdateVideoStatus(some, 'downloading', { reason: 'bulk' }), movable);
      assert.equal(
        await f.store.batchUpdateVideoStatus(some, 'downloading'),
        0,
        'already there: not counted',
      );
      assert.equal(
        await f.store.batchUpdateVideoStatus([...some, ...some], 'processing'),
        movable,
        'duplicates once',
      );
      assert.equal(await f.store.batchUpdateVideoStatus(some, 'failed', { force: true }), 2500);
      const v0 = await f.store.getVideoById(ids[1]!);
      assert.equal(v0?.status, 'failed');
    });

    it('batchInsertVideos: a bad video deep in a large batch (rows already sent) leaves nothing written', async () => {
      // Videos are validated as their rows are sent: by video #5,500 whole chunks are at the database.
      const base = f.host('late-bad');
      const before = await countRows(f.db, 'videos');
      const input: NewVideo[] = Array.from({ length: 6_000 }, (_, i) => ({
        url: `${base}/v${i}`,
        title: `t${i}`,
      }));
      input[5_500] = { url: 'not a url' };
      await rejectsWith(f.store.batchInsertVideos(input), 'ERR_STORE_INVALID_URL', /video #5500/);
      input[5_500] = { url: `${base}/v1#again` };
      await rejectsWith(f.store.batchInsertVideos(input), 'ERR_STORE_INVALID_INPUT', /video #5500.*video #1/);
      assert.equal(await countRows(f.db, 'videos'), before, 'nothing half-written');
      input[5_500] = { url: `${base}/v5500` };
      const ids = await f.store.batchInsertVideos(input);
      assert.equal(new Set(ids).size, 6_000);
      assert.equal(await countRows(f.db, 'videos'), before + 6_000);
    });

    it('batchInsertVideos: duplicates and bad items', async () => {
      const base = f.host('dups');
      const existing = await f.store.createVideoRecord({ url: `${base}/a` });
      const before = await countRows(f.db, 'videos');
      await rejectsWith(
        f.store.batchInsertVideos([{ url: `${base}/new1` }, { url: `${base}/a#frag` }]),
        'ERR_DB_UNIQUE_VIOLATION',
      );
      await rejectsWith(
        f.store.batchInsertVideos([
          { url: `${base}/x` },
          { url: `${base}/y` },
          { url: `${base}/X#1`.replace('/X', '/x') },
        ]),
        'ERR_STORE_INVALID_INPUT',
        /video #2.*video #0/,
      );
      await rejectsWith(
        f.store.batchInsertVideos([{ url: `${base}/ok` }, { url: 'nope' }]),
        'ERR_STORE_INVALID_URL',
        /video #1/,
      );
      await rejectsWith(
        f.store.batchInsertVideos([{ url: `${base}/ok` }, { url: `${base}/ok2`, duration: -3 }]),
        'ERR_STORE_INVALID_INPUT',
        /video #1/,
      );
      assert.equal(await countRows(f.db, 'videos'), before, 'nothing half-written');
      const ids = await f.store.batchInsertVideos(
        [
          { url: `${base}/b` },
          { url: `${base}/a?utm_medium=x` },
          { url: `${base}/b#again` },
          { url: `${base}/c` },
        ],
        { onDuplicate: 'existing' },
      );
      assert.equal(ids[1], existing);
      assert.equal(ids[0], ids[2]);
      assert.notEqual(ids[0], ids[3]);
      assert.equal(await countRows(f.db, 'videos'), before + 2);
      assert.equal((await f.store.getVideoById(ids[0]!))?.urlNormalized, `${base}/b`);
      assert.deepEqual(await f.store.batchInsertVideos([]), []);
    });

    it('batchUpdateVideoStatus: transition rules, bad input', async () => {
      const base = f.host('bstatus');
      const pending = await f.store.batchInsertVideos([{ url: `${base}/1` }, { url: `${base}/2` }]);
      const completed = await f.store.createVideoRecord({ url: `${base}/3`, status: 'completed' });
      assert.equal(
        await f.store.batchUpdateVideoStatus([...pending, completed, uuidv7()], 'failed', { reason: 'r' }),
        2,
      );
      assert.equal((await f.store.getVideoById(completed))?.status, 'completed');
      assert.equal((await f.store.getVideoById(pending[0]!))?.statusReason, 'r');
      await rejectsWith(
        f.store.batchUpdateVideoStatus(pending, 'gone' as 'failed'),
        'ERR_STORE_INVALID_INPUT',
      );
      await rejectsWith(
        f.store.batchUpdateVideoStatus([pending[0]!, "1' OR '1'='1"], 'pending'),
        'ERR_STORE_INVALID_INPUT',
      );
      assert.equal((await f.store.getVideoById(pending[0]!))?.status, 'failed');
      assert.equal(await f.store.batchUpdateVideoStatus([], 'pending'), 0);
    });

    it('batchInsertClips: ids in order, all or nothing', async () => {
      const base = f.host('bclips');
      const a = await f.store.createVideoRecord({ url: `${base}/a`, duration: 30 });
      const b = await f.store.createVideoRecord({ url: `${base}/b` });
      const before = await countRows(f.db, 'clips');
      const ids = await f.store.batchInsertClips([
        { videoId: a, startTime: 0, endTime: 5, title: 'a1' },
        { videoId: b, startTime: 100, endTime: 200, title: 'b1', effects: { x: 1 } },
        { videoId: a.toUpperCase(), startTime: 10, endTime: 30, title: 'a2' },
      ]);
      assert.equal(ids.length, 3);
      const clipsA = await f.store.getClipsByVideoId(a);
      assert.deepEqual(
        clipsA.map((c) => [c.id, c.title]),
        [
          [ids[0], 'a1'],
          [ids[2], 'a2'],
        ],
      );
      assert.deepEqual((await f.store.getClipsByVideoId(b))[0]?.effects, { x: 1 });
      await rejectsWith(
        f.store.batchInsertClips([
          { videoId: a, startTime: 0, endTime: 1 },
          { videoId: uuidv7(), startTime: 0, endTime: 1 },
        ]),
        'ERR_STORE_NOT_FOUND',
      );
      await rejectsWith(
        f.store.batchInsertClips([
          { videoId: a, startTime: 0, endTime: 1 },
          { videoId: a, startTime: 0, endTime: 31 },
        ]),
        'ERR_STORE_INVALID_INPUT',
        /clip #1/,
      );
      await rejectsWith(
        f.store.batchInsertClips([{ videoId: a, startTime: 2, endTime: 1 }]),
        'ERR_STORE_INVALID_INPUT',
      );
      assert.equal(await countRows(f.db, 'clips'), before + 3);
    });

    it('claimJobs: two concurrent claimers never get the same job', async () => {
      const vid = await f.store.createVideoRecord({ url: `${f.host('claims')}/v` });
      // Drain anything earlier tests left claimable.
      while ((await f.store.claimJobs('drain', 10_000)).length > 0) {}
      const total = 120;
      const created = new Set<string>();
      for (let i = 0; i < total; i++) {
        created.add(await f.store.createProcessingJob({ videoId: vid, jobType: 'render', priority: i % 4 }));
      }
      const claimer = async (worker: string): Promise<string[]> => {
        const got: string[] = [];
        for (;;) {
          const batch = await f.store.claimJobs(worker, 7);
          if (batch.length === 0) return got;
          for (const j of batch) {
            assert.equal(j.lockedBy, worker);
            assert.equal(j.status, 'running');
          }
          got.push(...batch.map((j) => j.id));
        }
      };
      const [a, b] = await Promise.all([claimer('worker-a'), claimer('worker-b')]);
      const all = [...a, ...b];
      assert.equal(all.length, total, `a=${a.length} b=${b.length}`);
      assert.equal(new Set(all).size, total, 'no job claimed twice');
      for (const id of all) assert.ok(created.has(id));
      const rows = await f.db.kysely
        .selectFrom('processing_jobs')
        .select(['id', 'locked_by', 'attempts'])
        .where('video_id', '=', vid)
        .execute();
      const owner = new Map(rows.map((r) => [String(r.id), r.locked_by]));
      for (const id of a) assert.equal(owner.get(id), 'worker-a');
      for (const id of b) assert.equal(owner.get(id), 'worker-b');
      assert.ok(rows.every((r) => Number(r.attempts) === 1));
    });

    it('an aborted signal stops a call with a typed error', async () => {
      const id = await f.store.createVideoRecord({ url: `${f.host('abort')}/v` });
      const controller = new AbortController();
      controller.abort();
      await assert.rejects(f.store.getVideoById(id, { signal: controller.signal }), (e: unknown) =>
        isOpusError(e, 'ERR_ABORTED'),
      );
      const before = await countRows(f.db, 'videos');
      await assert.rejects(
        f.store.batchInsertVideos([{ url: `${f.host('abort')}/b` }], { signal: controller.signal }),
        (e: unknown) => isOpusError(e, 'ERR_ABORTED'),
      );
      assert.equal(await countRows(f.db, 'videos'), before);
    });
  });
}
