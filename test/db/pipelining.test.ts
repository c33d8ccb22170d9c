import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { sql } from 'kysely';
import type { OpusError } from '../../src/core/errors.js';
import { createDatabase, type Database, type DatabaseConfig, DatabaseError } from '../../src/db/index.js';
import { testTargets } from '../support/databases.js';
import { startTcpProxy } from './tcp-proxy.js';

interface Schema {
  items: { id: number; v: string };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Settled = PromiseSettledResult<unknown>;

function codeOf(s: Settled): string {
  if (s.status === 'fulfilled') return 'ok';
  const e = s.reason as OpusError;
  return e.code ?? String(e);
}

for (const target of testTargets(['postgres', 'mysql'])) {
  const pg = target.name === 'postgres';
  /** This session's id on the server: which connection answered. */
  const pidSql = pg ? 'SELECT pg_backend_pid() AS pid, ? AS i' : 'SELECT CONNECTION_ID() AS pid, ? AS i';
  const sleepSql = pg ? 'SELECT pg_sleep(?) AS s' : 'SELECT SLEEP(?) AS s';
  const cancel = (pid: number) => (pg ? `SELECT pg_cancel_backend(${pid})` : `KILL QUERY ${pid}`);
  const terminate = (pid: number) => (pg ? `SELECT pg_terminate_backend(${pid})` : `KILL ${pid}`);
  /** The pool that holds the pipelined connections: the database's own, or MySQL's second one. */
  const lanePool = (db: Database<Schema>) => db.metrics().pipeline?.pool ?? db.metrics().pool;
  const pidOf = async (db: Database<Schema>): Promise<number> =>
    Number((await db.executeQuery<{ pid: number }>(pidSql, [0]))[0]!.pid);
  /** Waits until session `pid` is running a sleep. */
  const sleeping = async (admin: Database<Schema>, pid: number): Promise<void> => {
    const probe = pg
      ? "SELECT count(*) AS n FROM pg_stat_activity WHERE pid = ? AND state = 'active' AND query LIKE '%pg_sleep%'"
      : "SELECT count(*) AS n FROM information_schema.processlist WHERE id = ? AND info LIKE '%SLEEP%'";
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      const [row] = await admin.executeQuery<{ n: number }>(probe, [pid]);
      if (Number(row!.n) > 0) return;
      await sleep(10);
    }
    throw new Error(`session ${pid} never started sleeping`);
  };

