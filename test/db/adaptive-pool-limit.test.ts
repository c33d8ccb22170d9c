import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AdaptivePoolLimit, adaptivePoolSettings } from '../../src/db/adaptive-pool-limit.js';
import type { ConnectionPool, Slot } from '../../src/db/connection-pool.js';
import { createDatabase } from '../../src/db/index.js';
import { FakeClock } from '../../src/testing/index.js';
import { type FakeConn, makePool } from './fake-pool.js';

const settings = (memoryMs = 1000, floorMs = 10_000) => ({ initial: undefined, memoryMs, floorMs });

/** `windows` windows of 10 holds of `holdMs` each, one every `holdMs`, with callers waiting or not. */
function feed(
  limit: AdaptivePoolLimit,
  from: number,
  windows: number,
  holdMs: number,
  waited: boolean,
): number {
  let now = from;
  for (let w = 0; w < windows; w++) {
    for (let i = 0; i < 10; i++) {
      now += holdMs;
      if (waited) limit.waited(limit.limit + 5, now);
      limit.held(holdMs, now);
    }
  }
  return now;
}

describe('AdaptivePoolLimit', () => {
  it('grows while callers wait and latency stays at its floor, up to max', () => {
    const limit = new AdaptivePoolLimit(1, 64, settings(), 0);
    assert.equal(limit.limit, 1);
    feed(limit, 0, 3, 2, true);
    assert.ok(limit.limit > 10, `grew to ${limit.limit}`);
    feed(limit, 100, 30, 2, true);
    assert.equal(limit.limit, 64);
    assert.equal(limit.floorMs(200), 2);
  });

  it('does not grow when nobody waits, however low the latency', () => {
    const limit = new AdaptivePoolLimit(2, 64, settings(), 0);
    feed(limit, 0, 20, 2, false);
    assert.equal(limit.limit, 2);
  });

  it('backs off when latency rises above its floor (statements queue in the database)', () => {
    const limit = new AdaptivePoolLimit(1, 64, { ...settings(), initial: 64 }, 0);
    let now = feed(limit, 0, 1, 2, true);
    assert.equal(limit.limit, 64);
    now = feed(limit, now, 40, 20, true);
    // 20 ms against a 2 ms floor: 90 % of the statements in flight are queued; the limit comes down
    // until about 6·log₁₀(limit) are.
    assert.ok(limit.limit <= 8, `came down to ${limit.limit}`);
    assert.ok(limit.limit >= 1);
    // Once the slow latency is all the floor window remembers, it is the new floor and waits grow it again.
    const settled = limit.limit;
    feed(limit, now + 10_000, 10, 20, true);
    assert.ok(limit.limit > settled, `grew again from ${settled} to ${limit.limit}`);
  });

  it('keeps the recent peak demand warm, and lowers the limit after a whole quiet period', () => {
    const limit = new AdaptivePoolLimit(1, 64, { ...settings(1000), initial: 32 }, 0);
    limit.demand(20, 0);
    assert.equal(limit.warm(0), 20);
    limit.demand(5, 600);
    limit.tick(900);
    assert.equal(limit.limit, 32, 'not before a whole period');
    limit.tick(1100);
    // The demand of 20 is older than the period; 5 is not.
    assert.equal(limit.limit, 5);
    assert.equal(limit.warm(1100), 5);
    limit.tick(3000);
    assert.equal(limit.limit, 1);
    assert.equal(limit.warm(3000), 0);
  });

  it('checks its options, naming the field', () => {
    assert.throws(
      () => adaptivePoolSettings({ initial: 0 }),
      /`adaptivePool.initial` must be a positive integer/,
    );
    assert.throws(() => adaptivePoolSettings({ memoryMs: -1 }), /`adaptivePool.memoryMs`/);
    assert.throws(() => adaptivePoolSettings({ floorMs: Number.NaN }), /`adaptivePool.floorMs`/);
    assert.throws(
      () => adaptivePoolSettings('on' as unknown as true),
      (e: Error & { code: string }) => e.code === 'ERR_INVALID_ARGUMENT',
    );
    assert.deepEqual(adaptivePoolSettings(true), { initial: undefined, memoryMs: 30_000, floorMs: 30_000 });
  });

  it('createDatabase rejects a malformed adaptivePool before connecting', async () => {
    await assert.rejects(
      createDatabase({ url: 'postgres://nobody@127.0.0.1:1/none', adaptivePool: { memoryMs: 0 } }),
      (e: Error & { code: string }) =>
        e.code === 'ERR_INVALID_ARGUMENT' && /adaptivePool\.memoryMs/.test(e.message),
    );
  });
});

