import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HttpClient, type HttpError, HttpNetworkError, HttpServerError } from '../../src/http/index.js';
import { decideRetry, isReplayable, type RetryContext } from '../../src/http/retry-decision.js';
import { FakeClock } from '../../src/testing/index.js';
import { json, TestServer } from './server.js';

const site = { service: 's', method: 'GET', endpoint: '/x' };
const backoff = { initialDelayMs: 100, maxDelayMs: 1_000, random: () => 1 };
const context = (extra: Partial<RetryContext> = {}): RetryContext => ({
  attempt: 0,
  now: 10_000,
  deadlineAt: 100_000,
  maxRetries: 3,
  replayable: true,
  ...extra,
});
const serverError = (): HttpError => new HttpServerError('503', { ...site, status: 503 });

describe('decideRetry', () => {
  it('waits the backoff formula for the attempt, with the injected jitter', () => {
    assert.deepEqual(decideRetry(serverError(), context(), backoff), { retry: true, delayMs: 100 });
    assert.deepEqual(decideRetry(serverError(), context({ attempt: 2 }), backoff), {
      retry: true,
      delayMs: 400,
    });
    assert.deepEqual(decideRetry(serverError(), context({ attempt: 2 }), { ...backoff, random: () => 0.5 }), {
      retry: true,
      delayMs: 200,
    });
    assert.deepEqual(decideRetry(serverError(), context({ attempt: 6, maxRetries: 10 }), backoff), {
      retry: true,
      delayMs: 1_000,
    });
  });

  it("waits the server's Retry-After when it is longer than the backoff", () => {
    const error = serverError();
    error.retryAt = 10_750;
    assert.deepEqual(decideRetry(error, context(), backoff), { retry: true, delayMs: 750 });
  });

  it('stops with retryAt when the wait would pass the deadline', () => {
    assert.deepEqual(decideRetry(serverError(), context({ deadlineAt: 10_050 }), backoff), {
      retry: false,
      retryAt: 10_100,
    });
  });

  it('stops on a permanent or final error and after maxRetries', () => {
    const permanent = new HttpServerError('x', { ...site, status: 503, transient: false });
    assert.deepEqual(decideRetry(permanent, context(), backoff), { retry: false });
    const final = new HttpServerError('x', { ...site, status: 503, final: true });
    assert.deepEqual(decideRetry(final, context(), backoff), { retry: false });
    assert.deepEqual(decideRetry(serverError(), context({ attempt: 3 }), backoff), { retry: false });
  });

  it('sends a request that is not replayable again only when it never left', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const notSent = new HttpNetworkError('refused', { ...site, cause: refused });
    const reset = new HttpNetworkError('reset', {
      ...site,
      cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
    });
    assert.equal(decideRetry(notSent, context({ replayable: false }), backoff).retry, true);
    assert.equal(decideRetry(reset, context({ replayable: false }), backoff).retry, false);
    assert.equal(isReplayable('POST', {}), false);
    assert.equal(isReplayable('POST', { idempotencyKey: 'k' }), true);
    assert.equal(isReplayable('PATCH', { retrySafe: true }), true);
    assert.equal(isReplayable('DELETE', {}), true);
  });
});

describe('HttpClient retry timing', () => {
  const server = new TestServer();
  let url = '';
  let failures = 0;

  before(async () => {
    server.route('/flaky', (_req, res) => {
      if (failures-- > 0) json(res, 503, { error: 'busy' });
      else json(res, 200, { ok: true });
    });
    url = await server.listen();
  });
  after(() => server.close());

  it('sleeps the backoff on the injected clock, with the injected jitter', async () => {
    failures = 1;
    const clock = new FakeClock(0);
    const client = new HttpClient({
      service: 'timing',
      baseUrl: url,
      clock,
      retryDelayMs: 5_000,
      random: () => 0.5,
    });
    try {
      let settled = false;
      const call = client.get('flaky').then((res) => {
        settled = true;
        return res;
      });
      for (let i = 0; i < 400 && (server.hitCount('/flaky') < 1 || clock.pending === 0); i++) {
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.equal(clock.pending, 1, 'the retry waits on the injected clock');
      await clock.advance(2_499);
      assert.equal(server.hitCount('/flaky'), 1, 'not retried before the delay');
      assert.equal(settled, false);
      await clock.advance(1);
      const res = await call;
      assert.equal(res.status, 200);
      assert.equal(res.timing.attempts, 2);
      assert.equal(server.hitCount('/flaky'), 2);
    } finally {
      await client.close();
    }
  });
});
