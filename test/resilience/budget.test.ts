import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AbortedError, isOpusError } from '../../src/core/index.js';
import {
  Budget,
  backoffDelay,
  parseDuration,
  parseRetryAfter,
  QuotaExhaustedError,
  RateLimitedError,
  RateLimiter,
  RetryBudget,
} from '../../src/resilience/index.js';
import { FakeClock } from '../../src/testing/index.js';

/** Largest number of grants inside any half-open span [t, t + windowMs). */
function maxInWindow(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < sorted.length; hi++) {
    while (sorted[hi]! - sorted[lo]! >= windowMs) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

describe('RateLimiter on a fake clock', () => {
  it('200 calls against 60 per minute: no minute ever holds more than 60, served FIFO', async () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 1));
    const limiter = new RateLimiter(60, 1000, { clock });
    const grants: number[] = [];
    const order: number[] = [];
    const calls = Array.from({ length: 200 }, (_, i) =>
      limiter.acquire().then(() => {
        grants.push(clock.now());
        order.push(i);
      }),
    );
    while (grants.length < 200) await clock.advance(1000);
    await Promise.all(calls);
    assert.equal(maxInWindow(grants, 60_000), 60);
    assert.deepEqual(
      order,
      Array.from({ length: 200 }, (_, i) => i),
    );
    // 200 calls at 60/min need at least three full windows after the first burst.
    assert.ok(grants.at(-1)! - grants[0]! >= 180_000);
  });

  it('the hourly window also holds', async () => {
    const clock = new FakeClock(0);
    const limiter = new RateLimiter(10, 15, { clock });
    const grants: number[] = [];
    for (let i = 0; i < 20; i++) void limiter.acquire().then(() => grants.push(clock.now()));
    await clock.advance(59 * 60_000);
    assert.equal(grants.length, 15);
    await clock.advance(2 * 60_000);
    assert.equal(grants.length, 20);
  });
});

describe('Budget', () => {
  const windows = [
    { name: 'requests', limit: 10, windowMs: 60_000 },
    { name: 'tokens', limit: 1000, windowMs: 60_000 },
  ];

  it('reserves weighted costs, refunds and commits actual costs', async () => {
    const clock = new FakeClock(0);
    const budget = new Budget({ name: 'openai', windows, clock });
    const a = await budget.reserve({ requests: 1, tokens: 800 });
    // 300 more tokens would not fit before the deadline: refused at once, nothing consumed.
    await assert.rejects(
      budget.reserve({ requests: 1, tokens: 300 }, { deadline: clock.now() + 1000 }),
      (e) => {
        assert.ok(e instanceof RateLimitedError);
        assert.equal(e.retryAt, 60_000);
        return true;
      },
    );
    let usage = await budget.usage();
    assert.deepEqual(
      usage.map((u) => u.used),
      [1, 800],
    );
    await a.commit({ requests: 1, tokens: 200 });
    usage = await budget.usage();
    assert.deepEqual(
      usage.map((u) => u.used),
      [1, 200],
    );
    const b = await budget.reserve({ requests: 1, tokens: 700 });
    await b.refund();
    usage = await budget.usage();
    assert.deepEqual(
      usage.map((u) => u.used),
      [1, 200],
    );
    await clock.advance(60_000);
    usage = await budget.usage();
    assert.deepEqual(
      usage.map((u) => u.used),
      [0, 0],
    );
  });

  it('a cost larger than the whole window can never fit', async () => {
    const budget = new Budget({ name: 'x', windows, clock: new FakeClock(0) });
    await assert.rejects(
      budget.reserve({ tokens: 5000 }),
      (e) => e instanceof QuotaExhaustedError && e.transient === false && e.retryAt === undefined,
    );
  });

  it('a waiter still queued when the budget closes is refused with the permanent ERR_CLOSED', async () => {
    const clock = new FakeClock(0);
    const budget = new Budget({ name: 'x', windows: [{ name: 'units', limit: 1, windowMs: 1000 }], clock });
    await budget.reserve(1);
    const waiting = budget.reserve(1);
    await budget.close();
    await assert.rejects(waiting, (e) => isOpusError(e, 'ERR_CLOSED') && e.transient === false);
  });

  it('waits in FIFO order, a big request is not overtaken by small ones', async () => {
    const clock = new FakeClock(0);
    const budget = new Budget({ name: 'x', windows: [{ name: 'units', limit: 10, windowMs: 1000 }], clock });
    await budget.reserve(8);
    const served: string[] = [];
    const big = budget.reserve(9).then(() => served.push('big'));
    const small = budget.reserve(1).then(() => served.push('small'));
    await clock.advance(10);
    assert.deepEqual(served, []);
    await clock.advance(1000);
    await Promise.all([big, small]);
    assert.deepEqual(served, ['big', 'small']);
  });

  it('an aborted waiter leaves the queue and consumes nothing', async () => {
    const clock = new FakeClock(0);
    const budget = new Budget({ name: 'x', windows: [{ name: 'units', limit: 1, windowMs: 1000 }], clock });
    await budget.reserve(1);
    const controller = new AbortController();
    const waiting = budget.reserve(1, { signal: controller.signal });
    controller.abort();
    await assert.rejects(waiting, AbortedError);
    assert.equal(budget.queued, 0);
    await clock.advance(1000);
    assert.equal((await budget.usage())[0]!.used, 0);
  });

  it('a concurrency window is released by commit', async () => {
    const clock = new FakeClock(0);
    const budget = new Budget({
      name: 'el',
      windows: [{ name: 'concurrent', kind: 'concurrent', limit: 2 }],
      clock,
    });
    const a = await budget.reserve(1);
    await budget.reserve(1);
    let third = false;
    const pending = budget.reserve(1).then(() => {
      third = true;
    });
    await clock.advance(5);
    assert.equal(third, false);
    await a.commit();
    await clock.advance(1);
    await pending;
    assert.equal(third, true);
  });

  it('pause stops every caller until the given time', async () => {
    const clock = new FakeClock(0);
    const budget = new Budget({ name: 'x', windows, clock });
    await budget.pause(5000);
    await assert.rejects(
      budget.reserve(1, { deadline: 1000 }),
      (e) => e instanceof RateLimitedError && e.retryAt === 5000,
    );
    let granted = -1;
    void budget.reserve(1).then(() => {
      granted = clock.now();
    });
    await clock.advance(6000);
    assert.equal(granted, 5000);
  });

  it('corrects its count from a provider remaining header', async () => {
    const clock = new FakeClock(0);
    const budget = new Budget({ name: 'x', windows, clock });
    await budget.reserve({ requests: 1, tokens: 10 });
    await budget.correct('requests', 2, 6000);
    assert.equal((await budget.usage())[0]!.remaining, 2);
    await clock.advance(6000);
    assert.equal((await budget.usage())[0]!.remaining, 9);
  });
});