describe('ConnectionPool with an adaptive limit', () => {
  const adaptivePool = (clock: FakeClock, max = 16) =>
    makePool(clock, {
      max,
      acquireTimeoutMs: 60_000,
      validateAfterIdleMs: 60_000,
      adaptive: settings(1000),
    });

  /** `callers` loops of `rounds` acquisitions, each held `holdMs`; resolves with the largest pool seen. */
  async function burst(
    clock: FakeClock,
    pool: ConnectionPool<FakeConn>,
    callers: number,
    rounds: number,
    holdMs: number,
  ): Promise<number> {
    let largest = 0;
    let done = 0;
    for (let c = 0; c < callers; c++) {
      void (async () => {
        for (let r = 0; r < rounds; r++) {
          const slot: Slot<FakeConn> = await pool.acquire(`caller-${c}`);
          largest = Math.max(largest, pool.size);
          await clock.sleep(holdMs);
          pool.release(slot);
        }
        done++;
      })();
    }
    while (done < callers) await clock.advance(holdMs);
    return largest;
  }

  it('starts at one connection, grows under a burst, and closes what it no longer needs', async () => {
    const clock = new FakeClock(0);
    const { pool, made } = adaptivePool(clock);
    assert.equal(pool.limit, 1);
    assert.equal(pool.lendable(), true);
    const largest = await burst(clock, pool, 40, 20, 2);
    assert.equal(largest, 16, 'grew to max');
    assert.equal(pool.stats().limit, 16);
    assert.ok(made.length <= 16, `never more than max opened (${made.length})`);
    // Kept open while the burst is remembered ...
    await clock.advance(500);
    assert.equal(pool.stats().total, 16);
    // ... then the limit comes down; idle connections above it are parked, then closed.
    await clock.advance(2000);
    assert.equal(pool.stats().limit, 1);
    assert.equal(pool.lendable(), true);
    await clock.advance(5000);
    assert.equal(pool.stats().total, 1);
    assert.equal(made.filter((c) => c.closed).length, made.length - 1);
    await pool.close();
  });

  it('keeps the remembered peak open for the next burst instead of connecting one wait at a time', async () => {
    const clock = new FakeClock(0);
    const { pool, made } = adaptivePool(clock);
    await burst(clock, pool, 40, 20, 2);
    const open = pool.stats().total;
    await clock.advance(300);
    assert.equal(pool.stats().idle, open);
    // A second burst within the memory finds them all open: nothing new is connected.
    const before = made.length;
    await burst(clock, pool, 16, 2, 2);
    assert.equal(made.length, before);
    await pool.close();
  });

  it('backs off when holds get slower, parking then closing connections above the new limit', async () => {
    const clock = new FakeClock(0);
    const { pool, made } = adaptivePool(clock, 16);
    await burst(clock, pool, 40, 20, 2);
    assert.equal(pool.limit, 16);
    // The same demand, each hold 20 times longer: the database queues what it is given.
    await burst(clock, pool, 40, 6, 40);
    const limit = pool.limit;
    assert.ok(limit <= 8, `came down to ${limit}`);
    // Connections above the limit are parked, not lent, and close after five seconds unused.
    assert.ok(pool.stats().inUse <= limit);
    await clock.advance(5100);
    assert.ok(pool.stats().total <= limit, `${pool.stats().total} open for a limit of ${limit}`);
    assert.ok(made.filter((c) => c.closed).length >= 16 - limit);
    await pool.close();
  });

  it('grows when callers wait while every connection is held by work that does not finish', async () => {
    const clock = new FakeClock(0);
    const { pool } = adaptivePool(clock, 4);
    // A transaction holds the only connection and waits for a second one (another's lock, say).
    const first = await pool.acquire('tx:outer');
    const second = pool.acquire('tx:inner');
    let got: Slot<FakeConn> | undefined;
    void second.then((s) => {
      got = s;
    });
    await clock.advance(200);
    assert.equal(got, undefined);
    assert.equal(pool.limit, 1);
    await clock.advance(400);
    assert.ok(got !== undefined, 'served once no connection came back for a tick');
    assert.equal(pool.limit, 2);
    pool.release(first);
    pool.release(got);
    await pool.close();
  });
});
