import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { OpusError } from '../../src/core/errors.js';
import type { Database, Queryable, Transaction } from '../../src/db/index.js';
import { testTargets } from '../support/databases.js';

interface Schema {
  accounts: { id: number; balance: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Many transfers at once between the same accounts in opposite orders, each leg in a savepoint of a
 * savepoint: deadlocks are certain. Whatever each transaction does with them, the ledger must add up:
 * every committed transfer is whole, nothing of a rejected one remains, and nothing ran in autocommit.
 */
for (const target of testTargets(['postgres', 'mysql'])) {
  const pg = target.name === 'postgres';

  describe(`concurrent transfers in nested transactions on ${target.name}`, () => {
    let db: Database<Schema>;

    before(async () => {
      // A static pool, so eight transfers really run at once and deadlock: the adaptive pool (the
      // default) lends fewer connections until it has measured that more serve more.
      db = await target.open<Schema>({ max: 8, acquireTimeoutMs: 20_000, adaptivePool: false });
      for (const ddl of [
        'CREATE TABLE accounts (id INT PRIMARY KEY, balance INT NOT NULL)',
        'CREATE TABLE transfers (k VARCHAR(32) PRIMARY KEY)',
        'CREATE TABLE legs (k VARCHAR(32) NOT NULL, account INT NOT NULL, delta INT NOT NULL, PRIMARY KEY (k, account))',
        'CREATE TABLE tails (k VARCHAR(32) PRIMARY KEY)',
      ]) {
        await db.executeQuery(ddl, [], { queryType: 'ddl' });
      }
      await db.executeQuery('INSERT INTO accounts (id, balance) VALUES (1, 0), (2, 0), (3, 0)');
    });

    after(async () => {
      await db?.close();
      await target.dispose();
    });

    async function leg(q: Queryable<Schema>, k: string, account: number, delta: number): Promise<void> {
      await q.executeQuery('UPDATE accounts SET balance = balance + ? WHERE id = ?', [delta, account]);
      await q.executeQuery('INSERT INTO legs (k, account, delta) VALUES (?, ?, ?)', [k, account, delta]);
    }

    async function run(mode: 'propagate' | 'swallow', round: string) {
      const n = 16;
      const resolved = new Set<string>();
      const rejected = new Map<string, string>();
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
        Array.from({ length: n }, async (_, i) => {
          const k = `${round}-${i}`;
          const [a, b] = i % 2 === 0 ? [1, 2] : [2, 1];
          try {
            await db.transaction(
              async (tx: Transaction<Schema>) => {
                if (pg)
                  await tx.executeQuery("SET LOCAL deadlock_timeout = '50ms'", [], { queryType: 'ddl' });
                await tx.executeQuery('INSERT INTO transfers (k) VALUES (?)', [k]);
                await guard(
                  tx.transaction(async (outer) => {
                    await leg(outer, k, a, -1);
                    await sleep(10);
                    await guard(outer.transaction((inner) => leg(inner, k, b, 1)));
                  }),
                );
                if (i % 4 === 0) await guard(tx.transaction((sp) => leg(sp, k, 3, 0)));
                await tx.executeQuery('INSERT INTO tails (k) VALUES (?)', [k]);
              },
              { maxRetries: 3, name: `transfer-${k}` },
            );
            resolved.add(k);
          } catch (error) {
            rejected.set(k, error instanceof OpusError ? error.code : String(error));
          }
        }),
      );
      return { resolved, rejected, swallowed };
    }

    async function check(round: string, result: Awaited<ReturnType<typeof run>>, wholeLegs: boolean) {
      const like = `${round}-%`;
      const keys = async (table: string): Promise<string[]> =>
        (
          await db.executeQuery<{ k: string }>(`SELECT k FROM ${table} WHERE k LIKE ? ORDER BY k`, [like])
        ).map((r) => r.k);
      for (const code of result.rejected.values()) assert.equal(code, 'ERR_DB_DEADLOCK');
      const committed = [...result.resolved].sort();
      assert.deepEqual(
        await keys('transfers'),
        committed,
        'a transfer row exists exactly for every resolved one',
      );
      assert.deepEqual(
        await keys('tails'),
        committed,
        'the statements after a caught failure were never autocommitted',
      );
      const legs = await db.executeQuery<{ k: string; account: number; delta: number }>(
        'SELECT k, account, delta FROM legs WHERE k LIKE ?',
        [like],
      );
      for (const l of legs) assert.ok(result.resolved.has(l.k), `leg of ${l.k}, which did not commit`);
      if (wholeLegs) {
        for (const k of committed) {
          const mine = legs.filter((l) => l.k === k && Number(l.account) !== 3);
          assert.deepEqual(mine.map((l) => Number(l.delta)).sort(), [-1, 1], `transfer ${k} committed whole`);
        }
      }
    }

    async function balancesMatchLegs(): Promise<void> {
      const rows = await db.executeQuery<{ id: number; balance: number; legs: number }>(
        'SELECT a.id, a.balance, COALESCE((SELECT SUM(l.delta) FROM legs l WHERE l.account = a.id), 0) AS legs FROM accounts a ORDER BY a.id',
      );
      for (const r of rows) assert.equal(Number(r.balance), Number(r.legs), `account ${r.id}`);
    }

    it('failures propagate: every transfer commits whole (through retries) or rejects with the deadlock', async () => {
      const deadlocksBefore = db.metrics().errorsByCode.ERR_DB_DEADLOCK ?? 0;
      const result = await run('propagate', 'p');
      await check('p', result, true);
      await balancesMatchLegs();
      assert.ok((db.metrics().errorsByCode.ERR_DB_DEADLOCK ?? 0) > deadlocksBefore, 'deadlocks happened');
      assert.ok(result.resolved.size > 0);
    });

    it('savepoint failures caught and ignored: still nothing partial from the database, nothing autocommitted', async () => {
      const deadlocksBefore = db.metrics().errorsByCode.ERR_DB_DEADLOCK ?? 0;
      const result = await run('swallow', 's');
      // On PostgreSQL a deadlock undoes only its savepoint, and a callback that ignores it commits the
      // rest on purpose; on MySQL it kills the transaction, which is re-run whole or rejected.
      await check('s', result, !pg);
      await balancesMatchLegs();
      assert.ok((db.metrics().errorsByCode.ERR_DB_DEADLOCK ?? 0) > deadlocksBefore, 'deadlocks happened');
      assert.ok(result.swallowed > 0, 'some failure was caught');
    });
  });
}
