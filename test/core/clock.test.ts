import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AbortedError,
  coarseNow,
  isOpusError,
  OpusError,
  redactSecrets,
  redactUrl,
  systemClock,
  timeoutSignal,
} from '../../src/core/index.js';
import { LatencyRecorder } from '../../src/core/latency-recorder.js';
import { FakeClock } from '../../src/testing/index.js';

describe('FakeClock', () => {
  it('fires timers in time order only when advanced', async () => {
    const clock = new FakeClock(0);
    const fired: number[] = [];
    void clock.sleep(200).then(() => fired.push(200));
    void clock.sleep(100).then(() => fired.push(100));
    await clock.advance(99);
    assert.deepEqual(fired, []);
    await clock.advance(1);
    assert.deepEqual(fired, [100]);
    await clock.advance(500);
    assert.deepEqual(fired, [100, 200]);
    assert.equal(clock.now(), 600);
  });

  it('rejects a sleep with AbortedError when its signal aborts', async () => {
    const clock = new FakeClock(0);
    const controller = new AbortController();
    const sleeping = clock.sleep(1000, controller.signal);
    controller.abort();
    await assert.rejects(sleeping, AbortedError);
    assert.equal(clock.pending, 0);
  });

  it('timeoutSignal aborts with ERR_TIMEOUT at the deadline', async () => {
    const clock = new FakeClock(0);
    const { signal } = timeoutSignal(50, clock);
    await clock.advance(49);
    assert.equal(signal.aborted, false);
    await clock.advance(1);
    assert.equal(signal.aborted, true);
    assert.ok(isOpusError(signal.reason, 'ERR_TIMEOUT'));
  });
});

describe('errors and redaction', () => {
  it('keeps code, cause and details', () => {
    const cause = new Error('driver');
    const err = new OpusError('ERR_X', 'boom', { cause, details: { id: 1 } });
    assert.equal(err.code, 'ERR_X');
    assert.equal(err.cause, cause);
    assert.equal(err.transient, false);
    assert.deepEqual(err.toJSON(), {
      name: 'OpusError',
      code: 'ERR_X',
      message: 'boom',
      transient: false,
      details: { id: 1 },
    });
  });

  it('hides passwords in URLs, key parameters, bearer tokens and listed secrets', () => {
    assert.equal(redactUrl('postgres://app:s3cr%40t@db:5432/x'), 'postgres://app:***@db:5432/x');
    assert.equal(redactUrl('https://h/v?id=1&key=AIzaXYZ&b=2'), 'https://h/v?id=1&key=***&b=2');
    const text = redactSecrets('Authorization: Bearer sk-abc.def and xi sk_live_123456', ['sk_live_123456']);
    assert.ok(!text.includes('sk-abc.def'));
    assert.ok(!text.includes('sk_live_123456'));
  });
});

describe('LatencyRecorder', () => {
  it('reports percentiles over recorded samples', () => {
    const rec = new LatencyRecorder(1000);
    for (let i = 1; i <= 100; i++) rec.record(i);
    const s = rec.summary();
    assert.equal(s.count, 100);
    assert.equal(s.p50Ms, 50);
    assert.equal(s.p99Ms, 99);
    assert.equal(s.maxMs, 100);
    assert.equal(s.avgMs, 50.5);
  });
});

describe('coarseNow', () => {
  it('asks an injected clock every time', async () => {
    const clock = new FakeClock(1_000);
    const now = coarseNow(clock);
    assert.equal(now(), 1_000);
    await clock.advance(5);
    assert.equal(now(), 1_005);
  });

  it('reads the system clock at most once per millisecond, and follows it', async () => {
    const now = coarseNow(systemClock);
    // Bracketed by readings taken just before and after, so a pause of the process cannot fail it.
    const before = Date.now();
    const first = now();
    assert.ok(first >= before && first <= Date.now(), `${first} read from the system clock`);
    assert.equal(now(), first, 'a second call is served from the cached value');
    await new Promise((resolve) => setTimeout(resolve, 20));
    const beforeLater = Date.now();
    const later = now();
    assert.ok(later >= first + 15, `${later} moved on from ${first}`);
    assert.ok(later >= beforeLater && later <= Date.now(), `${later} read again after the timer`);
  });
});
