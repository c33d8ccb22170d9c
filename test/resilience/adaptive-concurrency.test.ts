import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AdaptiveConcurrency,
  type AdaptiveConcurrencyOptions,
  gradientStep,
} from '../../src/resilience/index.js';
import { FakeClock } from '../../src/testing/index.js';

/**
 * A dependency that serves `capacity` calls at once in `baseMs`; more calls at once share it, so each
 * takes longer in proportion (as a server whose CPUs are all busy). Its capacity can change mid-run.
 */
interface Dependency {
  capacity: number;
  baseMs: number;
  running: number;
  answered: number;
  /** When set, each call takes this much longer (ms) for a uniform draw in (0, 1) from a seeded sequence. */
  spread?: (uniform: number) => number;
  /** When set, a call started while more than this many run is refused (a 429). */
  refuseAbove?: number;
  refused: number;
}

/** `callers` loop on the limit and the dependency; returns a function that advances `ms` and samples. */
function closedLoop(clock: FakeClock, limit: AdaptiveConcurrency, dep: Dependency, callers: number) {
  let stop = false;
  let peakRunning = 0;
  let seed = 1;
  const jitter = (): number => {
    if (dep.spread === undefined) return 0;
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return dep.spread((seed + 1) / (2 ** 31 + 1));
  };
  const loop = async (): Promise<void> => {
    while (!stop) {
      const permit = await limit.acquire();
      dep.running++;
      peakRunning = Math.max(peakRunning, dep.running);
      const refused = dep.refuseAbove !== undefined && dep.running > dep.refuseAbove;
      const latency = (dep.baseMs + jitter()) * Math.max(1, dep.running / dep.capacity);
      await clock.sleep(refused ? 1 : latency);
      dep.running--;
      if (refused) {
        dep.refused++;
        permit.dropped();
        await clock.sleep(dep.baseMs); // the caller's retry delay
      } else {
        dep.answered++;
        permit.success(latency);
      }
    }
  };
  for (let i = 0; i < callers; i++) void loop();
  return {
    /** Runs `ms` of simulated time; returns the limits seen at each whole second. */
    async run(ms: number): Promise<number[]> {
      const limits: number[] = [];
      for (let t = 10; t <= ms; t += 10) {
        await clock.advance(10);
        if (t % 1000 === 0) limits.push(limit.limit);
      }
      return limits;
    },
    peak: () => peakRunning,
    resetPeak: () => {
      peakRunning = 0;
    },
    stop: async () => {
      stop = true;
      await clock.advance(1_000);
    },
  };
}

function setup(capacity: number, options: AdaptiveConcurrencyOptions = {}) {
  const clock = new FakeClock(0);
  const limit = new AdaptiveConcurrency({ clock, algorithm: 'vegas', ...options });
  const dep: Dependency = { capacity, baseMs: 20, running: 0, answered: 0, refused: 0 };
  return { clock, limit, dep };
}

