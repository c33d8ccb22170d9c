import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { InvalidArgumentError, TimeoutError } from '../../src/core/index.js';
import {
  CircuitBreaker,
  CircuitOpenError,
  CircuitState,
  RedisBreakerStore,
} from '../../src/resilience/index.js';
import { FakeClock } from '../../src/testing/index.js';
import { TEST_REDIS_URL, uniqueName } from '../support/env.js';

const fail = (): Promise<never> => Promise.reject(new Error('down'));

describe('CircuitBreaker', () => {
  it('opens after the threshold and then rejects without calling', async () => {
    const clock = new FakeClock(0);
    const breaker = new CircuitBreaker({ name: 'svc', failureThreshold: 3, halfOpenAfterMs: 10_000, clock });
    const events: string[] = [];
    breaker.onBreak(() => events.push('break'));
    for (let i = 0; i < 3; i++) await assert.rejects(breaker.execute(fail), /down/);
    assert.equal(breaker.state, CircuitState.Open);
    let called = 0;
    await assert.rejects(
      breaker.execute(async () => {
        called++;
      }),
      (e) => e instanceof CircuitOpenError && e.code === 'ERR_CIRCUIT_OPEN' && e.retryAt === 10_000,
    );
    assert.equal(called, 0);
    assert.deepEqual(events, ['break']);
  });

  it('by default a permanent OpusError does not count as a failure; a transient one and a plain Error do', async () => {
    const breaker = new CircuitBreaker({ name: 'svc', failureThreshold: 2, halfOpenAfterMs: 10_000 });
    const permanent = (): Promise<never> => Promise.reject(new InvalidArgumentError('bad id'));
    for (let i = 0; i < 5; i++) await assert.rejects(breaker.execute(permanent), /bad id/);
    assert.equal(breaker.state, CircuitState.Closed);
    await assert.rejects(breaker.execute(() => Promise.reject(new TimeoutError('slow'))));
    await assert.rejects(breaker.execute(fail));
    assert.equal(breaker.state, CircuitState.Open);
  });

  it('a success resets the consecutive count', async () => {
    const breaker = new CircuitBreaker(2, 1000);
    await assert.rejects(breaker.execute(fail));
    await breaker.execute(async () => 1);
    await assert.rejects(breaker.execute(fail));
    assert.equal(breaker.state, CircuitState.Closed);
  });

  it('half-open lets exactly one probe through among 100 concurrent callers', async () => {
    const clock = new FakeClock(0);
    const breaker = new CircuitBreaker({ failureThreshold: 1, halfOpenAfterMs: 1000, clock });
    const events: string[] = [];
    breaker.onHalfOpen(() => events.push('half-open'));
    breaker.onReset(() => events.push('reset'));
    await assert.rejects(breaker.execute(fail));
    await clock.advance(1000);
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const results = Array.from({ length: 100 }, () =>
      breaker.execute(async () => {
        calls++;
        await gate;
        return 'ok';
      }),
    );
    const all = Promise.allSettled(results);
    await new Promise((r) => setImmediate(r));
    assert.equal(calls, 1);
    release();
    const settled = await all;
    assert.equal(settled.filter((s) => s.status === 'fulfilled').length, 1);
    assert.equal(
      settled.filter((s) => s.status === 'rejected' && s.reason instanceof CircuitOpenError).length,
      99,
    );
    assert.equal(breaker.state, CircuitState.Closed);
    assert.deepEqual(events, ['half-open', 'reset']);
  });

  it('a failed probe opens the circuit again', async () => {
    const clock = new FakeClock(0);
    const breaker = new CircuitBreaker({ failureThreshold: 1, halfOpenAfterMs: 1000, clock });
    await assert.rejects(breaker.execute(fail));
    await clock.advance(1000);
    assert.equal(breaker.state, CircuitState.HalfOpen);
    await assert.rejects(breaker.execute(fail), /down/);
    assert.equal(breaker.state, CircuitState.Open);
    assert.equal(breaker.transitions, 3);
  });

  it('ratio mode opens on the failure ratio once enough calls were seen', async () => {
    const clock = new FakeClock(0);
    const breaker = new CircuitBreaker({
      mode: 'ratio',
      ratioThreshold: 0.5,
      minimumCalls: 10,
      windowMs: 10_000,
      clock,
    });
    for (let i = 0; i < 5; i++) await breaker.execute(async () => 1);
    for (let i = 0; i < 4; i++) await assert.rejects(breaker.execute(fail));
    assert.equal(breaker.state, CircuitState.Closed);
    await assert.rejects(breaker.execute(fail));
    assert.equal(breaker.state, CircuitState.Open);
  });

  it('errors the caller marks as not failures do not count', async () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1, isFailure: (e) => !(e instanceof TypeError) });
    await assert.rejects(breaker.execute(() => Promise.reject(new TypeError('bad input'))));
    assert.equal(breaker.state, CircuitState.Closed);
  });
});

describe('CircuitBreaker shared through Redis', () => {
  let redis: Redis;
  const prefix = uniqueName('breaker');

  before(() => {
    redis = new Redis(TEST_REDIS_URL);
  });
  after(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it('an open circuit in one instance is seen by another', async () => {
    const store = new RedisBreakerStore(redis, prefix);
    const a = new CircuitBreaker({
      name: 'youtube',
      failureThreshold: 2,
      halfOpenAfterMs: 5000,
      store,
      syncIntervalMs: 0,
    });
    const b = new CircuitBreaker({
      name: 'youtube',
      failureThreshold: 2,
      halfOpenAfterMs: 5000,
      store,
      syncIntervalMs: 0,
    });
    await b.execute(async () => 1);
    await assert.rejects(a.execute(fail));
    await assert.rejects(a.execute(fail));
    // The store write is fire-and-forget; wait until it lands.
    for (let i = 0; i < 50 && (await redis.exists(`${prefix}:youtube`)) === 0; i++)
      await new Promise((r) => setTimeout(r, 10));
    let called = false;
    await assert.rejects(
      b.execute(async () => {
        called = true;
      }),
      CircuitOpenError,
    );
    assert.equal(called, false);
    assert.equal(b.state, CircuitState.Open);
    const ttl = await redis.pttl(`${prefix}:youtube`);
    assert.ok(ttl > 0 && ttl <= 5000);
  });
});
