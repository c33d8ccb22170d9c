import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConnectionPool } from '../../src/db/connection-pool.js';
import type { DriverConnection } from '../../src/db/dialect-driver.js';
import { DatabaseError, DbErrorCode } from '../../src/db/errors.js';
import { PipelinedPool } from '../../src/db/pipelined-pool.js';
import type { ExecResult } from '../../src/db/types.js';
import { FakeClock, flushMicrotasks } from '../../src/testing/index.js';

/** A connection whose statements stay in flight until the test answers them. */
class FakeConnection implements DriverConnection {
  static next = 1;
  readonly id = FakeConnection.next++;
  readonly inFlight: Array<{
    sql: string;
    resolve: (r: ExecResult<unknown>) => void;
    reject: (e: unknown) => void;
  }> = [];
  broken = false;
  closed = false;
  pipelined = false;

  exec<R>(sql: string): Promise<ExecResult<R>> {
    return new Promise<ExecResult<R>>((resolve, reject) => {
      this.inFlight.push({ sql, resolve: resolve as (r: ExecResult<unknown>) => void, reject });
    });
  }

  setPipelined(on: boolean): void {
    this.pipelined = on;
  }

  /** Answers the oldest statement in flight, in order, as the server would. */
  answer(): string {
    const s = this.inFlight.shift()!;
    s.resolve({ rows: [{ on: this.id, sql: s.sql }], affectedRows: 0 });
    return s.sql;
  }

  /** The socket dies: every statement in flight fails. */
  die(): void {
    this.broken = true;
    for (const s of this.inFlight.splice(0)) s.reject(new Error('Connection terminated unexpectedly'));
  }

  async ping(): Promise<void> {}
  async close(): Promise<void> {
    this.closed = true;
  }
}

function setup(options: { connections?: number; depth?: number; max?: number; maxLifetimeMs?: number } = {}) {
  const clock = new FakeClock();
  const made: FakeConnection[] = [];
  const pool = new ConnectionPool<DriverConnection>(
    {
      create: async () => {
        const c = new FakeConnection();
        made.push(c);
        return c;
      },
    },
    {
      min: 0,
      max: options.max ?? 5,
      acquireTimeoutMs: 1000,
      idleTimeoutMs: 60_000,
      maxLifetimeMs: options.maxLifetimeMs ?? 3_600_000,
      lifetimeJitterMs: 0,
      validateAfterIdleMs: 60_000,
      clock,
    },
  );
  const pipeline = new PipelinedPool(pool, {
    dialect: 'postgres',
    connections: options.connections ?? 2,
    depth: options.depth ?? 2,
    writes: true,
    ownsPool: false,
    poolMax: options.max ?? 5,
    acquireTimeoutMs: 1000,
    clock,
    run: <R>(conn: DriverConnection, query: { sql: string }, name: string) =>
      conn.exec<R>(query.sql, [], name).catch((error: unknown) => {
        throw new DatabaseError(DbErrorCode.ConnectionLost, (error as Error).message, { cause: error });
      }),
  });
  const read = (sql: string) =>
    pipeline.submit<{ on: number }>({ sql, parameters: [] }, sql, true, undefined);
  const write = (sql: string) =>
    pipeline.submit<{ on: number }>({ sql, parameters: [] }, sql, false, undefined);
  return { clock, pool, pipeline, made, read, write };
}

/** Lets every promise job run (connections open in a few hops). */
const settle = async (): Promise<void> => {
  for (let i = 0; i < 3; i++) {
    await flushMicrotasks();
    await new Promise((r) => setImmediate(r));
  }
};

