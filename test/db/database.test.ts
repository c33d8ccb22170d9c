import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createDatabase, type Database, DatabaseError } from '../../src/db/index.js';
import { testTargets } from '../support/databases.js';

interface Schema {
  items: { id: string; n: number; label: string | null };
  parents: { id: number; name: string };
  children: { id: number; parent_id: number; name: string };
}

const INJECTION = `'); DROP TABLE items;-- \\ " \` %_ ? $1 ünï😀`;

for (const target of testTargets()) {
  describe(`Database on ${target.name}`, () => {
    let db: Database<Schema>;
    const serial =
      target.name === 'postgres' ? 'SERIAL' : target.name === 'mysql' ? 'INT AUTO_INCREMENT' : 'INTEGER';

    before(async () => {
      db = await target.open<Schema>({ max: 4 });
      await db.executeQuery(
        'CREATE TABLE items (id VARCHAR(64) PRIMARY KEY, n INT NOT NULL, label TEXT)',
        [],
        {
          queryType: 'ddl',
        },
      );
      await db.executeQuery(
        `CREATE TABLE parents (id ${serial} PRIMARY KEY, name VARCHAR(100) NOT NULL UNIQUE)`,
        [],
        {
          queryType: 'ddl',
        },
      );
      await db.executeQuery(
        'CREATE TABLE children (id INT PRIMARY KEY, parent_id INT NOT NULL REFERENCES parents(id), name VARCHAR(100) NOT NULL)',
        [],
        { queryType: 'ddl' },
      );
    });

    after(async () => {
      await db?.close();
      await target.dispose();
    });

    it('executeQuery returns rows, the inserted id or the affected count by query type', async () => {
      const id = await db.executeQuery('INSERT INTO parents (name) VALUES (?)', ['first'], {
        queryType: 'insert',
      });
      if (target.name === 'postgres') assert.equal(id, undefined, 'PostgreSQL reports ids through RETURNING');
      else assert.equal(typeof id, 'bigint');
      const returned = await db.executeQuery(
        target.name === 'mysql'
          ? 'INSERT INTO parents (name) VALUES (?)'
          : 'INSERT INTO parents (name) VALUES (?) RETURNING id',
        ['second'],
        { queryType: 'insert' },
      );
      assert.ok(returned !== undefined);
      await db.executeQuery('INSERT INTO items (id, n, label) VALUES ($1, $2, $3), ($4, $5, $3)', [
        'a',
        1,
        'x',
        'b',
        2,
      ]);
      const rows = await db.executeQuery<{ id: string; n: number }>(
        'SELECT id, n FROM items WHERE label = ? ORDER BY id',
        ['x'],
      );
      assert.deepEqual(
        rows.map((r) => [r.id, Number(r.n)]),
        [
          ['a', 1],
          ['b', 2],
        ],
      );
      const changed = await db.executeQuery('UPDATE items SET n = n + 10 WHERE label = ?', ['x'], {
        queryType: 'update',
      });
      assert.equal(changed, 2);
      const deleted = await db.executeQuery('DELETE FROM items WHERE id = ?', ['nope'], {
        queryType: 'delete',
      });
      assert.equal(deleted, 0);
    });

    it('stores SQL-injection strings verbatim through raw and typed queries', async () => {
      await db.executeQuery('INSERT INTO items (id, n, label) VALUES (?, ?, ?)', ['inj-raw', 0, INJECTION]);
      await db.kysely.insertInto('items').values({ id: 'inj-k', n: 0, label: INJECTION }).execute();
      const rows = await db.kysely
        .selectFrom('items')
        .select(['id', 'label'])
        .where('id', 'like', 'inj-%')
        .execute();
      assert.equal(rows.length, 2);
      for (const r of rows) assert.equal(r.label, INJECTION);
      const count = await db.executeQuery<{ c: number }>('SELECT COUNT(*) AS c FROM items WHERE label = ?', [
        INJECTION,
      ]);
      assert.equal(Number(count[0]!.c), 2);
    });

    it('commits on return and rolls back everything on throw', async () => {
      await db.transaction(async (tx) => {
        await tx.executeQuery('INSERT INTO items (id, n) VALUES (?, ?)', ['tx-ok', 1]);
        await tx.kysely.insertInto('items').values({ id: 'tx-ok-k', n: 2, label: null }).execute();
      });
      await assert.rejects(
        db.transaction(async (tx) => {
          await tx.executeQuery('INSERT INTO items (id, n) VALUES (?, ?)', ['tx-bad', 1]);
          await tx.kysely.insertInto('items').values({ id: 'tx-bad-k', n: 2, label: null }).execute();
          throw new Error('boom');
        }),
        /boom/,
      );
      const ids = (
        await db.executeQuery<{ id: string }>("SELECT id FROM items WHERE id LIKE 'tx-%' ORDER BY id")
      ).map((r) => r.id);
      assert.deepEqual(ids, ['tx-ok', 'tx-ok-k']);
    });

    it('rolling back to a savepoint keeps the outer work', async () => {
      await db.transaction(async (tx) => {
        await tx.executeQuery('INSERT INTO items (id, n) VALUES (?, ?)', ['sp-outer', 1]);
        await assert.rejects(
          tx.transaction(async (inner) => {
            assert.equal(inner.depth, 1);
            await inner.executeQuery('INSERT INTO items (id, n) VALUES (?, ?)', ['sp-inner', 1]);
            throw new Error('inner fails');
          }),
          /inner fails/,
        );
        await tx.transaction(async (inner) => {
          await inner.executeQuery('INSERT INTO items (id, n) VALUES (?, ?)', ['sp-inner-ok', 1]);
        });
      });
      const ids = (
        await db.executeQuery<{ id: string }>("SELECT id FROM items WHERE id LIKE 'sp-%' ORDER BY id")
      ).map((r) => r.id);
      assert.deepEqual(ids, ['sp-inner-ok', 'sp-outer']);
    });

    it('runs afterCommit callbacks after COMMIT only, dropping those of a rolled-back savepoint', async () => {
      const seen: string[] = [];
      await db.transaction(async (tx) => {
        tx.afterCommit(() => void seen.push('outer'));
        await tx.transaction(async (inner) => {
          inner.afterCommit(() => void seen.push('kept-savepoint'));
        });
        await tx
          .transaction(async (inner) => {
            inner.afterCommit(() => void seen.push('dropped-savepoint'));
            throw new Error('x');
          })
          .catch(() => {});
        assert.deepEqual(seen, [], 'nothing runs before COMMIT');
      });
      assert.deepEqual(seen, ['outer', 'kept-savepoint']);
      await db
        .transaction(async (tx) => {
          tx.afterCommit(() => void seen.push('rolled-back'));
          throw new Error('y');
        })
        .catch(() => {});
      assert.deepEqual(seen, ['outer', 'kept-savepoint']);
    });

    it('maps constraint violations to typed errors and keeps the dialect code', async () => {
      const unique = await db.executeQuery('INSERT INTO parents (name) VALUES (?)', ['first']).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(unique instanceof DatabaseError);
      assert.equal(unique.code, 'ERR_DB_UNIQUE_VIOLATION');
      assert.ok(unique.dialectCode);
      const fk = await db
        .executeQuery('INSERT INTO children (id, parent_id, name) VALUES (?, ?, ?)', [1, 999_999, 'orphan'])
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      assert.equal((fk as DatabaseError).code, 'ERR_DB_FOREIGN_KEY');
      const notNull = await db.executeQuery('INSERT INTO items (id, n) VALUES (?, ?)', ['nn', null]).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.equal((notNull as DatabaseError).code, 'ERR_DB_NOT_NULL');
    });

    it('batch-inserts in input order and is all-or-nothing', async () => {
      const rows = Array.from(
        { length: 3000 },
        (_, i) => [`batch-${String(i).padStart(5, '0')}`, i, INJECTION] as const,
      );
      const n = await db.batchInsert({
        table: 'items',
        columns: [
          { name: 'id', type: 'text' },
          { name: 'n', type: 'integer' },
          { name: 'label', type: 'text' },
        ],
        rows,
      });
      assert.equal(n, 3000);
      const back = await db.executeQuery<{ id: string; n: number; label: string }>(
        "SELECT id, n, label FROM items WHERE id LIKE 'batch-%' ORDER BY id",
      );
      assert.equal(back.length, 3000);
      assert.ok(back.every((r, i) => Number(r.n) === i && r.label === INJECTION));
      // A duplicate in the last chunk fails the whole batch: nothing of it stays.
      const bad = [
        ...Array.from({ length: 1500 }, (_, i) => [`bad-${i}`, i, null]),
        ['batch-00000', 0, null],
      ];
      await assert.rejects(
        db.batchInsert({
          table: 'items',
          columns: [
            { name: 'id', type: 'text' },
            { name: 'n', type: 'integer' },
            { name: 'label', type: 'text' },
          ],
          rows: bad,
        }),
        { code: 'ERR_DB_UNIQUE_VIOLATION' },
      );
      const left = await db.executeQuery<{ c: number }>(
        "SELECT COUNT(*) AS c FROM items WHERE id LIKE 'bad-%'",
      );
      assert.equal(Number(left[0]!.c), 0);
      const skipped = await db.batchInsert({
        table: 'items',
        columns: [
          { name: 'id', type: 'text' },
          { name: 'n', type: 'integer' },
          { name: 'label', type: 'text' },
        ],
        rows: [
          ['batch-00001', 1, null],
          ['fresh-1', 1, null],
        ],
        onConflict: 'ignore',
      });
      assert.equal(skipped, 1);
    });

    it('an error thrown by the row source reaches the caller as it is, and nothing of the batch stays', async () => {
      class SourceBroke extends Error {}
      const broke = new SourceBroke('the source broke');
      const columns = [
        { name: 'id', type: 'text' as const },
        { name: 'n', type: 'integer' as const },
        { name: 'label', type: 'text' as const },
      ];
      function* syncRows(): Generator<unknown[]> {
        for (let i = 0; i < 7_000; i++) {
          if (i === 6_000) throw broke;
          yield [`src-sync-${i}`, i, null];
        }
      }
      async function* asyncRows(): AsyncGenerator<unknown[]> {
        for (let i = 0; i < 7_000; i++) {
          if (i === 6_000) throw broke;
          yield [`src-async-${i}`, i, null];
        }
      }
      for (const rows of [syncRows(), asyncRows()]) {
        await assert.rejects(
          db.batchInsert({ table: 'items', columns, rows }),
          (error: unknown) => error === broke,
        );
      }
      const left = await db.executeQuery<{ c: number }>(
        "SELECT COUNT(*) AS c FROM items WHERE id LIKE 'src-%'",
      );
      assert.equal(Number(left[0]!.c), 0);
    });

    it('counts queries in its metrics under the seed names', async () => {
      await db.execute({ sql: 'SELECT 1 AS one', parameters: [] }, { name: 'probe' });
      const m = db.metrics();
      assert.ok(m.queriesExecuted > 5);
      assert.ok(m.avgExecutionTime > 0);
      assert.equal(m.byName.probe?.count, 1);
      assert.ok((m.errorsByCode.ERR_DB_UNIQUE_VIOLATION ?? 0) >= 1);
      assert.ok(m.transactions.committed >= 3);
      assert.ok(m.pool.total >= 1);
    });

    it('close() waits for in-flight work, then refuses new work', async () => {
      const other = await target.open<Schema>();
      const slow =
        target.name === 'postgres'
          ? other.executeQuery('SELECT pg_sleep(0.2) AS s')
          : target.name === 'mysql'
            ? other.executeQuery('SELECT SLEEP(0.2) AS s')
            : other.transaction(async (tx) => {
                await new Promise((r) => setTimeout(r, 200));
                return tx.executeQuery('SELECT 1 AS s');
              });
      const closing = other.close();
      await assert.doesNotReject(slow);
      await closing;
      await assert.rejects(other.executeQuery('SELECT 1'), { code: 'ERR_DB_CLOSED' });
    });
  });
}

describe('database URLs', () => {
  it('rejects malformed URLs with ERR_DB_URL and never shows the password', async () => {
    for (const url of [
      'mongodb://u:hunter2pw@h/db',
      'postgres://u:hunter2pw@/db',
      'not a url hunter2pw',
      'sqlite:',
    ]) {
      await assert.rejects(createDatabase(url), (error: DatabaseError) => {
        assert.equal(error.code, 'ERR_DB_URL');
        assert.ok(!error.message.includes('hunter2pw') || url.startsWith('not'), error.message);
        return true;
      });
    }
  });

  it('a refused connection is a typed error with the password redacted', async () => {
    await assert.rejects(
      createDatabase({ url: 'postgres://app:hunter2pw@127.0.0.1:1/x', connectTimeoutMs: 2000 }),
      (error: DatabaseError) => {
        assert.equal(error.code, 'ERR_DB_CONNECT_FAILED');
        assert.ok(!error.message.includes('hunter2pw'), error.message);
        assert.match(error.message, /app:\*\*\*@127\.0\.0\.1:1/);
        return true;
      },
    );
  });
});