describe('AdaptiveConcurrency (Vegas, with a periodic probe of the no-load latency)', () => {
  it('settles a little above what the dependency serves at once, whatever the starting guess and the callers', async () => {
    for (const [capacity, callers, initialLimit] of [
      [10, 64, 20],
      [40, 200, 5],
      [10, 200, 100],
    ] as const) {
      const { clock, limit, dep } = setup(capacity, { initialLimit });
      const sim = closedLoop(clock, limit, dep, callers);
      await sim.run(8_000);
      dep.answered = 0;
      const limits = await sim.run(5_000);
      await sim.stop();
      const label = `capacity ${capacity}, ${callers} callers, from ${initialLimit}`;
      for (const l of limits) {
        assert.ok(l >= capacity && l <= capacity * 1.6 + 10, `${label}: limit ${l} (${limits.join(' ')})`);
      }
      // The dependency is kept busy: throughput within 5 % of what it can serve.
      const ideal = (capacity * 1000) / dep.baseMs;
      assert.ok(dep.answered / 5 >= ideal * 0.95, `${label}: ${dep.answered / 5}/s of ${ideal}/s`);
    }
  });

  it('follows a dependency whose capacity falls and comes back', async () => {
    const { clock, limit, dep } = setup(40, { probeIntervalMs: 5_000 });
    const sim = closedLoop(clock, limit, dep, 128);
    await sim.run(8_000);
    const before = limit.limit;
    dep.capacity = 10;
    await sim.run(8_000);
    const slow = limit.limit;
    dep.capacity = 40;
    await sim.run(8_000);
    const after = limit.limit;
    await sim.stop();
    assert.ok(before >= 40 && before <= 74, `at capacity 40: ${before}`);
    assert.ok(slow >= 10 && slow <= 26, `at capacity 10: ${slow}`);
    assert.ok(after >= 40 && after <= 74, `back at 40: ${after}`);
  });

  it('a dependency that became slower for good is measured afresh at the next probe', async () => {
    const { clock, limit, dep } = setup(20, { probeIntervalMs: 5_000 });
    const sim = closedLoop(clock, limit, dep, 64);
    await sim.run(6_000);
    assert.equal(limit.stats().noLoadLatencyMs, 20);
    dep.baseMs = 50; // every call slower, the capacity unchanged
    await sim.run(12_000);
    const { noLoadLatencyMs } = limit.stats();
    const settled = limit.limit;
    await sim.stop();
    assert.equal(noLoadLatencyMs, 50);
    assert.ok(settled >= 20 && settled <= 42, `the limit did not collapse: ${settled}`);
  });

  it('refusals for load (429) shrink the limit to what the dependency accepts', async () => {
    const { clock, limit, dep } = setup(1_000, { initialLimit: 100 });
    dep.refuseAbove = 30; // a rate limiter in front of a fast dependency: latency never rises
    const sim = closedLoop(clock, limit, dep, 200);
    await sim.run(5_000);
    dep.refused = 0;
    dep.answered = 0;
    const limits = await sim.run(5_000);
    await sim.stop();
    for (const l of limits) assert.ok(l <= 45, `limit ${l} (${limits.join(' ')})`);
    // What the rate limiter lets through (30 at once, 20 ms each), mostly used.
    assert.ok(dep.answered / 5 >= 1500 * 0.7, `${dep.answered / 5}/s answered, ${dep.refused / 5}/s refused`);
  });

  it('does not grow while fewer than half the permits are in use', async () => {
    const { clock, limit, dep } = setup(1_000, { initialLimit: 20 });
    const sim = closedLoop(clock, limit, dep, 5);
    await sim.run(10_000);
    await sim.stop();
    assert.equal(limit.limit, 20);
    assert.ok(sim.peak() <= 5);
  });

  it('never lets more than the limit run; waiting callers go in order', async () => {
    const clock = new FakeClock(0);
    const limit = new AdaptiveConcurrency({ clock, initialLimit: 2 });
    const a = await limit.acquire();
    const b = await limit.acquire();
    const order: string[] = [];
    const c = limit.acquire().then((p) => {
      order.push('c');
      return p;
    });
    const d = limit.acquire().then((p) => {
      order.push('d');
      return p;
    });
    await clock.advance(0);
    assert.deepEqual(limit.stats().waiting, 2);
    a.ignore();
    a.ignore(); // twice is once
    await clock.advance(0);
    assert.deepEqual(order, ['c']);
    assert.equal(limit.stats().inFlight, 2);
    b.success(5);
    (await c).ignore();
    (await d).ignore();
    assert.deepEqual(order, ['c', 'd']);
    assert.equal(limit.stats().inFlight, 0);
  });

  it('a waiting caller leaves at its deadline (ERR_CONCURRENCY_LIMITED, transient) or on abort', async () => {
    const clock = new FakeClock(0);
    const limit = new AdaptiveConcurrency({ clock, initialLimit: 1, name: 'youtube' });
    const held = await limit.acquire();
    const late = limit.acquire({ deadlineAt: 500 }).then(
      () => assert.fail('no permit was free'),
      (error: unknown) => error,
    );
    const controller = new AbortController();
    const aborted = limit.acquire({ signal: controller.signal }).then(
      () => assert.fail('no permit was free'),
      (error: unknown) => error,
    );
    await clock.advance(499);
    assert.equal(limit.stats().waiting, 2);
    await clock.advance(1);
    const error = (await late) as Error & { code: string; transient: boolean };
    assert.equal(error.code, 'ERR_CONCURRENCY_LIMITED');
    assert.equal(error.transient, true);
    assert.match(error.message, /^youtube: no permit before the deadline/);
    controller.abort();
    assert.equal(((await aborted) as { code: string }).code, 'ERR_ABORTED');
    assert.equal(limit.stats().waiting, 0);
    held.ignore();
    const next = await limit.acquire({ signal: AbortSignal.abort() }).catch((e: { code: string }) => e.code);
    assert.equal(next, 'ERR_ABORTED');
  });

  it('refuses options that are not positive numbers, naming them', () => {
    assert.throws(() => new AdaptiveConcurrency({ minLimit: 0 }), /`minLimit` must be a positive number/);
    assert.throws(() => new AdaptiveConcurrency({ backoffRatio: 1.5 }), /`backoffRatio` must be above 0/);
    assert.throws(() => new AdaptiveConcurrency({ minLimit: 10, maxLimit: 5 }), /maxLimit is below minLimit/);
  });
});

