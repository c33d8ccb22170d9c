import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { OpusError } from '../../src/core/errors.js';
import { createDatabase, type Database, type Queryable } from '../../src/db/index.js';
import { type TestTarget, testTargets } from '../support/databases.js';

interface Schema {
  t: { id: number };
}

/**
 * Calls `call` as a promise chain would: a synchronous throw fails the test (a `.catch()` would never
 * see it); the promise must reject with an OpusError whose code is `code`.
 */
async function rejectsInChain(what: string, call: () => unknown, code: string): Promise<void> {
  let promise: unknown;
  assert.doesNotThrow(() => {
    promise = call();
  }, `${what} threw synchronously`);
  assert.ok(promise instanceof Promise, `${what} returned a promise`);
  const caught = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  assert.ok(caught instanceof OpusError, `${what} rejected with an OpusError, got ${String(caught)}`);
  assert.equal(caught.code, code, `${what}: ${caught.message}`);
}

/** The bad calls every Queryable (a Database or a transaction) must turn into rejections. */
async function badCalls(q: Queryable<Schema>, label: string): Promise<void> {
  const bad = (x: unknown) => x as never;
  const cases: Array<[string, () => unknown, string]> = [
    [
      'executeQuery with more placeholders than parameters',
      () => q.executeQuery('SELECT ? AS a, ? AS b', [1]),
      'ERR_INVALID_ARGUMENT',
    ],
    ['executeQuery with $0', () => q.executeQuery('SELECT $0 AS a', [1]), 'ERR_INVALID_ARGUMENT'],
    [
      'executeQuery with $2 and one parameter',
      () => q.executeQuery('SELECT $2 AS a', [1]),
      'ERR_INVALID_ARGUMENT',
    ],
    ['executeQuery with sql not a string', () => q.executeQuery(bad(42)), 'ERR_INVALID_ARGUMENT'],
    ['executeQuery with sql null', () => q.executeQuery(bad(null)), 'ERR_INVALID_ARGUMENT'],
    [
      'executeQuery with params not an array',
      () => q.executeQuery('SELECT 1 AS a', bad('x')),
      'ERR_INVALID_ARGUMENT',
    ],
    [
      'executeQuery with options null',
      () => q.executeQuery('SELECT 1 AS a', [], bad(null)),
      'ERR_INVALID_ARGUMENT',
    ],
    [
      "executeQuery with 0.1's cacheTtl (seconds)",
      () => q.executeQuery('SELECT 1 AS a', [], bad({ cacheKey: 'k', cacheTtl: 30 })),
      'ERR_INVALID_ARGUMENT',
    ],
    ['execute with no query', () => q.execute(bad(undefined)), 'ERR_INVALID_ARGUMENT'],
    [
      'execute with sql not a string',
      () => q.execute(bad({ sql: 1, parameters: [] })),
      'ERR_INVALID_ARGUMENT',
    ],
    ['execute without parameters', () => q.execute(bad({ sql: 'SELECT 1 AS a' })), 'ERR_INVALID_ARGUMENT'],
    ['transaction without a callback', () => q.transaction(bad(undefined)), 'ERR_INVALID_ARGUMENT'],
    ['transaction with options null', () => q.transaction(async () => {}, bad(null)), 'ERR_INVALID_ARGUMENT'],
    [
      'transaction with a negative maxRetries',
      () => q.transaction(async () => {}, { maxRetries: -1 }),
      'ERR_INVALID_ARGUMENT',
    ],
    [
      'transaction with an isolation level that is not one',
      () => q.transaction(async () => {}, { isolationLevel: bad('serializable; DROP TABLE t') }),
      'ERR_INVALID_ARGUMENT',
    ],
    ['batchInsert with no spec', () => q.batchInsert(bad(undefined)), 'ERR_INVALID_ARGUMENT'],
    ['batchInsert with spec null', () => q.batchInsert(bad(null)), 'ERR_INVALID_ARGUMENT'],
    [
      'batchInsert without rows',
      () => q.batchInsert(bad({ table: 't', columns: [{ name: 'id', type: 'integer' }] })),
      'ERR_INVALID_ARGUMENT',
    ],
    [
      'batchInsert without columns',
      () => q.batchInsert(bad({ table: 't', columns: [], rows: [] })),
      'ERR_INVALID_ARGUMENT',
    ],
  ];
  if (!q.inTransaction) {
    cases.push(['afterCommit with no function', () => q.afterCommit(bad(undefined)), 'ERR_INVALID_ARGUMENT']);
  }
  for (const [what, call, code] of cases) await rejectsInChain(`${label}: ${what}`, call, code);
}