describe('PipelinedPool', () => {
  it('spreads statements over up to `connections` connections, at most `depth` each; the rest wait in order', async () => {
    const { pipeline, made, read } = setup({ connections: 2, depth: 2 });
    const answers = ['a', 'b', 'c', 'd', 'e', 'f'].map((sql) => read(sql));
    await settle();
    // No connection was open: the statements waited, then filled each new connection in order.
    assert.equal(made.length, 2);
    assert.deepEqual(
      made.map((c) => c.inFlight.map((s) => s.sql)),
      [
        ['a', 'b'],
        ['c', 'd'],
      ],
    );
    assert.equal(pipeline.stats().waiting, 2);
    assert.ok(made.every((c) => c.pipelined));
    // Room on the first connection: the oldest waiting statement takes it.
    made[0]!.answer();
    await settle();
    assert.deepEqual(
      made[0]!.inFlight.map((s) => s.sql),
      ['b', 'e'],
    );
    // With both connections held and room on them, a new statement goes to the one with fewer in flight.
    made[1]!.answer();
    made[1]!.answer();
    await settle();
    assert.deepEqual(
      made[1]!.inFlight.map((s) => s.sql),
      ['f'],
    );
    const g = read('g');
    await settle();
    assert.deepEqual(
      made[1]!.inFlight.map((s) => s.sql),
      ['f', 'g'],
    );
    answers.push(g);
    while (made.some((c) => c.inFlight.length > 0)) {
      for (const c of made) if (c.inFlight.length > 0) c.answer();
      await settle();
    }
    const rows = await Promise.all(answers);
    assert.deepEqual(
      rows.map((r) => (r.rows[0] as unknown as { sql: string }).sql),
      ['a', 'b', 'c', 'd', 'e', 'f', 'g'],
    );
    // Drained connections went back to the pool, out of pipelined mode.
    assert.equal(pipeline.stats().connections, 0);
    assert.ok(made.every((c) => !c.pipelined));
  });

  it('a statement started after a write in the same synchronous run follows it onto its connection', async () => {
    const { made, read, write } = setup({ connections: 2, depth: 8 });
    const busy = read('before');
    await settle();
    const w = write('write');
    const r = read('read after the write');
    await settle();
    const withWrite = made.find((c) => c.inFlight.some((s) => s.sql === 'write'))!;
    assert.deepEqual(withWrite.inFlight.map((s) => s.sql).slice(-2), ['write', 'read after the write']);
    for (const c of made) while (c.inFlight.length > 0) c.answer();
    await Promise.all([busy, w, r]);
  });

  it('a broken connection: reads go again elsewhere, writes reject ERR_DB_WRITE_UNKNOWN, waiting statements still run', async () => {
    const { pipeline, pool, made, read, write } = setup({ connections: 1, depth: 2 });
    const r1 = read('r1');
    const w1 = write('w1');
    const waiting = write('w2 waiting for room');
    w1.catch(() => {});
    await settle();
    assert.equal(made.length, 1);
    assert.equal(pipeline.stats().waiting, 1);
    made[0]!.die();
    await settle();
    await assert.rejects(w1, (error: DatabaseError) => {
      assert.equal(error.code, 'ERR_DB_WRITE_UNKNOWN');
      assert.equal(error.transient, false);
      assert.equal((error.cause as DatabaseError).code, 'ERR_DB_CONNECTION_LOST');
      return true;
    });
    // A new connection took the read sent again and the write that had only been waiting.
    assert.equal(made.length, 2);
    assert.deepEqual(made[1]!.inFlight.map((s) => s.sql).sort(), ['r1', 'w2 waiting for room']);
    while (made[1]!.inFlight.length > 0) made[1]!.answer();
    assert.equal((await r1).rows[0]!.on, made[1]!.id);
    assert.equal((await waiting).rows[0]!.on, made[1]!.id);
    assert.deepEqual(pipeline.stats(), {
      connections: 0,
      inFlight: 0,
      waiting: 0,
      sent: 4, // r1 and w1, then r1 again and w2
      resent: 1,
      writesUnknown: 1,
    });
    assert.ok(made[0]!.closed, 'the broken connection was closed');
    assert.equal(pool.stats().evictedBroken, 1);
  });

  it('a connection past its lifetime takes no new statements and is closed once drained', async () => {
    const { clock, made, read } = setup({ connections: 1, depth: 4, maxLifetimeMs: 1000 });
    const first = read('old');
    await settle();
    await clock.advance(1500);
    const second = read('new');
    await settle();
    assert.equal(made.length, 2);
    assert.deepEqual(
      made[1]!.inFlight.map((s) => s.sql),
      ['new'],
    );
    made[0]!.answer();
    made[1]!.answer();
    await Promise.all([first, second]);
    await settle();
    assert.ok(made[0]!.closed);
    assert.ok(!made[1]!.closed);
  });

  it('no room within acquireTimeoutMs: ERR_DB_POOL_EXHAUSTED; an aborted waiting statement is never sent', async () => {
    const { clock, pipeline, made, read } = setup({ connections: 1, depth: 1 });
    const busy = read('busy');
    await settle();
    const controller = new AbortController();
    const aborted = pipeline.submit({ sql: 'aborted', parameters: [] }, 'aborted', true, controller.signal);
    const late = read('late');
    late.catch(() => {});
    controller.abort();
    await assert.rejects(aborted, { code: 'ERR_ABORTED' });
    await clock.advance(1001);
    await assert.rejects(late, (error: DatabaseError) => {
      assert.equal(error.code, 'ERR_DB_POOL_EXHAUSTED');
      assert.match(error.message, /No room for "late" within 1000 ms/);
      return true;
    });
    made[0]!.answer();
    await busy;
    assert.deepEqual(
      made.flatMap((c) => c.inFlight.map((s) => s.sql)),
      [],
    );
  });
});