describe('AdaptiveConcurrency (gradient)', () => {
  const gradient = (capacity: number, options: AdaptiveConcurrencyOptions = {}) =>
    setup(capacity, { algorithm: 'gradient', ...options });

  it('grows to near its maximum when the latency spreads (20-50 ms) but nothing queues', async () => {
    const { clock, limit, dep } = gradient(100_000, { initialLimit: 20, maxLimit: 200 });
    dep.spread = (u) => u * 30;
    const sim = closedLoop(clock, limit, dep, 256);
    await sim.run(5_000);
    dep.answered = 0;
    const limits = await sim.run(5_000);
    await sim.stop();
    for (const l of limits) assert.ok(l >= 180, `limit ${l} (${limits.join(' ')})`);
    // 180 or more calls at once of 35 ms on average.
    assert.ok(dep.answered / 5 >= (180 * 1000) / 35, `${dep.answered / 5}/s`);
    assert.equal(limit.stats().algorithm, 'gradient');
  });

  it("grows when the latency spreads as an LLM call's does (0.5 s + exponential, mean 2 s), nothing queueing", async () => {
    const { clock, limit, dep } = gradient(100_000, { initialLimit: 20, maxLimit: 200 });
    dep.baseMs = 500;
    dep.spread = (u) => -Math.log(u) * 2_000;
    const sim = closedLoop(clock, limit, dep, 256);
    const limits = await sim.run(60_000);
    await sim.stop();
    assert.ok(limits.at(-1)! >= 150, `limit ${limits.filter((_, i) => i % 10 === 9).join(' ')}`);
  });

  it('backs off when the latency doubles under load, and grows back once it falls again', async () => {
    const { clock, limit, dep } = gradient(100_000, { initialLimit: 20, maxLimit: 200 });
    const sim = closedLoop(clock, limit, dep, 256);
    await sim.run(5_000);
    const before = limit.limit;
    dep.baseMs = 40;
    const slow = await sim.run(3_000);
    dep.baseMs = 20;
    const back = await sim.run(5_000);
    await sim.stop();
    assert.ok(before >= 190, `before: ${before}`);
    assert.ok(Math.min(...slow) <= before * 0.6, `after the latency doubled: ${slow.join(' ')}`);
    assert.ok(back.at(-1)! >= 190, `after it fell back: ${back.join(' ')}`);
  });

  it('refusals for load (429) shrink the limit to what the dependency accepts', async () => {
    const { clock, limit, dep } = gradient(1_000, { initialLimit: 100 });
    dep.refuseAbove = 30;
    const sim = closedLoop(clock, limit, dep, 200);
    await sim.run(5_000);
    dep.refused = 0;
    dep.answered = 0;
    const limits = await sim.run(5_000);
    await sim.stop();
    for (const l of limits) assert.ok(l <= 45, `limit ${l} (${limits.join(' ')})`);
    assert.ok(dep.answered / 5 >= 1500 * 0.7, `${dep.answered / 5}/s answered, ${dep.refused / 5}/s refused`);
  });

  it('keeps a dependency that queues busy', async () => {
    for (const [capacity, callers, initialLimit] of [
      [10, 64, 20],
      [40, 200, 5],
      [10, 200, 100],
    ] as const) {
      const { clock, limit, dep } = gradient(capacity, { initialLimit });
      const sim = closedLoop(clock, limit, dep, callers);
      await sim.run(8_000);
      dep.answered = 0;
      const limits = await sim.run(5_000);
      await sim.stop();
      const label = `capacity ${capacity}, ${callers} callers, from ${initialLimit}`;
      for (const l of limits) assert.ok(l >= capacity, `${label}: limit ${l} (${limits.join(' ')})`);
      const ideal = (capacity * 1000) / dep.baseMs;
      assert.ok(dep.answered / 5 >= ideal * 0.95, `${label}: ${dep.answered / 5}/s of ${ideal}/s`);
    }
  });

  it('does not grow while fewer than half the permits are in use', async () => {
    const { clock, limit, dep } = gradient(1_000, { initialLimit: 20 });
    const sim = closedLoop(clock, limit, dep, 5);
    await sim.run(10_000);
    await sim.stop();
    assert.equal(limit.limit, 20);
    assert.equal(limit.stats().longLatencyMs, 20);
    assert.equal(limit.stats().probing, false);
  });

  it('refuses an unknown algorithm, naming the option', () => {
    assert.throws(
      () => new AdaptiveConcurrency({ algorithm: 'aimd' as 'vegas' }),
      /`algorithm` must be "gradient" or "vegas"/,
    );
  });
});