  describe(`pipelined statements on ${target.name}`, () => {
    /** One pipelined connection, writes pipelined too: whatever is started together shares it. */
    let db: Database<Schema>;
    /** Never pipelined: the other side of the tests. */
    let admin: Database<Schema>;
    const open = (options: Omit<DatabaseConfig, 'url' | 'schema'>) => target.open<Schema>(options);

    before(async () => {
      db = await open({ max: 3, pipeline: { connections: 1, statements: 'all' } });
      admin = await open({ max: 2, pipeline: false });
      await admin.executeQuery('CREATE TABLE items (id INT PRIMARY KEY, v VARCHAR(64) NOT NULL)', [], {
        queryType: 'ddl',
      });
    });

    after(async () => {
      await db?.close();
      await admin?.close();
      await target.dispose();
    });

    beforeEach(async () => {
      await admin.executeQuery('DELETE FROM items');
    });

    const ids = async (): Promise<number[]> =>
      (await admin.executeQuery<{ id: number }>('SELECT id FROM items ORDER BY id')).map((r) => Number(r.id));

    it('statements started together share one connection and each gets its own answer', async () => {
      const rows = await Promise.all(
        Array.from({ length: 40 }, (_, i) => db.executeQuery<{ pid: number; i: unknown }>(pidSql, [i])),
      );
      assert.deepEqual(
        rows.map((r) => Number(r[0]!.i)),
        Array.from({ length: 40 }, (_, i) => i),
      );
      assert.equal(new Set(rows.map((r) => Number(r[0]!.pid))).size, 1, 'one connection answered them all');
      const m = db.metrics();
      assert.ok(m.pipeline, 'pipeline metrics are reported');
      assert.equal(m.pipeline.inFlight, 0);
      assert.equal(m.pipeline.connections, 0, 'a drained connection goes back to the pool');
    });

    it('a constraint violation, a syntax error and a division by zero in the middle fail alone', async () => {
      await admin.executeQuery('INSERT INTO items (id, v) VALUES (1, ?)', ['taken']);
      const settled = await Promise.allSettled([
        db.executeQuery(pidSql, [1]),
        db.executeQuery('INSERT INTO items (id, v) VALUES (?, ?)', [1, 'duplicate']),
        db.executeQuery('INSERT INTO items (id, v) VALUES (?, ?)', [2, 'next to the duplicate']),
        db.executeQuery('SELECT id FROMM items WHERE id = ?', [1]),
        db.executeQuery(pidSql, [2]),
        db.executeQuery('SELECT 1 / (id - id) AS z FROM items WHERE id = ?', [1]),
        db.executeQuery('INSERT INTO items (id, v) VALUES (?, ?)', [3, 'after the errors']),
        db.executeQuery(pidSql, [3]),
      ]);
      assert.deepEqual(settled.map(codeOf), [
        'ok',
        'ERR_DB_UNIQUE_VIOLATION',
        'ok',
        'ERR_DB_QUERY',
        'ok',
        pg ? 'ERR_DB_INVALID_DATA' : 'ok',
        'ok',
        'ok',
      ]);
      const pids = [0, 4, 7].map((i) =>
        Number((settled[i] as PromiseFulfilledResult<[{ pid: number }]>).value[0].pid),
      );
      assert.equal(new Set(pids).size, 1, 'the statements shared one connection');
      assert.deepEqual(await ids(), [1, 2, 3]);
    });

    it('a statement cancelled by the server fails alone; the ones queued behind it run', async () => {
      const pid = await pidOf(db);
      const batch = Promise.allSettled([
        db.executeQuery(pidSql, [1]),
        db.executeQuery(sleepSql, [5]),
        db.executeQuery('INSERT INTO items (id, v) VALUES (?, ?)', [10, 'behind the sleep']),
        db.executeQuery(pidSql, [2]),
      ]);
      await sleeping(admin, pid);
      await admin.executeQuery(cancel(pid));
      const settled = await batch;
      // PostgreSQL: 57014 query_canceled; MariaDB: 1317 ER_QUERY_INTERRUPTED.
      assert.deepEqual(settled.map(codeOf), ['ok', pg ? 'ERR_DB_TIMEOUT' : 'ERR_DB_QUERY', 'ok', 'ok']);
      assert.deepEqual(await ids(), [10]);
      assert.equal(await pidOf(db), pid, 'the connection lives on');
    });

    it('a statement past statementTimeoutMs fails alone', async () => {
      const timed = await open({
        max: 2,
        statementTimeoutMs: 300,
        pipeline: { connections: 1, statements: 'all' },
      });
      try {
        const started = Date.now();
        const settled = await Promise.allSettled([
          timed.executeQuery(pidSql, [1]),
          timed.executeQuery(sleepSql, [3]),
          timed.executeQuery('INSERT INTO items (id, v) VALUES (?, ?)', [20, 'after the timeout']),
          timed.executeQuery(pidSql, [2]),
        ]);
        assert.deepEqual(settled.map(codeOf), ['ok', 'ERR_DB_TIMEOUT', 'ok', 'ok']);
        assert.ok(Date.now() - started < 2500, 'the timeout, not the sleep, ended it');
        assert.deepEqual(await ids(), [20]);
      } finally {
        await timed.close();
      }
    });

    it('a connection cut with statements in flight: reads are sent again, writes reject as ERR_DB_WRITE_UNKNOWN', async () => {
      const url = new URL(await target.url());
      const proxy = await startTcpProxy(url.hostname, Number(url.port || (pg ? 5432 : 3306)));
      url.port = String(proxy.port);
      const cut = await createDatabase<Schema>({
        url: url.toString(),
        ...(target.schema ? { schema: target.schema } : {}),
        max: 3,
        pipeline: { connections: 1, statements: 'all' },
      });
      try {
        for (const forward of [true, false]) {
          const base = forward ? 100 : 200;
          // Started in one turn, they leave in one socket write: the proxy cuts the connection at it.
          proxy.arm(`cut-${base}`, { forward });
          const settled = await Promise.allSettled([
            cut.executeQuery<{ i: unknown }>(pidSql, [base + 1]),
            cut.executeQuery('INSERT INTO items (id, v) VALUES (?, ?)', [base, `cut-${base}`]),
            cut.executeQuery<{ i: unknown }>(pidSql, [base + 2]),
            cut.executeQuery('UPDATE items SET v = ? WHERE id = ?', ['updated', base]),
            cut.executeQuery<{ i: unknown }>(pidSql, [base + 3]),
          ]);
          assert.deepEqual(settled.map(codeOf), [
            'ok',
            'ERR_DB_WRITE_UNKNOWN',
            'ok',
            'ERR_DB_WRITE_UNKNOWN',
            'ok',
          ]);
          const reads = [0, 2, 4].map((i) =>
            Number((settled[i] as PromiseFulfilledResult<Array<{ i: unknown }>>).value[0]!.i),
          );
          assert.deepEqual(reads, [base + 1, base + 2, base + 3], 'each read got its own answer');
          const unknown = (settled[1] as PromiseRejectedResult).reason as DatabaseError;
          assert.ok(unknown instanceof DatabaseError);
          assert.equal(unknown.transient, false, 'nothing retries it');
          assert.equal((unknown.cause as DatabaseError).code, 'ERR_DB_CONNECTION_LOST');
          // Forwarded, the server ran the writes; cut before, it never saw them. The client cannot tell.
          const deadline = Date.now() + 5000;
          let rows = await admin.executeQuery<{ v: string }>('SELECT v FROM items WHERE id = ?', [base]);
          while (forward && rows[0]?.v !== 'updated' && Date.now() < deadline) {
            await sleep(50);
            rows = await admin.executeQuery<{ v: string }>('SELECT v FROM items WHERE id = ?', [base]);
          }
          assert.deepEqual(
            rows.map((r) => r.v),
            forward ? ['updated'] : [],
          );
        }
        assert.equal(proxy.fired, 2);
        const m = cut.metrics();
        assert.equal(m.pipeline?.resent, 6);
        assert.equal(m.pipeline?.writesUnknown, 4);
        const lanes = lanePool(cut);
        assert.ok(lanes.evictedBroken + lanes.destroyed >= 2, 'the cut connections were closed');
        // And the pipeline goes on, on a new connection.
        assert.equal((await cut.executeQuery<{ i: unknown }>(pidSql, [7]))[0]!.i, pg ? '7' : 7);
      } finally {
        await cut.close();
        await proxy.close();
      }
    });

    it('a connection the server ends under a running statement: it and the reads behind it are sent again', async () => {
      const pid = await pidOf(db);
      const batch = Promise.allSettled([
        db.executeQuery(sleepSql, [0.5]),
        db.executeQuery<{ i: unknown }>(pidSql, [1]),
        db.executeQuery('INSERT INTO items (id, v) VALUES (?, ?)', [30, 'behind the sleep']),
        db.executeQuery<{ i: unknown }>(pidSql, [2]),
      ]);
      await sleeping(admin, pid);
      await admin.executeQuery(terminate(pid));
      const settled = await batch;
      assert.deepEqual(settled.map(codeOf), ['ok', 'ok', 'ERR_DB_WRITE_UNKNOWN', 'ok']);
      for (const i of [1, 3]) {
        const row = (settled[i] as PromiseFulfilledResult<Array<{ pid: number }>>).value[0]!;
        assert.notEqual(Number(row.pid), pid, 'answered by another connection');
      }
      assert.notEqual(await pidOf(db), pid);
    });

    it("a caller's write and the read started after it, without waiting, read the write", async () => {
      const wide = await open({ max: 6, pipeline: { connections: 4, statements: 'all' } });
      try {
        const pairs = await Promise.all(
          Array.from({ length: 60 }, (_, i) => {
            const write = wide.executeQuery('INSERT INTO items (id, v) VALUES (?, ?)', [1000 + i, `w${i}`]);
            const read = wide.executeQuery<{ v: string }>('SELECT v FROM items WHERE id = ?', [1000 + i]);
            return Promise.all([write, read]);
          }),
        );
        assert.deepEqual(
          pairs.map(([, rows]) => rows[0]?.v),
          Array.from({ length: 60 }, (_, i) => `w${i}`),
        );
      } finally {
        await wide.close();
      }
      // With writes on connections of their own (the default), a read awaited after its write reads it.
      const reads = await open({ max: 4 });
      try {
        for (let i = 0; i < 20; i++) {
          await reads.executeQuery('UPDATE items SET v = ? WHERE id = ?', [`again${i}`, 1000]);
          const [row] = await reads.executeQuery<{ v: string }>('SELECT v FROM items WHERE id = ?', [1000]);
          assert.equal(row?.v, `again${i}`);
        }
      } finally {
        await reads.close();
      }
    });

    it('abort: a waiting statement is never sent, a read in flight rejects at once, a write in flight completes', async () => {
      const narrow = await open({ max: 2, pipeline: { connections: 1, depth: 1, statements: 'all' } });
      try {
        const busy = narrow.executeQuery(sleepSql, [0.6]);
        await sleep(50);
        const waiting = new AbortController();
        const queued = narrow.executeQuery('INSERT INTO items (id, v) VALUES (?, ?)', [40, 'never'], {
          signal: waiting.signal,
        });
        await sleep(20);
        waiting.abort();
        await assert.rejects(queued, { code: 'ERR_ABORTED' });
        await busy;
        assert.deepEqual(await ids(), [], 'the aborted statement was never sent');

        const reading = new AbortController();
        const started = Date.now();
        const read = narrow.executeQuery(sleepSql, [0.6], { signal: reading.signal });
        setTimeout(() => reading.abort(), 50);
        await assert.rejects(read, { code: 'ERR_ABORTED' });
        assert.ok(Date.now() - started < 400, 'the read did not wait for its answer');
        // Its answer still comes, and is dropped: then the connection is free again.
        while ((narrow.metrics().pipeline?.inFlight ?? 0) > 0) await sleep(20);

        const writing = new AbortController();
        const write = narrow.executeQuery('INSERT INTO items (id, v) VALUES (?, ?)', [41, 'applied'], {
          signal: writing.signal,
        });
        writing.abort();
        await write;
        assert.deepEqual(await ids(), [41], 'a write in flight runs to its end and says so');
        assert.equal((await narrow.executeQuery<{ i: unknown }>(pidSql, [5]))[0]!.i, pg ? '5' : 5);
      } finally {
        await narrow.close();
      }
    });

    it('no room within acquireTimeoutMs: ERR_DB_POOL_EXHAUSTED, the statements in flight unharmed', async () => {
      const narrow = await open({
        max: 2,
        acquireTimeoutMs: 200,
        pipeline: { connections: 1, depth: 1 },
      });
      try {
        const busy = narrow.executeQuery(sleepSql, [0.8]);
        await sleep(50);
        const started = Date.now();
        await assert.rejects(
          narrow.executeQuery(pidSql, [1], { name: 'dashboard.stats' }),
          (error: DatabaseError) => {
            assert.equal(error.code, 'ERR_DB_POOL_EXHAUSTED');
            assert.match(error.message, /dashboard\.stats/);
            return true;
          },
        );
        const waited = Date.now() - started;
        assert.ok(waited >= 150 && waited < 700, `waited ${waited} ms`);
        await busy;
      } finally {
        await narrow.close();
      }
    });

    it('with max 1, steady reads do not starve a transaction', async () => {
      const one = await open({ max: 1, acquireTimeoutMs: 3000 });
      try {
        let stop = false;
        let reads = 0;
        const loops = Array.from({ length: 8 }, async () => {
          while (!stop) {
            await one.executeQuery(pidSql, [1]);
            reads++;
          }
        });
        await sleep(100);
        await one.transaction(async (tx) => {
          await tx.executeQuery('INSERT INTO items (id, v) VALUES (?, ?)', [50, 'in a transaction']);
        });
        const before = reads;
        await sleep(100);
        stop = true;
        await Promise.all(loops);
        assert.ok(reads > before, 'the reads went on after the transaction');
        assert.deepEqual(await ids(), [50]);
      } finally {
        await one.close();
      }
    });

    it('connections past maxLifetimeMs are replaced under load without failing a statement', async () => {
      const aging = await open({ max: 4, maxLifetimeMs: 150, lifetimeJitterMs: 0 });
      try {
        const until = Date.now() + 800;
        let done = 0;
        await Promise.all(
          Array.from({ length: 16 }, async () => {
            while (Date.now() < until) {
              await aging.executeQuery(pidSql, [1]);
              done++;
            }
          }),
        );
        const pool = lanePool(aging);
        assert.ok(done > 100, `${done} statements`);
        assert.ok(pool.created >= 4, `${pool.created} connections opened`);
        assert.ok(pool.total <= 4);
      } finally {
        await aging.close();
      }
    });

    it('Kysely: queries pipelined, transactions and connection() sessions on a connection of their own', async () => {
      const row = await db.kysely.selectFrom('items').select('id').where('id', '=', 999).executeTakeFirst();
      assert.equal(row, undefined);
      await db.kysely.transaction().execute(async (trx) => {
        await trx.insertInto('items').values({ id: 60, v: 'kysely transaction' }).execute();
      });
      assert.deepEqual(await ids(), [60]);
      // A session variable set on the connection is there for the statements after it.
      const names = await db.kysely.connection().execute(async (k) => {
        await (pg
          ? sql`SET search_path = ${sql.raw(target.schema!)}, public`
          : sql`SET @pl = 'kept'`
        ).execute(k);
        const read = pg
          ? sql<{ name: string }>`SELECT current_setting('search_path') AS name`
          : sql<{ name: string }>`SELECT @pl AS name`;
        return (await read.execute(k)).rows.map((r) => r.name);
      });
      assert.deepEqual(names, [pg ? `${target.schema}, public` : 'kept']);
    });

    it('pipeline: false gives every statement a connection of its own', async () => {
      // A static pool: the adaptive one (the default) would lend one connection until it has measured.
      const plain = await open({ max: 4, pipeline: false, adaptivePool: false });
      try {
        const rows = await Promise.all(
          Array.from({ length: 12 }, (_, i) =>
            plain.executeQuery(sleepSql.replace('?', '0.05') + ', ? AS i', [i]),
          ),
        );
        assert.equal(rows.length, 12);
        assert.equal(plain.metrics().pipeline, undefined);
        assert.equal(plain.metrics().pool.created, 4);
      } finally {
        await plain.close();
      }
    });

    it('pipeline options are checked', async () => {
      for (const pipeline of [{ connections: 0 }, { depth: 1.5 }, { statements: 'some' }, 'yes']) {
        await assert.rejects(open({ pipeline: pipeline as unknown as boolean }), {
          code: 'ERR_INVALID_ARGUMENT',
        });
      }
    });
  });
}
