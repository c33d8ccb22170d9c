import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AdaptivePoolLimit, adaptivePoolSettings } from '../../src/db/adaptive-pool-limit.js';
import type { ConnectionPool, Slot } from '../../src/db/connection-pool.js';
import { createDatabase } from '../../src/db/index.js';
import { FakeClock } from '../../src/testing/index.js';
import { type FakeConn, makePool } from './fake-pool.js';

const settings = (memoryMs = 1000) => ({ initial: undefined, memoryMs });

/**
 * Saturated use of a database that runs `cores` statements at once, each for `serviceMs`: with L
 * connections lent, each hold takes serviceMs × max(1, L / cores), so throughput rises with L up to
 * `cores` and stays flat after. Feeds `ms` of releases (callers waiting, unless `waited` is false) and
 * returns the time reached and every limit seen.
 */
function saturate(
  limit: AdaptivePoolLimit,
  from: number,
  ms: number,
  db: { serviceMs: number; cores: number },
  waited = true,
): { now: number; seen: number[] } {
  let now = from;
  const seen: number[] = [];
  while (now < from + ms) {
    const lent = limit.limit;
    const hold = db.serviceMs * Math.max(1, lent / db.cores);
    // Every connection busy, each given back once per hold: one release every hold / lent.
    for (let i = 0; i < lent; i++) {
      now += hold / lent;
      if (waited) limit.waited(lent + 5, now);
      limit.held(hold, now, lent);
    }
    seen.push(limit.limit);
  }
  return { now, seen };
}

describe('AdaptivePoolLimit', () => {
  it('grows while more connections bring more throughput, up to max', () => {
    const limit = new AdaptivePoolLimit(1, 64, settings(), 0);
    assert.equal(limit.limit, 1);
    // Statements that wait on something other than the database's CPU (I/O, a sleep): no saturation.
    const { seen } = saturate(limit, 0, 2_000, { serviceMs: 2, cores: Number.POSITIVE_INFINITY });
    assert.equal(limit.limit, 64);
    // Doubling while doubling pays: 1, 2, 4, 8, 16, 32, 64.
    assert.deepEqual([...new Set(seen)].slice(0, 7), [1, 2, 4, 8, 16, 32, 64]);
  });

  it('settles at the size where throughput stops rising, and keeps trying either side', () => {
    const limit = new AdaptivePoolLimit(1, 64, settings(), 0);
    const cores = 8;
    const { now } = saturate(limit, 0, 1_000, { serviceMs: 2, cores });
    const { seen } = saturate(limit, now, 5_000, { serviceMs: 2, cores });
    // At 8 the database is saturated: 16 gains nothing and 6 loses a quarter, so both probes are undone.
    assert.deepEqual(
      [...new Set(seen)].sort((a, b) => a - b),
      [6, 8, 16],
    );
    assert.ok(seen.includes(8));
    // Not one probe sticks: the limit is back at 8 after each.
    assert.equal(seen.filter((l) => l === 8).length > seen.length / 2, true);
  });

  it('does not grow when nobody waits, however fast the database', () => {
    const limit = new AdaptivePoolLimit(2, 64, settings(), 0);
    saturate(limit, 0, 2_000, { serviceMs: 2, cores: Number.POSITIVE_INFINITY }, false);
    assert.equal(limit.limit, 2);
  });

  it("backs off to the database's capacity from above, and climbs again when it gets more", () => {
    const limit = new AdaptivePoolLimit(1, 64, { ...settings(), initial: 64 }, 0);
    // Four statements at a time: each connection beyond four only lengthens every hold.
    const { now } = saturate(limit, 0, 8_000, { serviceMs: 2, cores: 4 });
    assert.ok(limit.limit >= 3 && limit.limit <= 5, `came down to ${limit.limit}`);
    // The database now runs 32 at once: upward probes pay again.
    saturate(limit, now, 4_000, { serviceMs: 2, cores: 32 });
    assert.ok(limit.limit >= 24, `grew again to ${limit.limit}`);
  });

  it('a probe whose starting level is too old to compare with goes on from where it is', () => {
    const limit = new AdaptivePoolLimit(1, 64, settings(60_000), 0);
    // One window at 1 (16 holds of 2 ms) measures it and starts the probe to 2; then the burst ends.
    const { now } = saturate(limit, 0, 32, { serviceMs: 2, cores: 1 });
    assert.equal(limit.limit, 2);
    // 10 s later, on a database that runs one statement at a time (2 gains nothing over 1): the window
    // lent under the old limit is skipped, the next measures 2 and, with nothing recent to compare it
    // with (the workload may have changed), keeps it and probes on to 4 instead of undoing it.
    saturate(limit, now + 10_000, 64, { serviceMs: 2, cores: 1 });
    assert.equal(limit.limit, 4);
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
    assert.throws(
      () => adaptivePoolSettings('on' as unknown as true),
      (e: Error & { code: string }) => e.code === 'ERR_INVALID_ARGUMENT',
    );
    assert.deepEqual(adaptivePoolSettings(true), { initial: undefined, memoryMs: 30_000 });
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

  /**
   * `callers` loops of `rounds` acquisitions, each held `holdMs` (or `holdMs(connections in use)`);
   * resolves with the largest pool seen.
   */
  async function burst(
    clock: FakeClock,
    pool: ConnectionPool<FakeConn>,
    callers: number,
    rounds: number,
    holdMs: number | ((inUse: number) => number),
  ): Promise<number> {
    const hold = typeof holdMs === 'number' ? () => holdMs : holdMs;
    let largest = 0;
    let done = 0;
    for (let c = 0; c < callers; c++) {
      void (async () => {
        for (let r = 0; r < rounds; r++) {
          const slot: Slot<FakeConn> = await pool.acquire(`caller-${c}`);
          largest = Math.max(largest, pool.size);
          await clock.sleep(hold(pool.stats().inUse));
          pool.release(slot);
        }
        done++;
      })();
    }
    while (done < callers) await clock.advance(1);
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

  it('backs off when more connections only lengthen every hold, parking then closing those above the new limit', async () => {
    const clock = new FakeClock(0);
    const { pool, made } = adaptivePool(clock, 16);
    await burst(clock, pool, 40, 20, 2);
    assert.equal(pool.limit, 16);
    // The same demand on a database that now runs 3 statements at a time: each connection lent beyond
    // 3 only makes every hold longer, so smaller sizes deliver as much.
    await burst(clock, pool, 40, 60, (inUse) => 4 * Math.max(1, inUse / 3));
    const limit = pool.limit;
    assert.ok(limit <= 6, `came down to ${limit}`);
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

  it('ten long transactions get their ten connections within a second: the limit doubles per stalled tick', async () => {
    const clock = new FakeClock(0);
    const { pool } = adaptivePool(clock, 10);
    const held: Slot<FakeConn>[] = [];
    for (let i = 0; i < 10; i++) void pool.acquire(`tx:${i}`).then((s) => held.push(s));
    await clock.advance(0);
    assert.equal(held.length, 1);
    // No connection comes back: 1, 2, 4, 8, then max (10), one step per 250 ms tick.
    await clock.advance(1_000);
    assert.equal(held.length, 10);
    assert.equal(pool.limit, 10);
    for (const slot of held) pool.release(slot);
    await pool.close();
  });
});