describe('gradientStep', () => {
  const params = { minLimit: 1, maxLimit: 200 };

  it('grows by a fifth of the queue allowance while the latency is within 1.5× of its long mean', () => {
    const next = gradientStep(
      { limit: 100, longLatencyMs: 40, windows: 50 },
      { latencyMs: 59, maxInFlight: 100 },
      params,
    );
    assert.equal(next.limit, 100 + 0.2 * Math.sqrt(100));
    assert.ok(next.longLatencyMs > 40 && next.longLatencyMs < 40.1, `${next.longLatencyMs}`);
    const small = gradientStep(
      { limit: 9, longLatencyMs: 40, windows: 50 },
      { latencyMs: 40, maxInFlight: 9 },
      params,
    );
    assert.equal(small.limit, 9 + 0.2 * 4); // the queue allowance is at least 4
  });

  it('backs off in proportion past the tolerance, at most by half per window before smoothing', () => {
    const doubled = gradientStep(
      { limit: 100, longLatencyMs: 40, windows: 50 },
      { latencyMs: 80, maxInFlight: 100 },
      params,
    );
    // gradient 1.5 × 40 / 80 = 0.75: 0.8 × 100 + 0.2 × (75 + 10)
    assert.ok(Math.abs(doubled.limit - 97) < 0.1, `${doubled.limit}`);
    const tenfold = gradientStep(
      { limit: 100, longLatencyMs: 40, windows: 50 },
      { latencyMs: 400, maxInFlight: 100 },
      params,
    );
    assert.ok(Math.abs(tenfold.limit - 92) < 0.01, `${tenfold.limit}`); // gradient held at 0.5
  });

  it('the long mean decays faster once it is over twice the latency; the limit stays within its bounds', () => {
    const next = gradientStep(
      { limit: 200, longLatencyMs: 100, windows: 50 },
      { latencyMs: 20, maxInFlight: 200 },
      params,
    );
    assert.ok(next.longLatencyMs < 100 * 0.95, `${next.longLatencyMs}`);
    assert.equal(next.limit, 200);
    const low = gradientStep(
      { limit: 1, longLatencyMs: 10, windows: 50 },
      { latencyMs: 1_000, maxInFlight: 1 },
      {
        minLimit: 1,
        maxLimit: 1,
      },
    );
    assert.equal(low.limit, 1);
  });

  it('a window with a refusal for load multiplies the limit by backoffRatio and takes a quarter off the long mean', () => {
    const next = gradientStep(
      { limit: 50, longLatencyMs: 100, windows: 50 },
      { latencyMs: 110, maxInFlight: 50, dropped: true },
      { ...params, backoffRatio: 0.8 },
    );
    assert.deepEqual(next, { limit: 40, longLatencyMs: 75, windows: 50 });
    const floor = gradientStep(
      { limit: 1, longLatencyMs: 10, windows: 50 },
      { latencyMs: 0, maxInFlight: 1, dropped: true },
      params,
    );
    assert.equal(floor.limit, 1);
  });

  it('app-limited (under half the permits used): the limit holds, the long mean still moves; the first window sets it', () => {
    const idle = gradientStep(
      { limit: 100, longLatencyMs: 40, windows: 50 },
      { latencyMs: 10, maxInFlight: 10 },
      params,
    );
    assert.equal(idle.limit, 100);
    assert.ok(idle.longLatencyMs < 40);
    const first = gradientStep(
      { limit: 20, longLatencyMs: 0, windows: 0 },
      { latencyMs: 33, maxInFlight: 20 },
      params,
    );
    assert.equal(first.longLatencyMs, 33);
    // The first ten windows are averaged plainly (the first holds the quickest calls), then 2 / 601.
    const second = gradientStep(first, { latencyMs: 99, maxInFlight: 20 }, params);
    assert.equal(second.longLatencyMs, 66);
    const late = gradientStep({ ...second, windows: 10 }, { latencyMs: 667, maxInFlight: 20 }, params);
    assert.ok(Math.abs(late.longLatencyMs - (66 + 601 * (2 / 601))) < 1e-9, `${late.longLatencyMs}`);
  });
});
