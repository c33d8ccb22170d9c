import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Database, SlowQueryEntry } from '../../src/db/index.js';
import { testTargets } from '../support/databases.js';

interface Schema {
  sq_clips: { id: number; owner: string; score: number; token: string };
}

const ROWS = 20_000;
const SECRET = 'sk_live_9f8e7d6c5b4a3f2e1d0c';

/** The entry of the statement named `name`, once its plan is settled. */
async function settled(db: Database<Schema>, name: string): Promise<SlowQueryEntry> {
  for (let i = 0; i < 200; i++) {
    const entry = db.slowQueries().find((e) => e.name === name);
    if (entry !== undefined && entry.planStatus !== 'pending' && entry.planStatus !== 'not-planned')
      return entry;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no settled slow-query entry for ${name}: ${JSON.stringify(db.slowQueries())}`);
}

function explains(db: Database<Schema>): number {
  return db.metrics().byName['slowQueries.explain']?.count ?? 0;
}

for (const target of testTargets(['postgres', 'mysql', 'sqlite-file'])) {
  describe(`slow queries on ${target.name}`, () => {
    let db: Database<Schema>;

    before(async () => {
      // Threshold 0: every statement is "slow", so the test does not depend on the machine's speed.
      db = await target.open<Schema>({ max: 4, slowQueries: { thresholdMs: 0, largeTableRows: 5000 } });
      await db.executeQuery(
        'CREATE TABLE sq_clips (id INT PRIMARY KEY, owner VARCHAR(64) NOT NULL, score INT NOT NULL, token VARCHAR(64) NOT NULL)',
        [],
        { queryType: 'ddl' },
      );
      await db.batchInsert({
        table: 'sq_clips',
        columns: [
          { name: 'id', type: 'integer' },
          { name: 'owner', type: 'text' },
          { name: 'score', type: 'integer' },
          { name: 'token', type: 'text' },
        ],
        rows: Array.from({ length: ROWS }, (_, i) => [
          i + 1,
          `owner${i % 500}`,
          (i * 7919) % 1000,
          `tok${i}`,
        ]),
      });
      if (target.name === 'postgres') await db.executeQuery('ANALYZE sq_clips', [], { queryType: 'ddl' });
      if (target.name === 'mysql')
        await db.executeQuery('ANALYZE TABLE sq_clips', [], { queryType: 'select' });
    });

    after(async () => {
      await db?.close();
      await target.dispose();
    });

    it('plans a read on an unindexed column: full scan, sort without index, the index that would serve it', async () => {
      const rows = await db.executeQuery<{ id: number }>(
        'SELECT id, score FROM sq_clips WHERE owner = ? ORDER BY score',
        ['owner7'],
        { name: 'clips.byOwner' },
      );
      assert.equal(rows.length, ROWS / 500);
      const entry = await settled(db, 'clips.byOwner');
      assert.equal(entry.planStatus, 'planned', entry.planError);
      assert.equal(entry.name, 'clips.byOwner');
      assert.ok(entry.plan !== undefined);
      const kinds = entry.findings.map((f) => f.kind);
      const full = entry.findings.find((f) => f.kind === 'full-scan');
      assert.equal(full?.table, 'sq_clips', JSON.stringify(entry.findings));
      if (target.name !== 'sqlite-file') assert.ok((full?.rows ?? 0) >= 5000, full?.message);
      assert.ok(kinds.includes('sort-without-index'), JSON.stringify(entry.findings));
      const index = entry.findings.find((f) => f.kind === 'index');
      assert.deepEqual(index?.columns, ['owner', 'score'], JSON.stringify(entry.findings));
      assert.equal(index?.message, 'an index on sq_clips(owner, score)');
    });

    it('plans a read run inside a transaction outside it, after or beside it', async () => {
      const total = await db.transaction(
        async (tx) => {
          const rows = await tx.executeQuery<{ n: number | string }>(
            'SELECT COUNT(*) AS n FROM sq_clips WHERE score < ?',
            [10],
            { name: 'clips.inTx' },
          );
          return Number(rows[0]?.n);
        },
        { name: 'sq.tx' },
      );
      assert.ok(total > 0);
      const entry = await settled(db, 'clips.inTx');
      assert.equal(entry.planStatus, 'planned', entry.planError);
      assert.ok(entry.findings.some((f) => f.kind === 'full-scan'));
    });

    if (target.name === 'postgres') {
      it('bounds the EXPLAIN on the server (lock waits included) and restores the connection’s timeout', async () => {
        // A Database of one connection, so SHOW afterwards reads the connection the EXPLAIN used.
        const one = await target.open<Schema>({
          max: 1,
          pipeline: false,
          statementTimeoutMs: 600,
          slowQueries: { thresholdMs: 0, explainTimeoutMs: 200 },
        });
        const locker = await target.open<Schema>({ max: 1, pipeline: false });
        try {
          await locker.transaction(async (tx) => {
            await tx.executeQuery('LOCK TABLE sq_clips IN ACCESS EXCLUSIVE MODE', [], { queryType: 'ddl' });
            // Blocked by the lock until the connection's own statement_timeout (600 ms) ends it; then its
            // EXPLAIN is blocked too, and its own 200 ms bound ends it.
            await assert.rejects(
              one.executeQuery('SELECT id FROM sq_clips WHERE owner = ?', ['owner1'], {
                name: 'clips.locked',
              }),
            );
            const entry = await settled(one, 'clips.locked');
            assert.equal(entry.planStatus, 'failed');
            assert.match(entry.planError ?? '', /statement timeout/i);
          });
          const shown = await one.executeQuery<{ statement_timeout: string }>('SHOW statement_timeout');
          assert.equal(shown[0]?.statement_timeout, '600ms');
        } finally {
          await locker.close();
          await one.close();
        }
      });
    }

    it('finds nothing to say about a primary-key lookup', async () => {
      await db.executeQuery('SELECT owner FROM sq_clips WHERE id = ?', [42], { name: 'clips.byId' });
      const entry = await settled(db, 'clips.byId');
      assert.equal(entry.planStatus, 'planned', entry.planError);
      assert.deepEqual(entry.findings, []);
    });

    it('groups runs of one statement into one entry and plans it once', async () => {
      const before = explains(db);
      for (const score of [1, 2, 3]) {
        await db.executeQuery('SELECT id FROM sq_clips WHERE score = ?', [score], { name: 'clips.byScore' });
      }
      const entry = await settled(db, 'clips.byScore');
      assert.equal(entry.count, 3);
      assert.ok(entry.maxMs >= entry.avgMs);
      assert.equal(explains(db) - before, 1, 'one EXPLAIN for three runs');
    });

    it('never plans a write, and keeps no parameter value', async () => {
      const before = explains(db);
      await db.executeQuery('UPDATE sq_clips SET token = ? WHERE owner = ?', [SECRET, 'owner3'], {
        queryType: 'update',
      });
      await db.executeQuery('DELETE FROM sq_clips WHERE token = ?', [SECRET], { queryType: 'delete' });
      const locking =
        target.name === 'sqlite-file' ? undefined : 'SELECT id FROM sq_clips WHERE token = ? FOR UPDATE';
      if (locking !== undefined) await db.executeQuery(locking, [SECRET], { name: 'clips.lock' });
      // A read with the secret as parameter: planned, and the plan is redacted.
      await db.executeQuery('SELECT id FROM sq_clips WHERE token = ?', [SECRET], { name: 'clips.byToken' });
      const read = await settled(db, 'clips.byToken');
      assert.equal(read.planStatus, 'planned', read.planError);
      assert.equal(explains(db) - before, 1, 'only the plain read was planned');
      for (const fragment of ['UPDATE sq_clips', 'DELETE FROM sq_clips']) {
        assert.equal(db.slowQueries().find((e) => e.sql.startsWith(fragment))?.planStatus, 'not-a-read');
      }
      if (locking !== undefined) {
        assert.equal(db.slowQueries().find((e) => e.sql.includes('FOR UPDATE'))?.planStatus, 'not-a-read');
      }
      assert.ok(!JSON.stringify(db.slowQueries()).includes(SECRET));
      assert.ok(!JSON.stringify(db.slowQueries()).includes('9f8e7d6c'));
    });

    it('redacts literals written inline in the SQL text and in the plan', async () => {
      await db.executeQuery(`SELECT id FROM sq_clips WHERE token = '${SECRET}' AND score > 500`, [], {
        name: 'clips.inline',
      });
      const entry = await settled(db, 'clips.inline');
      const json = JSON.stringify(db.slowQueries());
      assert.ok(!json.includes(SECRET), 'the inline literal is gone');
      assert.ok(entry.sql.includes("token = '?'") && entry.sql.includes('score > ?'), entry.sql);
    });
  });
}
