import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Database, DatabaseConfig } from '../../src/db/index.js';
import { testTargets } from '../support/databases.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `callers` loops running `sql` until `ms` have passed; resolves with the largest limit seen. */
async function load(db: Database<unknown>, sql: string, params: unknown[], callers: number, ms: number) {
  const until = Date.now() + ms;
  let largest = 0;
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (Date.now() < until) {
        await db.executeQuery(sql, params);
        largest = Math.max(largest, db.metrics().pool.limit);
      }
    }),
  );
  return largest;
}

for (const target of testTargets(['postgres', 'mysql'])) {
  const pg = target.name === 'postgres';
  const sleepSql = pg ? 'SELECT pg_sleep(?) AS s' : 'SELECT SLEEP(?) AS s';
  // A statement that keeps one of the database's cores busy for a few milliseconds.
  const cpuSql = pg
    ? 'SELECT count(*) AS n FROM generate_series(1, ?::int)'
    : 'SELECT count(*) AS n FROM seq_1_to_50000 WHERE seq <= ?';
  const cpuRows = 50_000;

  describe(`adaptive pool size on ${target.name}`, () => {
    const open = (options: Omit<DatabaseConfig, 'url' | 'schema'>) => target.open<unknown>(options);
    after(() => target.dispose());

    it('grows under a burst (statements that do not slow down with concurrency) and shrinks back', async () => {
      const db = await open({ max: 24, pipeline: false, adaptivePool: { memoryMs: 800 } });
      try {
        assert.equal(db.metrics().pool.limit, 1);
        // 10 ms sleeps: each size serves in proportion to its connections, and even at 24 the client
        // has little to do, so a loaded machine does not hide the gain.
        const largest = await load(db, sleepSql, [0.01], 48, 2000);
        assert.ok(largest >= 16, `grew to ${largest} of 24`);
        const during = db.metrics().pool;
        assert.ok(during.total > 8, `${during.total} connections open after the burst`);
        // Idle for longer than the memory: the limit comes down and the connections close.
        await sleep(1800);
        const quiet = db.metrics().pool;
        assert.equal(quiet.limit, 1);
        assert.ok(quiet.total <= 1, `${quiet.total} connections left open`);
        assert.ok(quiet.destroyed >= during.total - 1);
      } finally {
        await db.close();
      }
    });

    it('comes down to what a saturated database serves when more connections stop adding throughput', async () => {
      // Starting where the test above grows to.
      const db = await open({ max: 24, pipeline: false, adaptivePool: { memoryMs: 60_000, initial: 24 } });
      try {
        const fast = db.metrics().pool.limit;
        assert.equal(fast, 24);
        // Each statement costs the database's CPU (this machine has two cores): past a few connections,
        // one more only makes every statement slower. The limit comes down (its downward probes keep
        // the throughput), parking what it no longer lends.
        let limit = fast;
        for (let i = 0; i < 15 && limit > 12; i++) {
          await load(db, cpuSql, [cpuRows], 32, 1000);
          limit = db.metrics().pool.limit;
        }
        const settled = db.metrics().pool;
        assert.ok(settled.limit <= 12, `limit ${fast} → ${settled.limit}`);
        assert.ok(settled.inUse <= settled.limit, `${settled.inUse} in use for a limit of ${settled.limit}`);
      } finally {
        await db.close();
      }
    });

    if (pg) {
      it('keeps room for the pipelined connections and a transaction with pipelining on', async () => {
        const db = await open({ max: 10, pipeline: { connections: 3 }, adaptivePool: true });
        try {
          assert.equal(db.metrics().pool.limit, 4);
          const reads = Array.from({ length: 200 }, (_, i) => db.executeQuery('SELECT ?::int AS i', [i]));
          const tx = db.transaction(async (t) => t.executeQuery('SELECT 1 AS one'));
          const rows = await Promise.all(reads);
          assert.equal(rows.length, 200);
          assert.deepEqual(await tx, [{ one: 1 }]);
          assert.ok(db.metrics().pool.limit >= 4);
        } finally {
          await db.close();
        }
      });
    }
  });
}
