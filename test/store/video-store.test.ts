import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setupStore, storeMigrations, type VideoStatus } from '../../src/store/index.js';
import { uuidv7 } from '../../src/store/uuid-v7.js';
import { testTargets } from '../support/databases.js';
import { countRows, openStore, rejectsWith, type StoreFixture } from './helpers.js';

const YT = 'dQw4w9WgXcQ';

/** Strings that break naive SQL building; all NUL-free (NUL is refused by design). */
const NASTY = [
  "'); DROP TABLE videos;--",
  `"double" 'single' \`back\` ''`,
  'back\\slash \\\' \\" \\n \\0 end\\',
  '100% _match_ LIKE %_% [a-z]',
  'unicode: 日本語 한국어 العربية émoji 🎬🍿 ZWJ 👩‍👩‍👧 combining é',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${...} is the point of this case.
  '$1 ? :name @p0 {{x}} ${y}',
  'line\nbreak\ttab\r\nCRLF',
];

for (const target of testTargets()) {
  describe(`VideoStore on ${target.name}`, () => {
    let f: StoreFixture;
    before(async () => {
      f = await openStore(target);
    });
    after(async () => {
      await f?.db.close();
      await target.dispose();
    });

    it('migrations are idempotent (setupStore and each up() run again change nothing)', async () => {
      await setupStore(f.db);
      for (const migration of Object.values(storeMigrations(f.db.dialect))) {
        await migration.up(f.db.kysely);
      }
      assert.equal(await countRows(f.db, 'videos'), await countRows(f.db, 'videos'));
    });

    it('createVideoRecord stores every field and reads it back as written', async () => {
      const published = new Date(Date.UTC(2024, 1, 29, 23, 59, 58, 7));
      const url = `${f.host('fields')}/v.mp4`;
      const id = await f.store.createVideoRecord({
        url,
        title: 'A title',
        description: 'desc',
        channelId: 'UC123',
        channelTitle: 'Chan',
        publishedAt: published,
        duration: 212.5,
        viewCount: 9_007_199_254_740_991,
        likeCount: 0,
        thumbnailPath: '/tmp/t.jpg',
      });
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      const v = await f.store.getVideoById(id);
      assert.ok(v);
      assert.equal(v.id, id);
      assert.equal(v.url, url);
      assert.equal(v.urlNormalized, url);
      assert.equal(v.source, 'url');
      assert.equal(v.sourceVideoId, null);
      assert.equal(v.title, 'A title');
      assert.equal(v.description, 'desc');
      assert.equal(v.channelId, 'UC123');
      assert.equal(v.channelTitle, 'Chan');
      assert.equal(v.publishedAt?.getTime(), published.getTime());
      assert.equal(v.duration, 212.5);
      assert.equal(v.viewCount, 9_007_199_254_740_991);
      assert.equal(v.likeCount, 0);
      assert.equal(v.thumbnailPath, '/tmp/t.jpg');
      assert.equal(v.status, 'pending');
      assert.equal(v.statusReason, null);
      assert.ok(v.createdAt instanceof Date);
      assert.equal(v.createdAt.getTime(), f.clock.now());
      assert.equal(v.updatedAt.getTime(), f.clock.now());
    });

    it('createVideoRecord with differently written URLs of one video returns one id', async () => {
      const first = await f.store.createVideo({ url: `https://youtu.be/${YT}?t=42` });
      assert.equal(first.created, true);
      const forms = [
        `https://www.youtube.com/watch?v=${YT}`,
        `https://m.youtube.com/watch?v=${YT}&feature=share`,
        `https://www.youtube.com/shorts/${YT}`,
        `youtube.com/embed/${YT}?start=3`,
      ];
      for (const url of forms) {
        const again = await f.store.createVideo({ url, title: 'ignored' });
        assert.deepEqual(again, { id: first.id, created: false });
        assert.equal(await f.store.createVideoRecord({ url }), first.id);
      }
      const v = await f.store.getVideoById(first.id);
      assert.equal(v?.urlNormalized, `https://www.youtube.com/watch?v=${YT}`);
      assert.equal(v?.url, `https://youtu.be/${YT}?t=42`);
      assert.equal(v?.source, 'youtube');
      assert.equal(v?.sourceVideoId, YT);
      assert.equal(v?.title, null, 'the second create wrote nothing');
      assert.equal(
        await countRows(f.db, 'videos', {
          column: 'url_normalized',
          value: `https://www.youtube.com/watch?v=${YT}`,
        }),
        1,
      );
    });

    it('concurrent creates of one URL all get the same id', async () => {
      const url = `${f.host('race')}/same.mp4`;
      const ids = await Promise.all(
        Array.from({ length: 8 }, (_, i) => f.store.createVideoRecord({ url: `${url}#${i}` })),
      );
      assert.equal(new Set(ids).size, 1);
      assert.equal(await countRows(f.db, 'videos', { column: 'url_normalized', value: url }), 1);
    });

    it('getVideoById returns undefined for unknown and malformed ids', async () => {
      assert.equal(await f.store.getVideoById(uuidv7()), undefined);
      assert.equal(await f.store.getVideoById('not-a-uuid'), undefined);
      assert.equal(await f.store.getVideoById("' OR 1=1 --"), undefined);
    });

    it('getVideoById accepts an upper-case id', async () => {
      const id = await f.store.createVideoRecord({ url: `${f.host('upper')}/v` });
      assert.equal((await f.store.getVideoById(id.toUpperCase()))?.id, id);
    });

    it('bad video input gives a typed error and writes nothing', async () => {
      const before = await countRows(f.db, 'videos');
      await rejectsWith(f.store.createVideoRecord({ url: '' }), 'ERR_STORE_INVALID_URL');
      await rejectsWith(f.store.createVideoRecord({ url: 'ftp://x.example/v' }), 'ERR_STORE_INVALID_URL');
      const base = f.host('bad');
      await rejectsWith(
        f.store.createVideoRecord({ url: `${base}/1`, duration: -1 }),
        'ERR_STORE_INVALID_INPUT',
        /duration/,
      );
      await rejectsWith(
        f.store.createVideoRecord({ url: `${base}/2`, duration: Number.NaN }),
        'ERR_STORE_INVALID_INPUT',
      );
      await rejectsWith(
        f.store.createVideoRecord({ url: `${base}/3`, duration: Number.POSITIVE_INFINITY }),
        'ERR_STORE_INVALID_INPUT',
      );
      await rejectsWith(
        f.store.createVideoRecord({ url: `${base}/4`, viewCount: 1.5 }),
        'ERR_STORE_INVALID_INPUT',
      );
      await rejectsWith(
        f.store.createVideoRecord({ url: `${base}/5`, status: 'archived' as VideoStatus }),
        'ERR_STORE_INVALID_INPUT',
        /status/,
      );
      await rejectsWith(
        f.store.createVideoRecord({ url: `${base}/6`, title: 'a\0b' }),
        'ERR_STORE_INVALID_INPUT',
        /NUL/,
      );
      await rejectsWith(
        f.store.createVideoRecord({ url: `${base}/7`, publishedAt: new Date(Number.NaN) }),
        'ERR_STORE_INVALID_INPUT',
      );
      await rejectsWith(
        f.store.createVideoRecord({ url: `${base}/8`, bogus: 1 } as unknown as { url: string }),
        'ERR_STORE_INVALID_INPUT',
      );
      assert.equal(await countRows(f.db, 'videos'), before);
    });

    it('status transitions: pending → downloading → processing → completed, and retry, are allowed', async () => {
      const id = await f.store.createVideoRecord({ url: `${f.host('chain')}/v` });
      for (const s of ['downloading', 'processing', 'completed'] as const) {
        await f.clock.advance(1000);
        await f.store.updateVideoStatus(id, s);
        const v = await f.store.getVideoById(id);
        assert.equal(v?.status, s);
        assert.equal(v?.updatedAt.getTime(), f.clock.now());
      }
      const retry = await f.store.createVideoRecord({ url: `${f.host('retry')}/v` });
      await f.store.updateVideoStatus(retry, 'processing'); // pending → processing: no download needed
      await f.store.updateVideoStatus(retry, 'failed', { reason: 'ffmpeg exited 1' });
      assert.equal((await f.store.getVideoById(retry))?.statusReason, 'ffmpeg exited 1');
      await f.store.updateVideoStatus(retry, 'pending');
      const v = await f.store.getVideoById(retry);
      assert.equal(v?.status, 'pending');
      assert.equal(v?.statusReason, null);
    });

    it('an invalid transition is ERR_STORE_INVALID_TRANSITION and writes nothing', async () => {
      const id = await f.store.createVideoRecord({ url: `${f.host('invalid')}/v` });
      const beforeRow = await f.store.getVideoById(id);
      await f.clock.advance(5000);
      const err = await rejectsWith(
        f.store.updateVideoStatus(id, 'completed'),
        'ERR_STORE_INVALID_TRANSITION',
        /pending to completed/,
      );
      assert.deepEqual(err.details, { id, from: 'pending', to: 'completed' });
      await rejectsWith(f.store.updateVideoStatus(id, 'pending'), 'ERR_STORE_INVALID_TRANSITION');
      await f.store.updateVideoStatus(id, 'downloading');
      await f.store.updateVideoStatus(id, 'processing');
      await f.store.updateVideoStatus(id, 'completed');
      await rejectsWith(
        f.store.updateVideoStatus(id, 'failed', { reason: 'late' }),
        'ERR_STORE_INVALID_TRANSITION',
      );
      await rejectsWith(f.store.updateVideoStatus(id, 'pending'), 'ERR_STORE_INVALID_TRANSITION');
      const after = await f.store.getVideoById(id);
      assert.equal(after?.status, 'completed');
      assert.equal(after?.statusReason, null);
      assert.ok(beforeRow);
      await rejectsWith(f.store.updateVideoStatus(uuidv7(), 'downloading'), 'ERR_STORE_NOT_FOUND');
      await rejectsWith(f.store.updateVideoStatus(id, 'done' as VideoStatus), 'ERR_STORE_INVALID_INPUT');
      await rejectsWith(f.store.updateVideoStatus('nope', 'failed'), 'ERR_STORE_INVALID_INPUT');
    });

    it('getVideosByStatus pages newest first without gaps or repeats', async () => {
      const base = f.host('page');
      const ids: string[] = [];
      for (let i = 0; i < 7; i++)
        ids.push(await f.store.createVideoRecord({ url: `${base}/${i}`, status: 'failed' }));
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page: { items: Array<{ id: string; status: string }>; nextCursor: string | null } =
          await f.store.getVideosByStatus('failed', { limit: 3, cursor });
        assert.ok(page.items.length <= 3);
        for (const v of page.items) assert.equal(v.status, 'failed');
        seen.push(...page.items.map((v) => v.id));
        cursor = page.nextCursor;
        pages++;
      } while (cursor !== null && pages < 100);
      assert.equal(new Set(seen).size, seen.length, 'no repeats');
      const mine = seen.filter((id) => ids.includes(id));
      assert.deepEqual(mine, [...ids].reverse(), 'all of them, newest first');
      await rejectsWith(f.store.getVideosByStatus('nope' as VideoStatus), 'ERR_STORE_INVALID_INPUT');
      await rejectsWith(f.store.getVideosByStatus('failed', { limit: 0 }), 'ERR_STORE_INVALID_INPUT');
      await rejectsWith(f.store.getVideosByStatus('failed', { cursor: "'; --" }), 'ERR_STORE_INVALID_INPUT');
    });

    it('getPopularVideos orders by view_count and leaves out unknown counts', async () => {
      const base = f.host('popular');
      const big = await f.store.createVideoRecord({ url: `${base}/a`, viewCount: 8_000_000_000_000 });
      const mid = await f.store.createVideoRecord({ url: `${base}/b`, viewCount: 7_000_000_000_000 });
      await f.store.createVideoRecord({ url: `${base}/c` });
      const top = await f.store.getPopularVideos(2);
      assert.equal(top.length, 2);
      assert.ok(top[0]!.viewCount! >= top[1]!.viewCount!);
      const all = await f.store.getPopularVideos(10_000);
      assert.ok(all.every((v) => v.viewCount !== null));
      for (let i = 1; i < all.length; i++) assert.ok(all[i - 1]!.viewCount! >= all[i]!.viewCount!);
      assert.deepEqual(
        all.filter((v) => v.id === big || v.id === mid).map((v) => v.id),
        [big, mid],
      );
      assert.equal(all.find((v) => v.id === big)?.viewCount, 8_000_000_000_000);
    });

    it('updateVideo changes metadata and clears with null', async () => {
      const id = await f.store.createVideoRecord({ url: `${f.host('patch')}/v`, title: 'old', duration: 10 });
      await f.clock.advance(10);
      await f.store.updateVideo(id, { title: 'new', duration: null, viewCount: 3, publishedAt: new Date(0) });
      const v = await f.store.getVideoById(id);
      assert.equal(v?.title, 'new');
      assert.equal(v?.duration, null);
      assert.equal(v?.viewCount, 3);
      assert.equal(v?.publishedAt?.getTime(), 0);
      assert.equal(v?.updatedAt.getTime(), f.clock.now());
      await rejectsWith(f.store.updateVideo(uuidv7(), { title: 'x' }), 'ERR_STORE_NOT_FOUND');
      await rejectsWith(f.store.updateVideo(id, { duration: -5 }), 'ERR_STORE_INVALID_INPUT');
    });

    it('clips: create, read in start order, JSON effects round-trip', async () => {
      const vid = await f.store.createVideoRecord({ url: `${f.host('clips')}/v`, duration: 60 });
      const effects = {
        zoom: 1.5,
        captions: { font: 'Inter', colors: ['#fff', '#000'] },
        note: 'it\'s "fine" \\ 🎬',
      };
      const second = await f.store.createClipRecord(vid, { startTime: 30, endTime: 60, score: 0.25 });
      const first = await f.store.createClipRecord(vid, {
        startTime: 0,
        endTime: 12.5,
        title: 'Hook',
        caption: 'cap',
        score: 0.9,
        effects,
        filePath: '/clips/a.mp4',
        thumbnailPath: '/clips/a.jpg',
        narrationPath: '/clips/a.mp3',
      });
      const clips = await f.store.getClipsByVideoId(vid);
      assert.deepEqual(
        clips.map((c) => c.id),
        [first, second],
      );
      const c = clips[0]!;
      assert.equal(c.videoId, vid);
      assert.equal(c.startTime, 0);
      assert.equal(c.endTime, 12.5);
      assert.equal(c.duration, 12.5);
      assert.equal(c.title, 'Hook');
      assert.equal(c.caption, 'cap');
      assert.equal(c.score, 0.9);
      assert.deepEqual(c.effects, effects);
      assert.equal(c.filePath, '/clips/a.mp4');
      assert.equal(c.thumbnailPath, '/clips/a.jpg');
      assert.equal(c.narrationPath, '/clips/a.mp3');
      assert.equal(c.createdAt.getTime(), f.clock.now());
      assert.equal(clips[1]?.effects, null);
      assert.deepEqual(await f.store.getClipsByVideoId(uuidv7()), []);
      assert.deepEqual(await f.store.getClipsByVideoId('x'), []);
    });

    it('bad clips give typed errors and write nothing', async () => {
      const vid = await f.store.createVideoRecord({ url: `${f.host('badclip')}/v`, duration: 30 });
      const unknownDuration = await f.store.createVideoRecord({ url: `${f.host('badclip')}/u` });
      const before = await countRows(f.db, 'clips');
      await rejectsWith(
        f.store.createClipRecord(vid, { startTime: 5, endTime: 4 }),
        'ERR_STORE_INVALID_INPUT',
        /endTime must be greater/,
      );
      await rejectsWith(
        f.store.createClipRecord(vid, { startTime: 5, endTime: 5 }),
        'ERR_STORE_INVALID_INPUT',
      );
      await rejectsWith(
        f.store.createClipRecord(vid, { startTime: -1, endTime: 5 }),
        'ERR_STORE_INVALID_INPUT',
      );
      await rejectsWith(
        f.store.createClipRecord(vid, { startTime: Number.NaN, endTime: 5 }),
        'ERR_STORE_INVALID_INPUT',
      );
      await rejectsWith(
        f.store.createClipRecord(vid, { startTime: 0, endTime: Number.POSITIVE_INFINITY }),
        'ERR_STORE_INVALID_INPUT',
      );
      await rejectsWith(
        f.store.createClipRecord(vid, { startTime: 10, endTime: 30.5 }),
        'ERR_STORE_INVALID_INPUT',
        /past the end/,
      );
      await rejectsWith(
        f.store.createClipRecord(uuidv7(), { startTime: 0, endTime: 1 }),
        'ERR_STORE_NOT_FOUND',
      );
      await rejectsWith(
        f.store.createClipRecord(vid, { startTime: 0, endTime: 1, effects: { s: 'a\0b' } }),
        'ERR_STORE_INVALID_INPUT',
      );
      await rejectsWith(
        f.store.createClipRecord(vid, { startTime: 0, endTime: 1, effects: 10n }),
        'ERR_STORE_INVALID_INPUT',
      );
      assert.equal(await countRows(f.db, 'clips'), before);
      // Unknown duration: any end is accepted; exactly the duration is accepted too.
      await f.store.createClipRecord(unknownDuration, { startTime: 0, endTime: 10_000 });
      await f.store.createClipRecord(vid, { startTime: 0, endTime: 30 });
      assert.equal(await countRows(f.db, 'clips'), before + 2);
    });

    it('replaceClips replaces, never duplicates, and a bad set leaves the old one', async () => {
      const vid = await f.store.createVideoRecord({ url: `${f.host('replace')}/v`, duration: 100 });
      const firstIds = await f.store.replaceClips(vid, [
        { startTime: 0, endTime: 10 },
        { startTime: 10, endTime: 20 },
        { startTime: 20, endTime: 30 },
      ]);
      const rerun = [
        { startTime: 5, endTime: 15, title: 'a' },
        { startTime: 50, endTime: 70, title: 'b' },
      ];
      const ids = await f.store.replaceClips(vid, rerun);
      const again = await f.store.replaceClips(vid, rerun);
      const clips = await f.store.getClipsByVideoId(vid);
      assert.equal(clips.length, 2);
      assert.deepEqual(
        clips.map((c) => c.id),
        again,
      );
      assert.deepEqual(
        clips.map((c) => c.title),
        ['a', 'b'],
      );
      assert.notDeepEqual(ids, firstIds);
      await rejectsWith(
        f.store.replaceClips(vid, [
          { startTime: 0, endTime: 1 },
          { startTime: 90, endTime: 101 },
        ]),
        'ERR_STORE_INVALID_INPUT',
        /clip #1/,
      );
      await rejectsWith(
        f.store.replaceClips(vid, [{ startTime: 3, endTime: 2 }]),
        'ERR_STORE_INVALID_INPUT',
        /clip #0/,
      );
      await rejectsWith(
        f.store.replaceClips(uuidv7(), [{ startTime: 0, endTime: 1 }]),
        'ERR_STORE_NOT_FOUND',
      );
      assert.deepEqual(
        (await f.store.getClipsByVideoId(vid)).map((c) => c.id),
        again,
      );
      assert.deepEqual(await f.store.replaceClips(vid, []), []);
      assert.equal((await f.store.getClipsByVideoId(vid)).length, 0);
    });

    it('updateClipAssets sets paths', async () => {
      const vid = await f.store.createVideoRecord({ url: `${f.host('assets')}/v` });
      const clip = await f.store.createClipRecord(vid, { startTime: 0, endTime: 1 });
      await f.store.updateClipAssets(clip, { filePath: '/r/c.mp4', narrationPath: '/r/c.mp3' });
      const [c] = await f.store.getClipsByVideoId(vid);
      assert.equal(c?.filePath, '/r/c.mp4');
      assert.equal(c?.narrationPath, '/r/c.mp3');
      assert.equal(c?.thumbnailPath, null);
      await rejectsWith(f.store.updateClipAssets(uuidv7(), { filePath: 'x' }), 'ERR_STORE_NOT_FOUND');
      await rejectsWith(f.store.updateClipAssets(clip, {}), 'ERR_STORE_INVALID_INPUT');
    });

    it('jobs: create, pending order, claim, finish; wrong worker and bad transitions refused', async () => {
      const vid = await f.store.createVideoRecord({ url: `${f.host('jobs')}/v` });
      // Leave any job of earlier tests out of the way.
      for (let claimed = await f.store.claimJobs('sweeper', 10_000); claimed.length > 0; ) {
        claimed = await f.store.claimJobs('sweeper', 10_000);
      }
      const low = await f.store.createProcessingJob({ videoId: vid, jobType: 'download' });
      const high = await f.store.createProcessingJob({ videoId: vid, jobType: 'render', priority: 5 });
      const later = await f.store.createProcessingJob({
        videoId: vid,
        jobType: 'publish',
        priority: 9,
        runAfter: new Date(f.clock.now() + 60_000),
      });
      const pending = await f.store.getPendingJobs(10);
      assert.deepEqual(
        pending.map((j) => j.id),
        [high, low],
      );
      assert.equal(pending[0]?.status, 'pending');
      assert.equal(pending[0]?.attempts, 0);
      assert.equal(pending[0]?.jobType, 'render');
      const [claimed] = await f.store.claimJobs('worker-a', 1);
      assert.equal(claimed?.id, high);
      assert.equal(claimed?.status, 'running');
      assert.equal(claimed?.lockedBy, 'worker-a');
      assert.equal(claimed?.attempts, 1);
      assert.equal(claimed?.lockedAt?.getTime(), f.clock.now());
      await rejectsWith(
        f.store.updateJobStatus(high, 'completed', { workerId: 'worker-b' }),
        'ERR_STORE_INVALID_TRANSITION',
        /another worker/,
      );
      await f.store.updateJobStatus(high, 'completed', {
        workerId: 'worker-a',
        result: { clips: 3, ok: true },
      });
      await rejectsWith(f.store.updateJobStatus(high, 'running'), 'ERR_STORE_INVALID_TRANSITION');
      await rejectsWith(f.store.updateJobStatus(uuidv7(), 'failed'), 'ERR_STORE_NOT_FOUND');
      await rejectsWith(f.store.updateJobStatus(high, 'done' as 'failed'), 'ERR_STORE_INVALID_INPUT');
      // The delayed job becomes claimable once its time comes.
      const next = await f.store.claimJobs('worker-a', 10);
      assert.deepEqual(
        next.map((j) => j.id),
        [low],
      );
      await f.store.updateJobStatus(low, 'failed', { error: 'timeout', workerId: 'worker-a' });
      await f.store.updateJobStatus(low, 'pending', { runAfter: new Date(f.clock.now() + 1000) });
      assert.deepEqual(await f.store.claimJobs('worker-a', 10), []);
      await f.clock.advance(61_000);
      const due = await f.store.claimJobs('worker-c', 10);
      assert.deepEqual(
        due.map((j) => j.id),
        [later, low],
      );
      assert.equal(due[1]?.attempts, 2);
      assert.equal(due[1]?.error, 'timeout');
      // Reclaiming: a worker that stopped leaves jobs 'running'; after the cutoff another takes them over.
      assert.deepEqual(await f.store.claimJobs('worker-d', 10, { reclaimAfterMs: 60_000 }), []);
      await f.clock.advance(5 * 60_000);
      assert.deepEqual(await f.store.claimJobs('worker-d', 10), [], 'not without reclaimAfterMs');
      const reclaimed = await f.store.claimJobs('worker-d', 10_000, { reclaimAfterMs: 60_000 });
      const byId = new Map(reclaimed.map((j) => [j.id, j]));
      assert.equal(byId.get(low)?.attempts, 3);
      assert.equal(byId.get(later)?.lockedBy, 'worker-d');
      assert.ok(reclaimed.every((j) => j.status === 'running' && j.lockedAt?.getTime() === f.clock.now()));
      await rejectsWith(
        f.store.updateJobStatus(low, 'completed', { workerId: 'worker-c' }),
        'ERR_STORE_INVALID_TRANSITION',
        /another worker/,
      );
      await f.store.updateJobStatus(low, 'completed', { workerId: 'worker-d' });
      await rejectsWith(f.store.claimJobs('worker-d', 1, { reclaimAfterMs: -1 }), 'ERR_STORE_INVALID_INPUT');
      const stats = await f.store.stats();
      assert.ok(stats.jobs.byStatus.completed >= 2);
      await rejectsWith(
        f.store.createProcessingJob({ videoId: uuidv7(), jobType: 'x' }),
        'ERR_STORE_NOT_FOUND',
      );
      await rejectsWith(
        f.store.createProcessingJob({ videoId: vid, jobType: '' }),
        'ERR_STORE_INVALID_INPUT',
      );
      await rejectsWith(
        f.store.createProcessingJob({ videoId: vid, jobType: 'x', priority: 1.5 }),
        'ERR_STORE_INVALID_INPUT',
      );
      await rejectsWith(f.store.claimJobs('', 1), 'ERR_STORE_INVALID_INPUT');
      const job = await f.db.kysely
        .selectFrom('processing_jobs')
        .select(['result', 'locked_by'])
        .where('id', '=', high)
        .executeTakeFirstOrThrow();
      assert.equal(job.locked_by, null);
      assert.ok(job.result !== null);
    });

    it('stats counts videos by status, clips and jobs', async () => {
      const before = await f.store.stats();
      const vid = await f.store.createVideoRecord({ url: `${f.host('stats')}/v`, status: 'processing' });
      await f.store.createVideoRecord({ url: `${f.host('stats')}/w` });
      await f.store.createClipRecord(vid, { startTime: 0, endTime: 1 });
      await f.store.createProcessingJob({ videoId: vid, jobType: 'x' });
      const after = await f.store.stats();
      assert.equal(after.videos.total, before.videos.total + 2);
      assert.equal(after.videos.byStatus.processing, before.videos.byStatus.processing + 1);
      assert.equal(after.videos.byStatus.pending, before.videos.byStatus.pending + 1);
      assert.equal(after.clips.total, before.clips.total + 1);
      assert.equal(after.jobs.total, before.jobs.total + 1);
      assert.equal(after.jobs.byStatus.pending, before.jobs.byStatus.pending + 1);
      assert.equal(after.videos.total, await countRows(f.db, 'videos'));
    });

    it('SQL-injection and odd strings in every text field are stored and read back verbatim', async () => {
      for (const [i, s] of NASTY.entries()) {
        const url = `${f.host('nasty')}/p${i}?q=${encodeURIComponent(s)}`;
        const id = await f.store.createVideoRecord({
          url,
          title: s,
          description: s,
          channelId: s.slice(0, 128),
          channelTitle: s,
          thumbnailPath: s,
        });
        await f.store.updateVideoStatus(id, 'failed', { reason: s });
        const v = await f.store.getVideoById(id);
        assert.equal(v?.url, url);
        assert.equal(v?.title, s);
        assert.equal(v?.description, s);
        assert.equal(v?.channelId, s.slice(0, 128));
        assert.equal(v?.channelTitle, s);
        assert.equal(v?.thumbnailPath, s);
        assert.equal(v?.statusReason, s);
        const clip = await f.store.createClipRecord(id, {
          startTime: 0,
          endTime: 1,
          title: s,
          caption: s,
          filePath: s,
          thumbnailPath: s,
          narrationPath: s,
          effects: { s, [s]: [s] },
        });
        await f.store.updateClipAssets(clip, { filePath: `${s}!` });
        const [c] = await f.store.getClipsByVideoId(id);
        assert.equal(c?.title, s);
        assert.equal(c?.caption, s);
        assert.equal(c?.filePath, `${s}!`);
        assert.equal(c?.thumbnailPath, s);
        assert.equal(c?.narrationPath, s);
        assert.deepEqual(c?.effects, { s, [s]: [s] });
        const job = await f.store.createProcessingJob({
          videoId: id,
          jobType: s.slice(0, 64),
          priority: -1_000_000 - i,
        });
        await f.store.updateJobStatus(job, 'running', { workerId: s });
        await f.store.updateJobStatus(job, 'failed', { workerId: s, error: s, result: [s] });
        const row = await f.db.kysely
          .selectFrom('processing_jobs')
          .select(['job_type', 'error'])
          .where('id', '=', job)
          .executeTakeFirstOrThrow();
        assert.equal(row.job_type, s.slice(0, 64));
        assert.equal(row.error, s);
        // The batch paths bind the same strings through other code.
        const [bid] = await f.store.batchInsertVideos([{ url: `${url}&batch=1`, title: s, description: s }]);
        const bv = await f.store.getVideoById(bid!);
        assert.equal(bv?.title, s);
        assert.equal(bv?.description, s);
        const [bc] = await f.store.batchInsertClips([
          { videoId: bid!, startTime: 0, endTime: 2, caption: s, effects: [s] },
        ]);
        const [bcRow] = await f.store.getClipsByVideoId(bid!);
        assert.equal(bcRow?.id, bc);
        assert.equal(bcRow?.caption, s);
        assert.deepEqual(bcRow?.effects, [s]);
      }
      // Still there, with every row.
      assert.ok((await countRows(f.db, 'videos')) > NASTY.length);
      const page = await f.store.getVideosByStatus('failed', { limit: 10_000 });
      assert.ok(page.items.filter((v) => NASTY.includes(v.title ?? '')).length >= NASTY.length);
    });
  });
}