describe('promise-returning functions of the db layer reject, never throw', () => {
  it('createDatabase with a config that is neither a URL nor an object, or a bad URL', async () => {
    await rejectsInChain('createDatabase(null)', () => createDatabase(null as never), 'ERR_INVALID_ARGUMENT');
    await rejectsInChain('createDatabase(42)', () => createDatabase(42 as never), 'ERR_INVALID_ARGUMENT');
    await rejectsInChain('createDatabase(ftp://)', () => createDatabase('ftp://x/y'), 'ERR_DB_URL');
    await rejectsInChain('createDatabase({ url: "" })', () => createDatabase({ url: '' }), 'ERR_DB_URL');
  });

  for (const target of testTargets(['sqlite-memory', 'postgres', 'mysql']) as TestTarget[]) {
    describe(`on ${target.name}`, () => {
      let db: Database<Schema>;

      before(async () => {
        db = await target.open<Schema>({ max: 2 });
        await db.executeQuery('CREATE TABLE t (id INT PRIMARY KEY)', [], { queryType: 'ddl' });
      });

      after(async () => {
        await db?.close();
        await target.dispose();
      });

      it('Database methods given bad arguments reject with ERR_INVALID_ARGUMENT', async () => {
        await badCalls(db, 'Database');
        await rejectsInChain('migrate(null)', () => db.migrate(null as never), 'ERR_INVALID_ARGUMENT');
        await rejectsInChain(
          'migrate({}, null)',
          () => db.migrate({}, null as never),
          'ERR_INVALID_ARGUMENT',
        );
      });

      it('transaction and savepoint methods given bad arguments reject too, and the transaction still commits', async () => {
        await db.transaction(async (tx) => {
          await badCalls(tx, 'transaction');
          await tx.transaction((sp) => badCalls(sp, 'savepoint'));
          await tx.executeQuery('INSERT INTO t (id) VALUES (?)', [1]);
        });
        const rows = await db.executeQuery('SELECT id FROM t');
        assert.equal(rows.length, 1);
      });

      it('a finished transaction rejects what is called on it later', async () => {
        let kept: Queryable<Schema> | undefined;
        await db.transaction(async (tx) => {
          kept = tx;
        });
        const tx = kept!;
        await rejectsInChain('execute after commit', () => tx.executeQuery('SELECT 1 AS a'), 'ERR_DB_CLOSED');
        await rejectsInChain(
          'transaction after commit',
          () => tx.transaction(async () => {}),
          'ERR_DB_CLOSED',
        );
        await rejectsInChain(
          'batchInsert after commit',
          () => tx.batchInsert({ table: 't', columns: [{ name: 'id', type: 'integer' }], rows: [[2]] }),
          'ERR_DB_CLOSED',
        );
        await rejectsInChain('afterCommit after commit', () => tx.afterCommit(() => {}), 'ERR_DB_CLOSED');
      });

      it('a closed database rejects every call', async () => {
        const closing = await target.open<Schema>({ max: 1 });
        await closing.close();
        await rejectsInChain(
          'executeQuery after close',
          () => closing.executeQuery('SELECT 1 AS a'),
          'ERR_DB_CLOSED',
        );
        await rejectsInChain(
          'transaction after close',
          () => closing.transaction(async () => {}),
          'ERR_DB_CLOSED',
        );
        await rejectsInChain(
          'batchInsert after close',
          () => closing.batchInsert({ table: 't', columns: [{ name: 'id', type: 'integer' }], rows: [[3]] }),
          'ERR_DB_CLOSED',
        );
      });
    });
  }
});
