import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { storeMigrations } from '../../src/store/index.js';
import { testTargets } from '../support/databases.js';
import { countRows, openStore, rejectsWith, type StoreFixture } from './helpers.js';

/**
 * Keys compare exactly on every dialect: YouTube ids and URLs are case-sensitive, and MariaDB's PAD
 * SPACE collations would make 'a' and 'a ' the same key. And createVideo's `created` is true for exactly
 * one of many concurrent calls for the same URL.
 */
for (const target of testTargets(['postgres', 'mysql', 'sqlite-memory'])) {
  describe(`store keys on ${target.name}`, () => {
    let f: StoreFixture;
    before(async () => {
      f = await openStore(target);
    });
    after(async () => {
      await f?.db.close();
      await target.dispose();
    });

    it('YouTube ids and URL paths that differ only in case are different videos', async () => {
      const lower = await f.store.createVideo({ url: 'https://youtu.be/abcdefghijk' });
      const upper = await f.store.createVideo({ url: 'https://www.youtube.com/watch?v=ABCDEFGHIJK' });
      const mixed = await f.store.createVideo({ url: 'https://youtube.com/shorts/aBcDeFgHiJk' });
      assert.deepEqual([lower.created, upper.created, mixed.created], [true, true, true]);
      assert.equal(new Set([lower.id, upper.id, mixed.id]).size, 3);
      assert.equal((await f.store.findVideoByUrl('https://youtu.be/ABCDEFGHIJK'))?.id, upper.id);
      assert.equal((await f.store.findVideoByUrl('https://youtu.be/abcdefghijk'))?.id, lower.id);
      assert.equal((await f.store.getVideoById(mixed.id))?.sourceVideoId, 'aBcDeFgHiJk');
      const base = f.host('case');
      const a = await f.store.createVideo({ url: `${base}/Clip.mp4` });
      const b = await f.store.createVideo({ url: `${base}/clip.mp4` });
      assert.deepEqual([a.created, b.created], [true, true]);
      assert.notEqual(a.id, b.id);
      const again = await f.store.createVideo({
        url: `${base.toUpperCase().replace('HTTPS', 'https')}/Clip.mp4`,
      });
      assert.deepEqual(again, { id: a.id, created: false }, 'the host is case-insensitive, the path is not');
    });

    it('stage names and worker ids compare exactly: trailing spaces and case count', async () => {
      const videoId = await f.store.createVideoRecord({ url: `${f.host('stages')}/v` });
      await f.store.recordStage(videoId, 'transcript', 1);
      await f.store.recordStage(videoId, 'transcript ', 2);
      await f.store.recordStage(videoId, 'Transcript', 3);
      const stages = await f.store.getStages(videoId);
      const byName = [...stages.entries()].sort(([x], [y]) => (x < y ? -1 : 1));
      assert.deepEqual(
        byName.map(([k, v]) => [k, v.result]),
        [
          ['Transcript', 3],
          ['transcript', 1],
          ['transcript ', 2],
        ],
      );
      await f.store.claimJobs('drain', 10_000);
      const job = await f.store.createProcessingJob({ videoId, jobType: 'render' });
      assert.deepEqual(
        (await f.store.claimJobs('w1', 1)).map((j) => j.id),
        [job],
      );
      for (const other of ['w1 ', 'W1', 'w1\t']) {
        await rejectsWith(
          f.store.updateJobStatus(job, 'completed', { workerId: other }),
          'ERR_STORE_INVALID_TRANSITION',
          /held by another worker/,
        );
      }
      await f.store.updateJobStatus(job, 'completed', { workerId: 'w1' });
    });

    if (target.name === 'mysql') {
      it('MariaDB: the exact-text migration moves keys off PAD SPACE, and undoing it brings the collision back', async () => {
        const collations = async () => {
          const { rows } = await sql<{ t: string; c: string; collation: string }>`
            select table_name as t, column_name as c, collation_name as collation
            from information_schema.columns
            where table_schema = database() and column_name in ('stage', 'locked_by')`.execute(f.db.kysely);
          return Object.fromEntries(rows.map((r) => [`${r.t}.${r.c}`, r.collation]));
        };
        assert.deepEqual(await collations(), {
          'video_stages.stage': 'utf8mb4_nopad_bin',
          'processing_jobs.locked_by': 'utf8mb4_nopad_bin',
        });
        const migration = storeMigrations('mysql').store_0003_exact_text_keys!;
        const videoId = await f.store.createVideoRecord({ url: `${f.host('pad')}/v` });
        // Undoing it needs keys that stay distinct under PAD SPACE: drop the ones the test above made.
        await f.db.kysely.deleteFrom('video_stages').execute();
        await migration.down!(f.db.kysely);
        try {
          // The schema as store_0001/0002 created it: 'a ' is the key 'a'.
          await f.store.recordStage(videoId, 'a', 1);
          await f.store.recordStage(videoId, 'a ', 2);
          assert.deepEqual([...(await f.store.getStages(videoId)).keys()], ['a']);
        } finally {
          await migration.up(f.db.kysely);
        }
        assert.equal((await collations())['video_stages.stage'], 'utf8mb4_nopad_bin');
        await f.store.recordStage(videoId, 'b', 1);
        await f.store.recordStage(videoId, 'b ', 2);
        assert.deepEqual([...(await f.store.getStages(videoId)).keys()].sort(), ['a', 'b', 'b ']);
      });
    }

    it('createVideo: of 20 concurrent calls for the same video exactly one says created', async () => {
      const forms = (id: string) => [
        `https://youtu.be/${id}`,
        `https://www.youtube.com/watch?v=${id}&t=42`,
        `youtube.com/shorts/${id}`,
        `https://m.youtube.com/watch?v=${id}`,
        ` https://www.youtube.com/embed/${id}?utm_source=x `,
      ];
      const plain = `${f.host('concurrent')}/same.mp4`;
      const urls: string[][] = [
        Array.from({ length: 20 }, (_, i) => forms('Conc0000001')[i % 5]!),
        Array.from({ length: 20 }, (_, i) => forms('conc0000001')[i % 5]!),
        Array.from({ length: 20 }, () => plain),
      ];
      const before = await countRows(f.db, 'videos');
      for (const round of urls) {
        const results = await Promise.all(round.map((url) => f.store.createVideo({ url })));
        assert.equal(results.filter((r) => r.created).length, 1, JSON.stringify(results));
        assert.equal(new Set(results.map((r) => r.id)).size, 1);
        const created = results.find((r) => r.created)!;
        assert.ok(await f.store.getVideoById(created.id));
        // Afterwards every call finds it: created false, the same id.
        assert.deepEqual(await f.store.createVideo({ url: round[0]! }), { id: created.id, created: false });
      }
      assert.equal(await countRows(f.db, 'videos'), before + urls.length);
    });

    it('claimJobs: a reclaim cutoff reaching before year 1000 works like year 1000', async () => {
      const videoId = await f.store.createVideoRecord({ url: `${f.host('reclaim')}/v` });
      await f.store.claimJobs('drain', 10_000);
      const job = await f.store.createProcessingJob({ videoId, jobType: 'reclaim' });
      assert.deepEqual(
        (await f.store.claimJobs('w1', 1, { reclaimAfterMs: 1e15 })).map((j) => j.id),
        [job],
      );
      // Claimed a moment ago: far younger than the cutoff, so not taken over.
      assert.deepEqual(await f.store.claimJobs('w2', 1, { reclaimAfterMs: 1e15 }), []);
    });

    it('createVideo inside transactions: the one that commits created it; a rolled-back creation leaves none', async () => {
      const url = `${f.host('tx')}/v.mp4`;
      await assert.rejects(
        f.store.transaction(async (s) => {
          const r = await s.createVideo({ url });
          assert.equal(r.created, true);
          throw new Error('roll back');
        }),
        /roll back/,
      );
      assert.equal(await f.store.findVideoByUrl(url), undefined);
      const r = await f.store.transaction((s) => s.createVideo({ url }));
      assert.equal(r.created, true);
      assert.deepEqual(await f.store.transaction((s) => s.createVideo({ url })), {
        id: r.id,
        created: false,
      });
    });
  });
}
