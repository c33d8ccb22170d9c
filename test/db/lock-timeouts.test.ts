import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import mysql from 'mysql2/promise';
import { createDatabase, type Database } from '../../src/db/index.js';
import { mysqlTarget } from '../support/databases.js';
import { outcome } from './blocker.js';
import { type PrivateMariadb, startPrivateMariadb } from './private-mariadb.js';

interface Schema {
  accounts: { id: number; balance: number };
  log: { k: string };
}

/**
 * A lock wait timeout (1205) undoes the waiting statement, or, with innodb_rollback_on_timeout, the
 * whole transaction. The driver asks the server which (the IN_TRANS status flag) before anything else is
 * sent, so the same code is right under both settings.
 */
async function lockTimeoutCaught(
  url: string,
): Promise<{ caught: string; after: string; result: string; log: string[] }> {
  const db: Database<Schema> = await createDatabase<Schema>({ url, max: 2 });
  const blocker = await mysql.createConnection({ uri: url });
  try {
    await db.executeQuery(
      'CREATE TABLE IF NOT EXISTS accounts (id INT PRIMARY KEY, balance INT NOT NULL)',
      [],
      {
        queryType: 'ddl',
      },
    );
    await db.executeQuery('CREATE TABLE IF NOT EXISTS log (k VARCHAR(64) PRIMARY KEY)', [], {
      queryType: 'ddl',
    });
    await db.executeQuery('DELETE FROM log');
    await db.executeQuery('DELETE FROM accounts');
    await db.executeQuery('INSERT INTO accounts (id, balance) VALUES (1, 0), (2, 0)');
    await blocker.query('START TRANSACTION');
    await blocker.query('UPDATE accounts SET balance = 100 WHERE id = 2');
    let caught = '';
    let afterIt = '';
    const result = await outcome(
      db.transaction(
        async (tx) => {
          await tx.executeQuery('SET SESSION innodb_lock_wait_timeout = 1', [], { queryType: 'ddl' });
          await tx.executeQuery('INSERT INTO log (k) VALUES (?)', ['before']);
          caught = await outcome(tx.executeQuery('UPDATE accounts SET balance = 1 WHERE id = 2'));
          afterIt = await outcome(tx.executeQuery('INSERT INTO log (k) VALUES (?)', ['after']));
        },
        { maxRetries: 0 },
      ),
    );
    await blocker.query('ROLLBACK');
    const log = (await db.executeQuery<{ k: string }>('SELECT k FROM log ORDER BY k')).map((r) => r.k);
    return { caught, after: afterIt, result, log };
  } finally {
    await blocker.end();
    await db.close();
  }
}

describe('lock wait timeouts on MariaDB', () => {
  const shared = mysqlTarget();
  let privateServer: PrivateMariadb | undefined;

  before(async () => {
    privateServer = await startPrivateMariadb(['--innodb-rollback-on-timeout=1']);
  });

  after(async () => {
    await privateServer?.stop();
    await shared.dispose();
  });

  it('innodb_rollback_on_timeout off (the default): only the statement is undone, the transaction goes on and commits', async () => {
    const r = await lockTimeoutCaught(await shared.url());
    assert.equal(r.caught, 'ERR_DB_LOCK_TIMEOUT');
    assert.equal(r.after, 'resolved');
    assert.equal(r.result, 'resolved');
    assert.deepEqual(r.log, ['after', 'before']);
  });

  it('innodb_rollback_on_timeout on: the transaction is dead, nothing after runs or is autocommitted, and it rejects with the timeout', async () => {
    const r = await lockTimeoutCaught(privateServer!.url);
    assert.equal(r.caught, 'ERR_DB_LOCK_TIMEOUT');
    assert.equal(r.after, 'ERR_DB_TRANSACTION_ABORTED');
    assert.equal(r.result, 'ERR_DB_LOCK_TIMEOUT');
    assert.deepEqual(r.log, []);
  });
});
