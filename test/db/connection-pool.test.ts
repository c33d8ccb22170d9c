import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../../src/testing/index.js';
import { makePool } from './fake-pool.js';

describe('ConnectionPool', () => {
  it('names the holders in the exhaustion error', async () => {
    const clock = new FakeClock(0);
    const { pool } = makePool(clock);
    await pool.acquire('tx:import-batch');
    await clock.advance(300);
    await pool.acquire('tx:import-batch');
    const waiting = pool.acquire('store.getVideoById');
    const rejected = assert.rejects(
      waiting,
      (error: Error & { code: string; details: Record<string, unknown> }) => {
        assert.equal(error.code, 'ERR_DB_POOL_EXHAUSTED');
        assert.match(error.message, /tx:import-batch ×2 \(longest 1300 ms\)/);
        assert.match(error.message, /store\.getVideoById/);
        return true;
      },
    );
    await clock.advance(1000);
    await rejected;
    await pool.destroyAll();
  });

  it('each waiter gives up at its own deadline, and one served in time never does', async () => {
    const clock = new FakeClock(0);
    const { pool } = makePool(clock, { max: 1 });
    const held = await pool.acquire('holder');
    const outcome = new Map<string, string>();
    const track = (name: string, p: Promise<unknown>): void => {
      p.then(
        () => outcome.set(name, 'served'),
        (e: { code?: string }) => outcome.set(name, e.code ?? 'error'),
      );
    };
    track('first', pool.acquire('first'));
    await clock.advance(600);
    track('second', pool.acquire('second'));
    track('third', pool.acquire('third'));
    await clock.advance(400);
    assert.deepEqual([...outcome], [['first', 'ERR_DB_POOL_EXHAUSTED']]);
    // The second is served before its deadline (t=1600); the third then waits behind it.
    pool.release(held);
    await clock.advance(0);
    assert.equal(outcome.get('second'), 'served');
    await clock.advance(599);
    assert.equal(outcome.has('third'), false);
    await clock.advance(1);
    assert.equal(outcome.get('third'), 'ERR_DB_POOL_EXHAUSTED');
    assert.equal(pool.stats().waiting, 0);
    await pool.destroyAll();
  });

  it('hands released connections to waiters in FIFO order', async () => {
    const clock = new FakeClock(0);
    const { pool } = makePool(clock, { max: 1 });
    const first = await pool.acquire('a');
    const order: string[] = [];
    const w1 = pool.acquire('b').then((s) => {
      order.push('b');
      return s;
    });
    const w2 = pool.acquire('c').then((s) => {
      order.push('c');
      return s;
    });
    pool.release(first);
    pool.release(await w1);
    pool.release(await w2);
    assert.deepEqual(order, ['b', 'c']);
    await pool.destroyAll();
  });

  it('pings a connection idle past the threshold and replaces it when the ping fails', async () => {
    const clock = new FakeClock(0);
    const { pool, made } = makePool(clock, { max: 1 });
    const slot = await pool.acquire('a');
    pool.release(slot);
    made[0]!.failPing = true;
    await clock.advance(6000);
    assert.equal(pool.tryAcquire('fast'), undefined, 'stale connection is not handed out synchronously');
    const again = await pool.acquire('b');
    assert.equal(made[0]!.pings, 1);
    assert.equal(made[0]!.closed, true);
    assert.notEqual(again.conn, made[0]);
    assert.equal(pool.stats().evictedBroken, 1);
    await pool.destroyAll();
  });

  it('evicts a connection that broke while idle', async () => {
    const clock = new FakeClock(0);
    const { pool, made } = makePool(clock, { max: 1 });
    pool.release(await pool.acquire('a'));
    made[0]!.broken = true;
    const next = await pool.acquire('b');
    assert.notEqual(next.conn, made[0]);
    assert.equal(made[0]!.closed, true);
    await pool.destroyAll();
  });

  it('retires connections at their max lifetime', async () => {
    const clock = new FakeClock(0);
    const { pool, made } = makePool(clock, { maxLifetimeMs: 10_000, idleTimeoutMs: 1_000_000 });
    const slot = await pool.acquire('a');
    await clock.advance(10_001);
    pool.release(slot);
    assert.equal(made[0]!.closed, true);
    assert.equal(pool.stats().total, 0);
    await pool.destroyAll();
  });

  it('closes idle connections above min after the idle timeout, keeping min', async () => {
    const clock = new FakeClock(0);
    const { pool, made } = makePool(clock, { min: 1, max: 3, idleTimeoutMs: 2000 });
    const a = await pool.acquire('a');
    const b = await pool.acquire('b');
    pool.release(a);
    pool.release(b);
    assert.equal(pool.stats().idle, 2);
    await clock.advance(5000);
    assert.equal(pool.stats().idle, 1);
    assert.equal(made.filter((c) => c.closed).length, 1);
    await pool.destroyAll();
  });

  it('rejects an aborted waiter without taking a connection', async () => {
    const clock = new FakeClock(0);
    const { pool } = makePool(clock, { max: 1 });
    const held = await pool.acquire('a');
    const controller = new AbortController();
    const waiting = pool.acquire('b', controller.signal);
    controller.abort();
    await assert.rejects(waiting, { code: 'ERR_ABORTED' });
    assert.equal(pool.stats().waiting, 0);
    pool.release(held);
    assert.equal(pool.stats().idle, 1);
    await pool.destroyAll();
  });
});
