import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { OpusError } from '../../src/core/index.js';
import type { VideoStore } from '../../src/store/index.js';
import { testTargets } from '../support/databases.js';
import { openStore, type StoreFixture } from './helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Store methods that open their own transaction (replaceClips, the batch methods) run as savepoints
 * inside store.transaction. Many store transactions at once replace the clips of the same two videos in
 * opposite orders, so they deadlock; each one must commit whole (through retries) or reject with the
 * deadlock, also when the caller catches the store method's failure and goes on.
 */
for (const target of testTargets(['postgres', 'mysql'])) {
  const pg = target.name === 'postgres';

  describe(`store methods inside concurrent store.transaction calls on ${target.name}`, () => {
    let f: StoreFixture;
    let a: string;
    let b: string;
    let c: string;

    before(async () => {
      // A static pool, so the concurrent transactions below really overlap and deadlock: the adaptive
      // pool (the default) lends fewer connections until it has measured that more serve more.
      f = await openStore(target, { adaptivePool: false });
      await f.db.executeQuery('CREATE TABLE tx_marks (marker VARCHAR(64) PRIMARY KEY)', [], {
        queryType: 'ddl',
      });
      a = await f.store.createVideoRecord({ url: `${f.host('a')}/v`, duration: 100 });
      b = await f.store.createVideoRecord({ url: `${f.host('b')}/v`, duration: 100 });
      c = await f.store.createVideoRecord({ url: `${f.host('c')}/v`, duration: 100 });
    });

    after(async () => {
      await f?.db.close();
      await target.dispose();
    });

    async function run(mode: 'propagate' | 'swallow', round: string) {
      const resolved = new Set<string>();
      const rejected: string[] = [];
      let swallowed = 0;
      const guard = async (work: Promise<unknown>): Promise<void> => {
        if (mode === 'propagate') {
          await work;
          return;
        }
        try {
          await work;
        } catch {
          swallowed++;
        }
      };
      await Promise.all(
        Array.from({ length: 12 }, async (_, i) => {
          const marker = `${round}-${i}`;
          const [first, second] = i % 2 === 0 ? [a, b] : [b, a];
          const clip = { startTime: 1, endTime: 5, caption: marker };
          try {
            await f.store.transaction(
              async (s: VideoStore) => {
                if (pg) {
                  await s.queryable.executeQuery("SET LOCAL deadlock_timeout = '50ms'", [], {
                    queryType: 'ddl',
                  });
                }
                await s.queryable.executeQuery('INSERT INTO tx_marks (marker) VALUES (?)', [marker]);
                await guard(s.replaceClips(first, [clip]));
                await sleep(10);
                await guard(s.replaceClips(second, [clip]));
                await guard(s.batchInsertClips([{ ...clip, videoId: c }]));
                await guard(
                  s.batchUpdateVideoStatus([first, second], i % 2 === 0 ? 'downloading' : 'processing', {
                    force: true,
                  }),
                );
              },
              { maxRetries: 3 },
            );
            resolved.add(marker);
          } catch (error) {
            rejected.push(error instanceof OpusError ? error.code : String(error));
          }
        }),
      );
      return { resolved, rejected, swallowed };
    }

    async function captions(videoId: string, round: string): Promise<string[]> {
      return (await f.store.getClipsByVideoId(videoId))
        .map((clip) => clip.caption ?? '')
        .filter((caption) => caption.startsWith(`${round}-`));
    }

    async function check(round: string, r: Awaited<ReturnType<typeof run>>, whole: boolean): Promise<void> {
      for (const code of r.rejected) assert.equal(code, 'ERR_DB_DEADLOCK');
      assert.ok(r.resolved.size > 0, 'some transaction committed');
      const marks = (
        await f.db.executeQuery<{ marker: string }>('SELECT marker FROM tx_marks WHERE marker LIKE ?', [
          `${round}-%`,
        ])
      )
        .map((m) => m.marker)
        .sort();
      assert.deepEqual(
        marks,
        [...r.resolved].sort(),
        'the first statement committed exactly for the resolved',
      );
      const onA = await captions(a, round);
      const onB = await captions(b, round);
      const onC = await captions(c, round);
      for (const caption of [...onA, ...onB, ...onC]) {
        assert.ok(r.resolved.has(caption), `a clip of ${caption}, which did not commit`);
      }
      assert.equal(onA.length, 1);
      assert.equal(onB.length, 1);
      if (whole) {
        // Every committed transaction replaced both; the last to commit held both rows until its COMMIT.
        assert.equal(onA[0], onB[0], 'both videos carry the clips of the same transaction');
        assert.equal(onC.length, r.resolved.size, 'one clip of C per committed transaction');
      }
    }

    it('store methods that fail propagate: each store.transaction commits whole or rejects with the deadlock', async () => {
      const before = f.db.metrics().errorsByCode.ERR_DB_DEADLOCK ?? 0;
      const r = await run('propagate', 'p');
      await check('p', r, true);
      assert.ok((f.db.metrics().errorsByCode.ERR_DB_DEADLOCK ?? 0) > before, 'deadlocks happened');
    });

    it('store method failures caught by the caller never leave a partial or autocommitted transaction', async () => {
      const before = f.db.metrics().errorsByCode.ERR_DB_DEADLOCK ?? 0;
      const r = await run('swallow', 's');
      // PostgreSQL undoes only the failed method's savepoint, and a caller that ignores it commits the
      // rest on purpose; MySQL loses the whole transaction, which is re-run or rejected.
      await check('s', r, !pg);
      assert.ok((f.db.metrics().errorsByCode.ERR_DB_DEADLOCK ?? 0) > before, 'deadlocks happened');
      assert.ok(r.swallowed > 0);
    });
  });
}
