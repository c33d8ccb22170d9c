import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { sql } from 'kysely';
import type { OpusError } from '../../src/core/errors.js';
import { createDatabase, type Database, DatabaseError, type Transaction } from '../../src/db/index.js';
import { type TestTarget, testTargets } from '../support/databases.js';
import { adminQuery, type Blocker, openBlocker, outcome } from './blocker.js';
import { startTcpProxy } from './tcp-proxy.js';

interface Schema {
  accounts: { id: number; balance: number };
  log: { k: string };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const target of testTargets(['postgres', 'mysql'])) {
  const pg = target.name === 'postgres';
  const begin = pg ? 'BEGIN' : 'START TRANSACTION';

  describe(`transactions the database aborts, on ${target.name}`, () => {
    let db: Database<Schema>;

    before(async () => {
      db = await target.open<Schema>({ max: 4 });
      await db.executeQuery('CREATE TABLE accounts (id INT PRIMARY KEY, balance INT NOT NULL)', [], {
        queryType: 'ddl',
      });
      await db.executeQuery('CREATE TABLE log (k VARCHAR(64) PRIMARY KEY)', [], { queryType: 'ddl' });
      await db.executeQuery('CREATE TABLE ballast (id INT PRIMARY KEY)', [], { queryType: 'ddl' });
      await db.executeQuery('INSERT INTO accounts (id, balance) VALUES (1, 0), (2, 0)');
    });

    after(async () => {
      await db?.close();
      await target.dispose();
    });

    beforeEach(async () => {
      await db.executeQuery('DELETE FROM log');
      await db.executeQuery('UPDATE accounts SET balance = 0');
    });

    const logged = async (): Promise<string[]> =>
      (await db.executeQuery<{ k: string }>('SELECT k FROM log ORDER BY k')).map((r) => r.k);
    const balances = async (): Promise<number[]> =>
      (await db.executeQuery<{ balance: number }>('SELECT balance FROM accounts ORDER BY id')).map((r) =>
        Number(r.balance),
      );

    /**
     * A blocker holding row 2 in its own transaction, made the heavier of the two (InnoDB rolls back
     * the lighter transaction) and slow to detect deadlocks (PostgreSQL aborts the one that detects).
     */
    async function holdRow2(): Promise<Blocker> {
      const blocker = await openBlocker(target);
      await blocker.query(begin);
      if (pg) await blocker.query("SET LOCAL deadlock_timeout = '10s'");
      else {
        const ids = Array.from({ length: 200 }, (_, i) => `(${i})`).join(',');
        await blocker.query(`INSERT INTO ballast (id) VALUES ${ids}`);
      }
      await blocker.query('UPDATE accounts SET balance = balance + 100 WHERE id = 2');
      return blocker;
    }

    /** Once our next statement waits for row 2, the blocker asks for row 1: a deadlock we lose. */
    function closeTheCycle(blocker: Blocker): Promise<void> {
      return sleep(150)
        .then(() => blocker.query('UPDATE accounts SET balance = balance + 100 WHERE id = 1'))
        .then(() => blocker.query('ROLLBACK'))
        .finally(() => blocker.end());
    }

    const fastDeadlockDetection = (tx: Transaction<Schema>) =>
      pg ? tx.executeQuery("SET LOCAL deadlock_timeout = '300ms'", [], { queryType: 'ddl' }) : undefined;

    /** Everything a callback may try after a failure it caught; each entry is the outcome's code. */
    async function tryEverything(tx: Transaction<Schema>, attempt: number): Promise<Record<string, string>> {
      return {
        statement: await outcome(tx.executeQuery('INSERT INTO log (k) VALUES (?)', [`after-${attempt}`])),
        savepoint: await outcome(
          tx.transaction((sp) => sp.executeQuery('INSERT INTO log (k) VALUES (?)', [`sp-${attempt}`])),
        ),
        kysely: await outcome(
          tx.kysely
            .insertInto('log')
            .values({ k: `ky-${attempt}` })
            .execute(),
        ),
        batchInsert: await outcome(
          tx.batchInsert({
            table: 'log',
            columns: [{ name: 'k', type: 'text' }],
            rows: [[`batch-${attempt}`]],
          }),
        ),
        afterCommit: await outcome(tx.afterCommit(() => {}) ?? Promise.resolve()),
      };
    }

    const ABORTED = {
      statement: 'ERR_DB_TRANSACTION_ABORTED',
      savepoint: 'ERR_DB_TRANSACTION_ABORTED',
      kysely: 'ERR_DB_TRANSACTION_ABORTED',
      batchInsert: 'ERR_DB_TRANSACTION_ABORTED',
      afterCommit: 'ERR_DB_TRANSACTION_ABORTED',
    };
    const ALL_RAN = {
      statement: 'resolved',
      savepoint: 'resolved',
      kysely: 'resolved',
      batchInsert: 'resolved',
      afterCommit: 'resolved',
    };

    it('a deadlock inside a savepoint rejects the savepoint with ERR_DB_DEADLOCK and the transaction with it', async () => {
      const blocker = await holdRow2();
      let cycle: Promise<void> | undefined;
      const result = await outcome(
        db.transaction(
          async (tx) => {
            await fastDeadlockDetection(tx);
            await tx.executeQuery('INSERT INTO log (k) VALUES (?)', ['before']);
            await tx.executeQuery('UPDATE accounts SET balance = balance + 1 WHERE id = 1');
            cycle = closeTheCycle(blocker);
            await tx.transaction((sp) =>
              sp.executeQuery('UPDATE accounts SET balance = balance + 1 WHERE id = 2'),
            );
          },
          { maxRetries: 0 },
        ),
      );
      await cycle;
      assert.equal(result, 'ERR_DB_DEADLOCK');
      assert.deepEqual(await logged(), []);
      assert.deepEqual(await balances(), [0, 0]);
    });

    it('a caught deadlock in a savepoint: the savepoint says ERR_DB_DEADLOCK, and what follows is refused (MySQL) or runs in the recovered transaction (PostgreSQL)', async () => {
      const blocker = await holdRow2();
      let cycle: Promise<void> | undefined;
      let savepoint: unknown;
      let after: Record<string, string> = {};
      const result = await outcome(
        db.transaction(
          async (tx) => {
            await fastDeadlockDetection(tx);
            await tx.executeQuery('INSERT INTO log (k) VALUES (?)', ['before-1']);
            await tx.executeQuery('UPDATE accounts SET balance = balance + 1 WHERE id = 1');
            cycle = closeTheCycle(blocker);
            try {
              await tx.transaction((sp) =>
                sp.executeQuery('UPDATE accounts SET balance = balance + 1 WHERE id = 2'),
              );
            } catch (error) {
              savepoint = error;
            }
            after = await tryEverything(tx, 1);
            // Returns normally, as a callback that "handled" the failure would.
          },
          { maxRetries: 0 },
        ),
      );
      await cycle;
      assert.ok(savepoint instanceof DatabaseError, String(savepoint));
      assert.equal(savepoint.code, 'ERR_DB_DEADLOCK', savepoint.message);
      assert.equal(savepoint.transient, true);
      if (pg) {
        // PostgreSQL undoes only the savepoint: the transaction goes on and commits its own work.
        assert.deepEqual(after, ALL_RAN);
        assert.equal(result, 'resolved');
        assert.deepEqual(await logged(), ['after-1', 'batch-1', 'before-1', 'ky-1', 'sp-1']);
        assert.deepEqual(await balances(), [1, 0]);
      } else {
        // InnoDB rolled back the whole transaction: nothing more runs, nothing is autocommitted, and
        // transaction() does not resolve although the callback returned.
        assert.deepEqual(after, ABORTED);
        assert.equal(result, 'ERR_DB_DEADLOCK');
        assert.deepEqual(await logged(), []);
        assert.deepEqual(await balances(), [0, 0]);
      }
    });

    it('a caught deadlock at the top level never commits: the callback is re-run and its second run commits alone', async () => {
      const blocker = await holdRow2();
      let cycle: Promise<void> | undefined;
      let attempts = 0;
      const seen: Array<Record<string, string>> = [];
      const caught: string[] = [];
      const result = await outcome(
        db.transaction(
          async (tx) => {
            attempts++;
            await fastDeadlockDetection(tx);
            await tx.executeQuery('INSERT INTO log (k) VALUES (?)', [`before-${attempts}`]);
            await tx.executeQuery('UPDATE accounts SET balance = balance + 1 WHERE id = 1');
            if (attempts === 1) cycle = closeTheCycle(blocker);
            try {
              await tx.executeQuery('UPDATE accounts SET balance = balance + 1 WHERE id = 2');
            } catch (error) {
              caught.push((error as OpusError).code);
              const refused = await tx.executeQuery('SELECT 1 AS one').catch((e: unknown) => e);
              assert.ok(refused instanceof DatabaseError);
              assert.equal(refused.code, 'ERR_DB_TRANSACTION_ABORTED');
              assert.equal((refused.cause as OpusError).code, 'ERR_DB_DEADLOCK', 'the cause says why');
              assert.equal(refused.transient, true, 'transient like its cause');
            }
            seen.push(await tryEverything(tx, attempts));
          },
          { maxRetries: 2 },
        ),
      );
      await cycle;
      assert.equal(result, 'resolved');
      assert.equal(attempts, 2);
      assert.deepEqual(caught, ['ERR_DB_DEADLOCK']);
      assert.deepEqual(seen, [ABORTED, ALL_RAN]);
      assert.deepEqual(await logged(), ['after-2', 'batch-2', 'before-2', 'ky-2', 'sp-2']);
      assert.deepEqual(await balances(), [1, 1]);
      assert.ok(db.metrics().transactions.retried >= 1);
    });

    it('a failed statement caught at the top level: PostgreSQL refuses the rest and rejects with the failure; MySQL goes on', async () => {
      await db.executeQuery('INSERT INTO log (k) VALUES (?)', ['taken']);
      let caught = '';
      let after: Record<string, string> = {};
      const result = await outcome(
        db.transaction(async (tx) => {
          await tx.executeQuery('INSERT INTO log (k) VALUES (?)', ['before-1']);
          try {
            await tx.executeQuery('INSERT INTO log (k) VALUES (?)', ['taken']);
          } catch (error) {
            caught = (error as OpusError).code;
          }
          after = await tryEverything(tx, 1);
        }),
      );
      assert.equal(caught, 'ERR_DB_UNIQUE_VIOLATION');
      if (pg) {
        assert.deepEqual(after, ABORTED);
        // Before, COMMIT was sent: PostgreSQL answered it with a silent ROLLBACK, and this resolved.
        assert.equal(result, 'ERR_DB_UNIQUE_VIOLATION');
        assert.deepEqual(await logged(), ['taken']);
      } else {
        // MySQL undoes only the failed statement; the transaction is intact.
        assert.deepEqual(after, ALL_RAN);
        assert.equal(result, 'resolved');
        assert.deepEqual(await logged(), ['after-1', 'batch-1', 'before-1', 'ky-1', 'sp-1', 'taken']);
      }
    });

    it('a failure caught inside a savepoint: on PostgreSQL the savepoint rejects with it and is rolled back; the rest commits', async () => {
      await db.executeQuery('INSERT INTO log (k) VALUES (?)', ['taken']);
      let inside = '';
      let savepoint = '';
      const result = await outcome(
        db.transaction(async (tx) => {
          await tx.executeQuery('INSERT INTO log (k) VALUES (?)', ['outer']);
          savepoint = await outcome(
            tx.transaction(async (sp) => {
              await sp.executeQuery('INSERT INTO log (k) VALUES (?)', ['inner-before']);
              await sp.executeQuery('INSERT INTO log (k) VALUES (?)', ['taken']).catch(() => {});
              inside = await outcome(sp.executeQuery('INSERT INTO log (k) VALUES (?)', ['inner-after']));
              // Returns normally.
            }),
          );
          await tx.executeQuery('INSERT INTO log (k) VALUES (?)', ['outer-after']);
        }),
      );
      assert.equal(result, 'resolved');
      if (pg) {
        assert.equal(inside, 'ERR_DB_TRANSACTION_ABORTED');
        // Before, RELEASE SAVEPOINT failed with 25P02 (ERR_DB_QUERY) in place of the real failure.
        assert.equal(savepoint, 'ERR_DB_UNIQUE_VIOLATION');
        assert.deepEqual(await logged(), ['outer', 'outer-after', 'taken']);
      } else {
        assert.equal(inside, 'resolved');
        assert.equal(savepoint, 'resolved');
        assert.deepEqual(await logged(), ['inner-after', 'inner-before', 'outer', 'outer-after', 'taken']);
      }
    });

    it('an error the callback makes of a caught failure is reported as it is; a refusal is reported as its cause', async () => {
      await db.executeQuery('INSERT INTO log (k) VALUES (?)', ['taken']);
      class Domain extends Error {}
      const own = await db
        .transaction(async (tx) => {
          try {
            await tx.transaction((sp) => sp.executeQuery('INSERT INTO log (k) VALUES (?)', ['taken']));
          } catch {
            throw new Domain('already there');
          }
        })
        .catch((e: unknown) => e);
      assert.ok(own instanceof Domain);
      const refused = await db
        .transaction(
          async (tx) => {
            await tx.executeQuery('INSERT INTO log (k) VALUES (?)', ['taken']).catch(() => {});
            // On PostgreSQL this is refused (ERR_DB_TRANSACTION_ABORTED) and transaction() reports the
            // failure behind it; MySQL runs it.
            await tx.executeQuery('INSERT INTO log (k) VALUES (?)', ['x']);
          },
          { maxRetries: 0 },
        )
        .then(
          () => 'resolved',
          (e: OpusError) => e.code,
        );
      assert.equal(refused, pg ? 'ERR_DB_UNIQUE_VIOLATION' : 'resolved');
    });

    it('a connection lost in the middle is a dead transaction: refused, rolled back by the server, re-run on a new connection', async () => {
      let attempts = 0;
      const seen: Array<Record<string, string>> = [];
      const result = await outcome(
        db.transaction(
          async (tx) => {
            attempts++;
            await tx.executeQuery('INSERT INTO log (k) VALUES (?)', [`before-${attempts}`]);
            if (attempts === 1) {
              const [row] = await tx.executeQuery<{ pid: number }>(
                pg ? 'SELECT pg_backend_pid() AS pid' : 'SELECT CONNECTION_ID() AS pid',
              );
              const pid = Number(row!.pid);
              await adminQuery(
                target,
                pg ? 'SELECT pg_terminate_backend($1)' : `KILL ${pid}`,
                pg ? [pid] : [],
              );
              const lost = await outcome(tx.executeQuery('SELECT 1 AS one'));
              assert.equal(lost, 'ERR_DB_CONNECTION_LOST');
            }
            seen.push(await tryEverything(tx, attempts));
          },
          { maxRetries: 2 },
        ),
      );
      assert.equal(result, 'resolved');
      assert.equal(attempts, 2);
      assert.deepEqual(seen, [ABORTED, ALL_RAN]);
      assert.deepEqual(await logged(), ['after-2', 'batch-2', 'before-2', 'ky-2', 'sp-2']);
    });

    it('concurrent statements queued behind a deadlocked one never run in autocommit', async () => {
      const blocker = await holdRow2();
      let cycle: Promise<void> | undefined;
      let codes: string[] = [];
      const result = await outcome(
        db.transaction(
          async (tx) => {
            await fastDeadlockDetection(tx);
            await tx.executeQuery('UPDATE accounts SET balance = balance + 1 WHERE id = 1');
            cycle = closeTheCycle(blocker);
            // Sent together: the first waits for row 2 and loses the deadlock; the others queue behind it.
            codes = await Promise.all([
              outcome(tx.executeQuery('UPDATE accounts SET balance = balance + 1 WHERE id = 2')),
              outcome(tx.executeQuery('INSERT INTO log (k) VALUES (?)', ['queued-1'])),
              outcome(tx.executeQuery('INSERT INTO log (k) VALUES (?)', ['queued-2'])),
            ]);
          },
          { maxRetries: 0 },
        ),
      );
      await cycle;
      assert.equal(codes[0], 'ERR_DB_DEADLOCK');
      // PostgreSQL refuses them itself (25P02); MySQL's driver would have sent them in autocommit.
      assert.deepEqual(codes.slice(1), ['ERR_DB_TRANSACTION_ABORTED', 'ERR_DB_TRANSACTION_ABORTED']);
      assert.equal(result, 'ERR_DB_DEADLOCK');
      assert.deepEqual(await logged(), []);
      assert.deepEqual(await balances(), [0, 0]);
    });

    it("Kysely's own transaction API never reports a commit the database did not make", async () => {
      await db.executeQuery('INSERT INTO log (k) VALUES (?)', ['taken']);
      const blocker = await holdRow2();
      let cycle: Promise<void> | undefined;
      const result = await outcome(
        db.kysely.transaction().execute(async (trx) => {
          if (pg) await sql`SET LOCAL deadlock_timeout = '300ms'`.execute(trx);
          await trx.insertInto('log').values({ k: 'kysely-before' }).execute();
          await trx.updateTable('accounts').set({ balance: 1 }).where('id', '=', 1).execute();
          cycle = closeTheCycle(blocker);
          await trx
            .updateTable('accounts')
            .set({ balance: 1 })
            .where('id', '=', 2)
            .execute()
            .catch(() => {});
          await trx
            .insertInto('log')
            .values({ k: 'kysely-after' })
            .execute()
            .catch(() => {});
        }),
      );
      await cycle;
      assert.notEqual(result, 'resolved');
      assert.ok(['ERR_DB_DEADLOCK', 'ERR_DB_TRANSACTION_ABORTED'].includes(result), result);
      assert.deepEqual(await logged(), ['taken']);
    });
  });

  describe(`ambiguous commits on ${target.name}`, () => {
    const [place] = testTargets([target.name]) as [TestTarget];
    it('a connection lost after COMMIT was sent rejects with ERR_DB_COMMIT_UNKNOWN, is not retried, and may have committed', async () => {
      const url = new URL(await place.url());
      const proxy = await startTcpProxy(url.hostname, Number(url.port || (pg ? 5432 : 3306)));
      url.port = String(proxy.port);
      const config = pg ? { url: url.toString(), schema: place.schema! } : { url: url.toString() };
      const db = await createDatabase<Schema>({ ...config, max: 2 });
      const direct = await place.open<Schema>({ max: 1 });
      try {
        await db.executeQuery('CREATE TABLE IF NOT EXISTS unknown_log (k VARCHAR(64) PRIMARY KEY)', [], {
          queryType: 'ddl',
        });
        for (const forward of [true, false]) {
          let runs = 0;
          let afterCommitRan = false;
          const key = `row-${forward}`;
          proxy.arm('COMMIT', { forward });
          const error = await db
            .transaction(
              async (tx) => {
                runs++;
                await tx.executeQuery('INSERT INTO unknown_log (k) VALUES (?)', [key]);
                await tx.afterCommit(() => {
                  afterCommitRan = true;
                });
              },
              { maxRetries: 5 },
            )
            .then(
              () => undefined,
              (e: unknown) => e,
            );
          assert.ok(error instanceof DatabaseError, String(error));
          assert.equal(error.code, 'ERR_DB_COMMIT_UNKNOWN', error.message);
          assert.equal(error.transient, false, 'no layer retries it');
          assert.equal(error.retryable, false);
          assert.equal(runs, 1, 'transaction() did not re-run it');
          assert.equal(afterCommitRan, false);
          // Forwarded, the server commits (as soon as it has read the message); cut before it, it rolls
          // back. The client cannot tell which.
          const deadline = Date.now() + 5000;
          let rows = await direct.executeQuery('SELECT k FROM unknown_log WHERE k = ?', [key]);
          while (forward && rows.length === 0 && Date.now() < deadline) {
            await sleep(50);
            rows = await direct.executeQuery('SELECT k FROM unknown_log WHERE k = ?', [key]);
          }
          assert.equal(rows.length, forward ? 1 : 0);
        }
        assert.equal(proxy.fired, 2);
        assert.equal(db.metrics().errorsByCode.ERR_DB_COMMIT_UNKNOWN, 2);
        // The broken connections were dropped; the next transaction commits on a new one.
        await db.transaction((tx) => tx.executeQuery('INSERT INTO unknown_log (k) VALUES (?)', ['later']));
        const later = await direct.executeQuery('SELECT k FROM unknown_log WHERE k = ?', ['later']);
        assert.equal(later.length, 1);
      } finally {
        await db.close();
        await direct.close();
        await proxy.close();
        await place.dispose();
      }
    });
  });
}
