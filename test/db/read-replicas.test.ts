import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createDatabase, type Database, type DatabaseConfig } from '../../src/db/index.js';
import { recordingLogger } from '../../src/testing/index.js';
import { TEST_MYSQL_URL, TEST_PG_URL, uniqueName } from '../support/env.js';
import { ensurePgReplica, replicaCaughtUp, TEST_PG_REPLICA_URL } from '../support/pg-replica.js';
import { startTcpProxy } from './tcp-proxy.js';

interface Schema {
  items: { id: number; v: string };
}

const PORT = 'SELECT inet_server_port()::int AS port';
const SECRET = 'hunter2-replica-secret';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 20 ms for up to 10 s. */
async function eventually(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(20);
  }
  throw new Error(`never: ${what}`);
}

/** A local port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function admin(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * Read replicas against the real primary (127.0.0.1:5432) and its streaming replica (127.0.0.1:5433,
 * started by scripts/start-pg-replica.sh): which server answered is read from inet_server_port().
 */
describe('read replicas on PostgreSQL', { timeout: 120_000 }, () => {
  const schema = uniqueName('rr').toLowerCase();
  const opened: Database<Schema>[] = [];
  const open = async (options: Omit<DatabaseConfig, 'url'> = {}): Promise<Database<Schema>> => {
    const db = await createDatabase<Schema>({
      url: `${TEST_PG_URL}?schema=${schema}`,
      replicas: [TEST_PG_REPLICA_URL],
      replicaPollMs: 50,
      ...options,
    });
    opened.push(db);
    return db;
  };
  const port = async (db: { executeQuery: Database<Schema>['executeQuery'] }, consistency?: 'eventual') =>
    (await db.executeQuery<{ port: number }>(PORT, [], consistency ? { consistency } : {}))[0]!.port;

  before(async () => {
    await ensurePgReplica();
    await admin(TEST_PG_URL, `CREATE SCHEMA ${schema}`);
    await admin(TEST_PG_URL, `CREATE TABLE ${schema}.items (id INT PRIMARY KEY, v TEXT NOT NULL)`);
    await replicaCaughtUp();
  });
  after(async () => {
    for (const db of opened) await db.close();
    await admin(TEST_PG_URL, `DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  });

  it('reads go to the replica; writes, locking reads and transactions to the primary', async () => {
    const db = await open();
    assert.equal(await port(db), 5433);
    const [written] = await db.executeQuery<{ port: number }>(
      'INSERT INTO items (id, v) VALUES (?, ?) RETURNING inet_server_port()::int AS port',
      [1, 'one'],
      { queryType: 'select' },
    );
    assert.equal(written!.port, 5432);
    const [locked] = await db.executeQuery<{ port: number }>(`${PORT} FROM items WHERE id = 1 FOR UPDATE`);
    assert.equal(locked!.port, 5432);
    const inTx = await db.transaction(async (tx) => (await tx.executeQuery<{ port: number }>(PORT))[0]!.port);
    assert.equal(inTx, 5432);
    assert.equal(
      (await db.executeQuery<{ port: number }>(PORT, [], { consistency: 'primary' }))[0]!.port,
      5432,
    );
    // The typed builder routes the same way.
    await replicaCaughtUp();
    await eventually('the replica has caught up with the write', async () => (await port(db)) === 5433);
    const rows = await db.kysely.selectFrom('items').select(['id', 'v']).execute();
    assert.deepEqual(rows, [{ id: 1, v: 'one' }]);
    const stats = db.metrics().replicas!;
    assert.ok(stats.reads.replica >= 2, JSON.stringify(stats));
    assert.equal(stats.replicas[0]!.name, '127.0.0.1:5433');
    assert.equal(stats.replicas[0]!.state, 'ok');
  });

  it("slow reads a replica ran are in db.slowQueries(), planned there, beside the primary's", async () => {
    const db = await open({ slowQueries: { thresholdMs: 0 } });
    await db.executeQuery('SELECT v, inet_server_port() AS replica_read FROM items WHERE v = ?', ['x']);
    await db.executeQuery('UPDATE items SET v = v WHERE id = ?', [-1]);
    await eventually('both statements are captured and the read planned', async () => {
      const entries = db.slowQueries();
      const read = entries.find((e) => e.sql.includes('replica_read'));
      const write = entries.find((e) => e.sql.startsWith('UPDATE items'));
      return read?.planStatus === 'planned' && write !== undefined;
    });
  });

  it('read-your-writes: a read right after a write sees it (the primary until the replica has replayed it)', async () => {
    const db = await open();
    const before = db.metrics().replicas!.readYourWritesFallbacks;
    for (let i = 0; i < 20; i++) {
      const id = 100 + i;
      await db.executeQuery('INSERT INTO items (id, v) VALUES (?, ?)', [id, `v${id}`]);
      const rows = await db.executeQuery<{ v: string }>('SELECT v FROM items WHERE id = ?', [id]);
      assert.deepEqual(rows, [{ v: `v${id}` }], `write ${id} read back`);
    }
    // A transaction's writes too.
    await db.transaction(async (tx) => {
      await tx.executeQuery('INSERT INTO items (id, v) VALUES (?, ?)', [200, 'tx']);
    });
    assert.deepEqual(await db.executeQuery('SELECT v FROM items WHERE id = ?', [200]), [{ v: 'tx' }]);
    const after = db.metrics().replicas!.readYourWritesFallbacks;
    assert.ok(after > before, `reads fell back to the primary (${before} → ${after})`);
    // Once the replica has replayed them, reads go back to it.
    await eventually('reads use the replica again', async () => (await port(db)) === 5433);
  });

  it('sessions: one caller writing does not send another to the primary; a position carries over', async () => {
    const db = await open();
    await eventually('the replica is in use', async () => (await port(db)) === 5433);
    const writer = db.session();
    const reader = db.session();
    assert.equal(await writer.position(), undefined);
    await writer.executeQuery('INSERT INTO items (id, v) VALUES (?, ?)', [300, 'session']);
    const position = await writer.position();
    assert.ok(position !== undefined && /^[0-9A-F]+\/[0-9A-F]+$/.test(position), position);
    // The writer reads its write; the reader, who wrote nothing, keeps reading the replica.
    assert.deepEqual(await writer.executeQuery('SELECT v FROM items WHERE id = ?', [300]), [
      { v: 'session' },
    ]);
    assert.equal(await port(reader), 5433);
    // Another database (another process, in effect) given the position reads the write too.
    const other = await open();
    const resumed = other.session({ after: position });
    assert.deepEqual(await resumed.executeQuery('SELECT v FROM items WHERE id = ?', [300]), [
      { v: 'session' },
    ]);
    assert.throws(() => other.session({ after: 'not a position' }), { code: 'ERR_INVALID_ARGUMENT' });
  });

  it('a lagging replica is skipped until it catches up', async () => {
    const db = await open({ maxReplicaLagMs: 300 });
    await eventually('the replica is in use', async () => (await port(db, 'eventual')) === 5433);
    await admin(TEST_PG_REPLICA_URL, 'SELECT pg_wal_replay_pause()');
    try {
      await db.executeQuery('INSERT INTO items (id, v) VALUES (?, ?)', [400, 'paused']);
      await eventually(
        'the replica is lagging',
        () => db.metrics().replicas!.replicas[0]!.state === 'lagging',
      );
      // Even reads that do not care about this caller's writes leave it.
      assert.equal(await port(db, 'eventual'), 5432);
      const r = db.metrics().replicas!.replicas[0]!;
      assert.ok(r.skipped.lagging >= 1);
      assert.ok(r.lagMs! > 300, `lag ${r.lagMs} ms`);
    } finally {
      await admin(TEST_PG_REPLICA_URL, 'SELECT pg_wal_replay_resume()');
    }
    await eventually('the replica is used again', async () => (await port(db, 'eventual')) === 5433);
    assert.equal(db.metrics().replicas!.replicas[0]!.state, 'ok');
  });

  it('an unreachable replica is skipped, reads still succeed, and its password shows nowhere', async () => {
    const logger = recordingLogger();
    const dead = `postgres://postgres:${SECRET}@127.0.0.1:${await closedPort()}/test`;
    const db = await open({ replicas: [dead, TEST_PG_REPLICA_URL], logger });
    for (let i = 0; i < 6; i++) assert.ok([5432, 5433].includes(await port(db, 'eventual')));
    const stats = db.metrics().replicas!;
    assert.equal(stats.replicas[0]!.state, 'unreachable');
    assert.ok(stats.replicas[0]!.skipped.unreachable >= 6);
    assert.equal(stats.replicas[0]!.reads, 0);
    assert.ok(stats.replicas[1]!.reads > 0, 'the other replica serves');
    assert.ok(!JSON.stringify(stats).includes(SECRET));
    assert.ok(!JSON.stringify(db.metrics()).includes(SECRET));
    const warned = logger.records.filter((r) => r.level === 'warn');
    assert.ok(warned.length > 0, 'the dead replica is logged');
    assert.ok(!JSON.stringify(logger.records).includes(SECRET), JSON.stringify(warned));
  });

  it('a replica that goes away mid-way: its reads run again on the primary', async () => {
    const proxy = await startTcpProxy('127.0.0.1', 5433);
    const db = await open({
      replicas: [`postgres://postgres:${SECRET}@127.0.0.1:${proxy.port}/test`],
      replicaPollMs: 60_000,
    });
    assert.equal(await port(db, 'eventual'), 5433);
    await proxy.close();
    // The next reads fail on the replica (or find it unreachable) and are answered by the primary.
    for (let i = 0; i < 5; i++) assert.equal(await port(db, 'eventual'), 5432);
    const r = db.metrics().replicas!.replicas[0]!;
    assert.equal(r.state, 'unreachable');
    assert.ok(r.failovers >= 1, JSON.stringify(r));
  });

  it('a server that is not in recovery is not used as a replica', async () => {
    const db = await open({ replicas: [TEST_PG_URL] });
    assert.equal(await port(db, 'eventual'), 5432);
    assert.equal(db.metrics().replicas!.replicas[0]!.state, 'not_replica');
  });

  it('replicas are refused on MySQL and for a URL that is not postgres://', async () => {
    await assert.rejects(createDatabase({ url: TEST_MYSQL_URL, replicas: [TEST_PG_REPLICA_URL] }), {
      code: 'ERR_INVALID_ARGUMENT',
    });
    await assert.rejects(
      createDatabase({ url: TEST_PG_URL, replicas: [`mysql://root:${SECRET}@127.0.0.1/test`] }),
      (error: Error) => {
        assert.equal((error as { code?: string }).code, 'ERR_INVALID_ARGUMENT');
        assert.ok(!error.message.includes(SECRET), error.message);
        return true;
      },
    );
    await assert.rejects(
      createDatabase({ url: TEST_PG_URL, replicas: [TEST_PG_REPLICA_URL], maxReplicaLagMs: 0 }),
      {
        code: 'ERR_INVALID_ARGUMENT',
      },
    );
  });
});
