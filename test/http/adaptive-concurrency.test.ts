import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HttpClient, type HttpClientOptions, HttpErrorCode } from '../../src/http/index.js';
import { failure, json, TestServer } from './server.js';

/**
 * `adaptiveConcurrency` on a real HTTP server that serves 4 calls at once in 20 ms and more in
 * proportion (each call slower as more run), or refuses with 429 past 6 at once when asked to.
 */
describe('HttpClient with adaptiveConcurrency', () => {
  const server = new TestServer();
  const clients: HttpClient[] = [];
  let running = 0;
  let peak = 0;
  let refuseAbove = Number.POSITIVE_INFINITY;

  const client = (extra: Partial<HttpClientOptions>): HttpClient => {
    const c = new HttpClient({
      service: 'adaptive',
      baseUrl: server.url,
      retryDelayMs: 1,
      maxRetryDelayMs: 5,
      ...extra,
    });
    clients.push(c);
    return c;
  };

  before(async () => {
    server.route('/work', async (_req, res) => {
      running++;
      peak = Math.max(peak, running);
      try {
        if (running > refuseAbove) {
          json(res, 429, { error: 'slow down' });
          return;
        }
        await new Promise((r) => setTimeout(r, 20 * Math.max(1, running / 4)));
        json(res, 200, { ok: true });
      } finally {
        running--;
      }
    });
    await server.listen();
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await server.close();
  });

  it('never has more calls at the server than its limit allows; the limit is in getApiMetrics()', async () => {
    peak = 0;
    const c = client({ adaptiveConcurrency: { initialLimit: 6, maxLimit: 8 } });
    const results = await Promise.all(Array.from({ length: 120 }, () => c.get('work')));
    assert.equal(results.length, 120);
    assert.ok(peak <= 8, `the server saw ${peak} calls at once`);
    assert.ok(peak >= 2, `calls ran side by side (${peak})`);
    const origin = Object.values((await c.getApiMetrics()).origins)[0]!;
    assert.ok(origin.concurrency, 'the origin reports its limit');
    assert.ok(origin.concurrency.limit >= 1 && origin.concurrency.limit <= 8, JSON.stringify(origin));
    assert.ok(origin.concurrency.waited > 0, 'callers over the limit waited');
    assert.equal(origin.concurrency.inFlight, 0);
  });

  it('429s shrink the limit', async () => {
    refuseAbove = 6;
    try {
      const c = client({ adaptiveConcurrency: { initialLimit: 40 }, maxRetries: 8 });
      await Promise.allSettled(Array.from({ length: 200 }, () => c.get('work')));
      const origin = Object.values((await c.getApiMetrics()).origins)[0]!;
      assert.ok(origin.concurrency!.limit < 40, `limit ${origin.concurrency!.limit}`);
    } finally {
      refuseAbove = Number.POSITIVE_INFINITY;
    }
  });

  it('a call still waiting for a permit at its deadline fails ERR_HTTP_TIMEOUT, transient; nothing is sent', async () => {
    const c = client({ adaptiveConcurrency: { initialLimit: 1, maxLimit: 1 }, maxRetries: 0 });
    const before = server.requests.length;
    const first = c.get('work');
    const second = await failure(c.get('work', { deadlineMs: 5 }));
    assert.equal(second.code, HttpErrorCode.Timeout);
    assert.equal(second.transient, true);
    assert.match(second.message, /no permit before the deadline/);
    await first;
    assert.equal(server.requests.length - before, 1, 'only the first call reached the server');
  });

  it('off by default: no limit in the metrics', async () => {
    const c = client({});
    await c.get('work');
    const origin = Object.values((await c.getApiMetrics()).origins)[0]!;
    assert.equal(origin.concurrency, undefined);
  });
});
