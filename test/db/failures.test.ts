import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { Database } from '../../src/db/index.js';
import { type TestTarget, testTargets } from '../support/databases.js';
import { TEST_MYSQL_URL, TEST_PG_URL } from '../support/env.js';

interface Schema {
  accounts: { id: number; balance: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const target of testTargets(['postgres', 'mysql'])) {
  describe(`failure handling on ${target.name}`, () => {
    let db: Database<Schema>;

    before(async () => {
      db = await target.open<Schema>({ max: 6, acquireTimeoutMs: 3000 });
      await db.executeQuery('CREATE TABLE accounts (id INT PRIMARY KEY, balance INT NOT NULL)', [], {
        queryType: 'ddl',
      });
      await db.executeQuery('INSERT INTO accounts (id, balance) VALUES (1, 100), (2, 100)');
    });

    after(async () => {
      await db?.close();
      await target.dispose();
    });

    it('two transactions forced into a deadlock both succeed through the retry', async () => {
      let attempts = 0;
      // Each side locks its first row, waits until the other has too, then asks for the other's row.
      let ready = 0;
      const bothLocked = async () => {
        ready++;
        while (ready < 2) await sleep(5);
      };
      const transfer = (from: number, to: number) =>
        db.transaction(
          async (tx) => {
            attempts++;
            await tx.executeQuery('UPDATE accounts SET balance = balance - 10 WHERE id = ?', [from]);
            if (attempts <= 2) await bothLocked();
            await tx.executeQuery('UPDATE accounts SET balance = balance + 10 WHERE id = ?', [to]);
          },
          { name: `transfer-${from}-${to}`, maxRetries: 5 },
        );
      await Promise.all([transfer(1, 2), transfer(2, 1)]);
      assert.ok(attempts >= 3, `one side was re-run (attempts ${attempts})`);
      const rows = await db.executeQuery<{ id: number; balance: number }>(
        'SELECT id, balance FROM accounts ORDER BY id',
      );
      assert.deepEqual(
        rows.map((r) => Number(r.balance)),
        [100, 100],
      );
      assert.ok(db.metrics().transactions.retried >= 1);
      assert.ok((db.metrics().errorsByCode.ERR_DB_DEADLOCK ?? 0) >= 1);
    });

    it('the pool-exhaustion error names the holder and how long it held', async () => {
      const small = await target.open<Schema>({ max: 1, acquireTimeoutMs: 300 });
      let release!: () => void;
      const holding = small.transaction(
        () =>
          new Promise<void>((resolve) => {
            release = resolve;
          }),
        { name: 'nightly-import' },
      );
      await sleep(50);
      await assert.rejects(
        small.executeQuery('SELECT 1 AS x', [], { name: 'dashboard.stats' }),
        (error: Error & { code: string }) => {
          assert.equal(error.code, 'ERR_DB_POOL_EXHAUSTED');
          assert.match(error.message, /tx:nightly-import ×1 \(longest \d+ ms\)/);
          assert.match(error.message, /dashboard\.stats/);
          return true;
        },
      );
      release();
      await holding;
      await small.close();
    });

    it('a backend killed from outside is replaced and the next query succeeds', async () => {
      const one = await target.open<Schema>({ max: 1 });
      const pidQuery =
        target.name === 'postgres' ? 'SELECT pg_backend_pid() AS pid' : 'SELECT CONNECTION_ID() AS pid';
      const [{ pid: before }] = (await one.executeQuery<{ pid: number }>(pidQuery)) as [{ pid: number }];
      if (target.name === 'postgres') {
        const admin = new pg.Client({ connectionString: TEST_PG_URL });
        await admin.connect();
        await admin.query('SELECT pg_terminate_backend($1)', [before]);
        await admin.end();
      } else {
        const admin = await mysql.createConnection({ uri: TEST_MYSQL_URL });
        await admin.query(`KILL ${Number(before)}`);
        await admin.end();
      }
      // The idle connection's error event arrives on its own; it must not crash the process.
      await sleep(200);
      const [{ pid: after }] = (await one.executeQuery<{ pid: number }>(pidQuery)) as [{ pid: number }];
      assert.notEqual(Number(after), Number(before));
      assert.ok(one.metrics().pool.evictedBroken + one.metrics().pool.destroyed >= 1);
      await one.close();
    });

    it('a statement over the statement timeout fails with ERR_DB_TIMEOUT and the pool recovers', async () => {
      const limited = await target.open<Schema>({ max: 1, statementTimeoutMs: 200 });
      const slow =
        target.name === 'postgres' ? 'SELECT pg_sleep(2) AS s' : 'SELECT SLEEP(2) AS s FROM accounts';
      const started = Date.now();
      const outcome = await limited.executeQuery(slow).then(
        (rows) => rows,
        (e: Error & { code: string }) => e,
      );
      if (target.name === 'postgres') {
        assert.equal((outcome as { code?: string }).code, 'ERR_DB_TIMEOUT');
      } else {
        // MariaDB's max_statement_time either errors (1969) or returns the interrupted SLEEP's 1.
        const code = (outcome as { code?: string }).code;
        assert.ok(code === 'ERR_DB_TIMEOUT' || Array.isArray(outcome), String(code));
      }
      assert.ok(Date.now() - started < 1900, 'the statement was cut short');
      const ok = await limited.executeQuery<{ one: number }>('SELECT 1 AS one');
      assert.equal(Number(ok[0]!.one), 1);
      await limited.close();
    });
  });
}

describe('serialization failures on PostgreSQL', () => {
  const [target] = testTargets(['postgres']) as [TestTarget];
  let db: Database<Schema>;

  before(async () => {
    db = await target.open<Schema>({ max: 4 });
    await db.executeQuery('CREATE TABLE accounts (id INT PRIMARY KEY, balance INT NOT NULL)', [], {
      queryType: 'ddl',
    });
    await db.executeQuery('INSERT INTO accounts (id, balance) VALUES (1, 0)');
  });

  after(async () => {
    await db?.close();
    await target.dispose();
  });

  it('re-runs a SERIALIZABLE read-modify-write that lost the race, so no increment is lost', async () => {
    let attempts = 0;
    let arrived = 0;
    const increment = () =>
      db.transaction(
        async (tx) => {
          attempts++;
          const [row] = await tx.executeQuery<{ balance: number }>(
            'SELECT balance FROM accounts WHERE id = 1',
          );
          if (attempts <= 2) {
            arrived++;
            while (arrived < 2) await sleep(5);
          }
          await tx.executeQuery('UPDATE accounts SET balance = ? WHERE id = 1', [Number(row!.balance) + 1]);
        },
        { isolationLevel: 'serializable', name: 'increment', maxRetries: 5 },
      );
    await Promise.all([increment(), increment()]);
    const [row] = await db.executeQuery<{ balance: number }>('SELECT balance FROM accounts WHERE id = 1');
    assert.equal(Number(row!.balance), 2);
    assert.ok(attempts >= 3);
    assert.ok((db.metrics().errorsByCode.ERR_DB_SERIALIZATION ?? 0) >= 1);
  });
});