describe('backoff and header parsing', () => {
  it('backoff is bounded and grows', () => {
    const opts = { initialDelayMs: 100, maxDelayMs: 1000 };
    assert.equal(
      backoffDelay(0, opts, () => 1),
      100,
    );
    assert.equal(
      backoffDelay(3, opts, () => 1),
      800,
    );
    assert.equal(
      backoffDelay(10, opts, () => 1),
      1000,
    );
    assert.equal(
      backoffDelay(10, opts, () => 0),
      0,
    );
  });

  it('reads Retry-After as seconds, HTTP date and retry-after-ms', () => {
    const now = Date.UTC(2026, 0, 1, 12);
    assert.equal(parseRetryAfter({ 'retry-after': '7' }, now), 7000);
    assert.equal(parseRetryAfter({ 'retry-after': new Date(now + 30_000).toUTCString() }, now), 30_000);
    assert.equal(parseRetryAfter({ 'retry-after-ms': '250', 'retry-after': '9' }, now), 250);
    assert.equal(parseRetryAfter({ 'retry-after': 'soon' }, now), undefined);
    assert.equal(parseRetryAfter({}, now), undefined);
  });

  it('reads OpenAI reset durations', () => {
    assert.equal(parseDuration('6m0s'), 360_000);
    assert.equal(parseDuration('1s'), 1000);
    assert.equal(parseDuration('12ms'), 12);
    assert.equal(parseDuration('1h2m3.5s'), 3_723_500);
    assert.equal(parseDuration('2'), 2000);
    assert.equal(parseDuration('abc'), undefined);
  });

  it('the retry budget caps retries to a fraction of traffic', () => {
    const clock = new FakeClock(0);
    const budget = new RetryBudget({ ratio: 0.1, minRetries: 2, windowMs: 10_000, clock });
    for (let i = 0; i < 100; i++) budget.recordCall();
    let allowed = 0;
    for (let i = 0; i < 50; i++) if (budget.tryRetry()) allowed++;
    assert.equal(allowed, 12);
  });
});
