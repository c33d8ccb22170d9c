import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import { type Database, DatabaseError } from '../../src/db/index.js';
import { postgresTarget } from '../support/databases.js';
import { TEST_PG_URL } from '../support/env.js';

interface Schema {
  notes: { id: number; body: string };
}

/**
 * On PostgreSQL a transaction's BEGIN travels with its first statement (one round trip less). These
 * tests pin down that it is still a transaction, whatever that first statement is, and that a failing
 * first statement leaves the connection as usable as before.
 */
describe('PostgreSQL driver: BEGIN sent with the first statement, batches all-or-nothing', () => {
  const target = postgresTarget();
  let db: Database<Schema>;
  let observer: pg.Client;

  before(async () => {
    // One connection: every transaction below reuses the connection (and its prepared statements).
    db = await target.open<Schema>({ max: 1 });
    await db.executeQuery('CREATE TABLE notes (id INT PRIMARY KEY, body TEXT NOT NULL)', [], {
      queryType: 'ddl',
    });
    observer = new pg.Client({ connectionString: TEST_PG_URL });
    await observer.connect();
  });

  after(async () => {
    await observer.end();
    await db.close();
    await target.dispose();
  });

  const visibleToOthers = async (id: number): Promise<boolean> => {
    const r = await observer.query(`SELECT 1 FROM ${target.schema}.notes WHERE id = $1`, [id]);
    return r.rowCount === 1;
  };

  it('a parameterised first statement runs inside the transaction: invisible until COMMIT, gone on ROLLBACK', async () => {
    await db.transaction(async (tx) => {
      await tx.executeQuery('INSERT INTO notes (id, body) VALUES (?, ?)', [1, 'kept'], {
        queryType: 'insert',
      });
      assert.equal(await visibleToOthers(1), false);
    });
    assert.equal(await visibleToOthers(1), true);

    await assert.rejects(
      db.transaction(async (tx) => {
        await tx.executeQuery('INSERT INTO notes (id, body) VALUES (?, ?)', [2, 'dropped'], {
          queryType: 'insert',
        });
        throw new Error('changed my mind');
      }),
      /changed my mind/,
    );
    assert.equal(await visibleToOthers(2), false);
  });

  it('a first statement without parameters (and a typed query) also run inside it', async () => {
    const [first, second] = await db.transaction(async (tx) => {
      const a = await tx.executeQuery<{ t: string }>('SELECT txid_current()::text AS t', [], {
        queryType: 'select',
      });
      const b = await tx.kysely
        .selectFrom('notes')
        .select((eb) => eb.fn<string>('txid_current').as('t'))
        .limit(1)
        .execute();
      return [a[0]?.t, b[0]?.t];
    });
    assert.ok(first !== undefined && first === String(second), `${first} vs ${second}`);
  });

  it('the isolation level is applied', async () => {
    const level = await db.transaction(
      async (tx) => {
        const rows = await tx.executeQuery<{ l: string }>(
          "SELECT current_setting('transaction_isolation') AS l WHERE ?::int = 1",
          [1],
          { queryType: 'select' },
        );
        return rows[0]?.l;
      },
      { isolationLevel: 'serializable' },
    );
    assert.equal(level, 'serializable');
    const plain = await db.transaction(async (tx) => {
      const rows = await tx.executeQuery<{ transaction_isolation: string }>(
        'SHOW transaction_isolation',
        [],
        {
          queryType: 'select',
        },
      );
      return rows[0]?.transaction_isolation;
    });
    assert.equal(plain, 'read committed');
  });

  it('a nested transaction as the first statement opens the outer one first', async () => {
    await db.transaction(async (tx) => {
      await tx.transaction(async (inner) => {
        await inner.executeQuery('INSERT INTO notes (id, body) VALUES (?, ?)', [3, 'inner'], {
          queryType: 'insert',
        });
      });
      assert.equal(await visibleToOthers(3), false);
    });
    assert.equal(await visibleToOthers(3), true);
  });

  it('a first statement that fails rolls back with its own error, and the connection stays usable', async () => {
    const bad = 'SELECT no_such_column FROM notes WHERE id = ?';
    for (let round = 0; round < 2; round++) {
      // The same failing text twice: a statement whose Parse failed must not be taken as prepared.
      await assert.rejects(
        db.transaction(async (tx) => {
          await tx.executeQuery(bad, [1], { queryType: 'select' });
        }),
        (error: unknown) => error instanceof DatabaseError && /no_such_column/.test(error.message),
      );
    }
    await assert.rejects(
      db.transaction(async (tx) => {
        await tx.executeQuery('INSERT INTO notes (id, body) VALUES (?, ?)', [1, 'duplicate'], {
          queryType: 'insert',
        });
      }),
      (error: unknown) => error instanceof DatabaseError && error.code === 'ERR_DB_UNIQUE_VIOLATION',
    );
    const rows = await db.transaction((tx) =>
      tx.executeQuery<{ body: string }>('SELECT body FROM notes WHERE id = ?', [1], { queryType: 'select' }),
    );
    assert.deepEqual(rows, [{ body: 'kept' }]);
    // Not left inside a transaction: a plain query's write is visible at once.
    await db.executeQuery('INSERT INTO notes (id, body) VALUES (?, ?)', [4, 'outside'], {
      queryType: 'insert',
    });
    assert.equal(await visibleToOthers(4), true);
  });

  it('a batch insert of several statements is still all-or-nothing', async () => {
    // ON CONFLICT DO NOTHING keeps it on UNNEST statements (one per 5,000 rows); the last chunk fails.
    const rows: Array<[number, string]> = Array.from({ length: 12_000 }, (_, i) => [100_000 + i, `row ${i}`]);
    rows[11_999] = [100_000 + 11_999, null as unknown as string];
    await assert.rejects(
      db.batchInsert({
        table: 'notes',
        columns: [
          { name: 'id', type: 'integer' },
          { name: 'body', type: 'text' },
        ],
        rows,
        onConflict: 'ignore',
      }),
      (error: unknown) => error instanceof DatabaseError && error.code === 'ERR_DB_NOT_NULL',
    );
    const left = await observer.query(
      `SELECT count(*)::int AS c FROM ${target.schema}.notes WHERE id >= 100000`,
    );
    assert.equal(left.rows[0]?.c, 0);
  });

  it('a row source that fails in the middle of a COPY aborts it, rolls back, and leaves the connection usable', async () => {
    async function* rows(): AsyncGenerator<[number, string]> {
      for (let i = 0; i < 9_000; i++) {
        if (i === 7_000) throw new Error('the source broke');
        yield [200_000 + i, `row ${i}`];
      }
    }
    const columns = [
      { name: 'id', type: 'integer' as const },
      { name: 'body', type: 'text' as const },
    ];
    await assert.rejects(db.batchInsert({ table: 'notes', columns, rows: rows() }), /the source broke/);
    const left = await observer.query(
      `SELECT count(*)::int AS c FROM ${target.schema}.notes WHERE id >= 200000`,
    );
    assert.equal(left.rows[0]?.c, 0);
    // The same (only) connection takes the next batch.
    const n = await db.batchInsert({ table: 'notes', columns, rows: [[300_000, 'after']] });
    assert.equal(n, 1);
  });

  it("Kysely's own transaction API defers BEGIN too, and commits or rolls back as before", async () => {
    await db.kysely.transaction().execute(async (trx) => {
      await trx.insertInto('notes').values({ id: 500, body: 'kysely' }).execute();
      assert.equal(await visibleToOthers(500), false);
    });
    assert.equal(await visibleToOthers(500), true);
    await assert.rejects(
      db.kysely
        .transaction()
        .setIsolationLevel('serializable')
        .execute(async (trx) => {
          const level = await sql<{
            l: string;
          }>`SELECT current_setting('transaction_isolation') AS l`.execute(trx);
          assert.equal(level.rows[0]?.l, 'serializable');
          await trx.insertInto('notes').values({ id: 501, body: 'undone' }).execute();
          throw new Error('undo');
        }),
      /undo/,
    );
    assert.equal(await visibleToOthers(501), false);
    // An empty Kysely transaction leaves the connection outside any transaction.
    await db.kysely.transaction().execute(async () => {});
    await db.executeQuery('INSERT INTO notes (id, body) VALUES (?, ?)', [502, 'after'], {
      queryType: 'insert',
    });
    assert.equal(await visibleToOthers(502), true);
  });

  it('a transaction that runs no statement sends nothing', async () => {
    const rows = await db.executeQuery<{ pid: number }>('SELECT pg_backend_pid() AS pid', [], {
      queryType: 'select',
    });
    const pid = rows[0]!.pid;
    assert.equal(await db.transaction(async () => 'nothing'), 'nothing');
    // The server's record of the connection's last statement is still the query above.
    const seen = await observer.query('SELECT query FROM pg_stat_activity WHERE pid = $1', [pid]);
    assert.equal(seen.rows[0]?.query, 'SELECT pg_backend_pid() AS pid');
  });
});
