import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errorCatalogue } from '../../src/core/error-codes.js';
import { createDatabase, DatabaseError, DbErrorCode } from '../../src/db/index.js';
import { FakeClock } from '../../src/testing/index.js';

const realSleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('transaction retry policy', () => {
  it('re-runs a retryable failure after a jittered backoff measured on the injected clock', async () => {
    const clock = new FakeClock();
    const db = await createDatabase<{ t: { id: number } }>({ url: 'sqlite::memory:', clock });
    try {
      await db.executeQuery('CREATE TABLE t (id INT PRIMARY KEY)', [], { queryType: 'ddl' });
      let attempts = 0;
      const done = db.transaction(
        async (tx) => {
          attempts++;
          await tx.executeQuery('INSERT INTO t (id) VALUES (?)', [attempts]);
          if (attempts === 1) throw new DatabaseError(DbErrorCode.Deadlock, 'chosen as the victim');
        },
        { maxRetries: 2 },
      );
      for (let i = 0; i < 100 && db.metrics().transactions.retried === 0; i++) await realSleep(5);
      assert.equal(db.metrics().transactions.retried, 1);
      // Real time passes, fake time does not: the second attempt waits for the clock.
      await realSleep(50);
      assert.equal(attempts, 1);
      // The first backoff is at most 10 ms (full jitter).
      await clock.advance(10);
      await done;
      assert.equal(attempts, 2);
      const rows = await db.executeQuery<{ id: number }>('SELECT id FROM t');
      assert.deepEqual(
        rows.map((r) => Number(r.id)),
        [2],
        'the first attempt was rolled back',
      );
    } finally {
      await db.close();
    }
  });

  it('never re-runs a permanent failure, an ambiguous commit or a transient one that re-running does not fix', async () => {
    const db = await createDatabase('sqlite::memory:');
    try {
      for (const code of [
        DbErrorCode.UniqueViolation,
        DbErrorCode.CommitUnknown,
        DbErrorCode.TransactionAborted,
        DbErrorCode.Timeout,
        DbErrorCode.PoolExhausted,
      ]) {
        let attempts = 0;
        const error = await db
          .transaction(
            async () => {
              attempts++;
              throw new DatabaseError(code, 'from the callback');
            },
            { maxRetries: 3 },
          )
          .catch((e: unknown) => e);
        assert.equal((error as DatabaseError).code, code);
        assert.equal(attempts, 1, code);
      }
    } finally {
      await db.close();
    }
  });

  it('every db code is in the catalogue with its class; retryable ones are all transient', () => {
    const db = errorCatalogue().filter((e) => e.layer === 'db');
    assert.deepEqual(db.map((e) => e.code).sort(), Object.values(DbErrorCode).sort());
    for (const e of db) {
      assert.ok(e.meaning.length > 0 && e.action.length > 0, e.code);
      const error = new DatabaseError(e.code as DbErrorCode, 'x');
      assert.equal(error.transient, e.class === 'transient', e.code);
      if (error.retryable) assert.equal(error.transient, true, e.code);
    }
    const cls = (code: string) => db.find((e) => e.code === code)?.class;
    for (const code of [
      'ERR_DB_CONNECTION_LOST',
      'ERR_DB_CONNECT_FAILED',
      'ERR_DB_TIMEOUT',
      'ERR_DB_POOL_EXHAUSTED',
      'ERR_DB_SERIALIZATION',
      'ERR_DB_DEADLOCK',
      'ERR_DB_LOCK_TIMEOUT',
      'ERR_DB_BUSY',
    ]) {
      assert.equal(cls(code), 'transient', code);
    }
    for (const code of [
      'ERR_DB_UNIQUE_VIOLATION',
      'ERR_DB_FOREIGN_KEY',
      'ERR_DB_NOT_NULL',
      'ERR_DB_CHECK',
      'ERR_DB_INVALID_DATA',
      'ERR_DB_QUERY',
      'ERR_DB_URL',
      'ERR_DB_CLOSED',
      'ERR_DB_COMMIT_UNKNOWN',
      'ERR_DB_TRANSACTION_ABORTED',
    ]) {
      assert.equal(cls(code), 'permanent', code);
    }
  });
});
