import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConfigError } from '../../src/core/index.js';
import { HttpClient, type HttpClientOptions, HttpErrorCode } from '../../src/http/index.js';
import { CircuitBreaker } from '../../src/resilience/index.js';
import { FakeClock } from '../../src/testing/index.js';
import { failure, json, TestServer } from './server.js';

describe('HttpClient with several base URLs', () => {
  const a = new TestServer();
  const b = new TestServer();
  const clients: HttpClient[] = [];
  let aDown = false;

  const client = (extra: Partial<HttpClientOptions>): HttpClient => {
    const c = new HttpClient({ service: 'multi', retryDelayMs: 1, maxRetryDelayMs: 5, ...extra });
    clients.push(c);
    return c;
  };

  before(async () => {
    a.route('/v1/item', (_req, res) =>
      aDown ? json(res, 500, { down: true }) : json(res, 200, { from: 'a' }),
    );
    b.route('/api/v1/item', (_req, res) => json(res, 200, { from: 'b' }));
    await Promise.all([a.listen(), b.listen()]);
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all([a.close(), b.close()]);
  });

  it('sends each call to its endpoint with that endpoint base path, and the one credential', async () => {
    const c = client({
      baseUrls: [`${a.url}/v1`, `${b.url}/api/v1`],
      endpointStrategy: 'balanced',
      auth: { type: 'query', value: 'SECRET-KEY-1' },
    });
    const answers = await Promise.all([1, 2, 3, 4].map(() => c.get('item', { params: { q: 'x' } })));
    assert.deepEqual(answers.map((r) => (r.data as { from: string }).from).sort(), ['a', 'a', 'b', 'b']);
    const urls = [...a.requests, ...b.requests].map((r) => r.url);
    assert.ok(urls.every((u) => u.includes('q=x') && u.includes('key=SECRET-KEY-1')));
    const metrics = await c.getApiMetrics();
    assert.deepEqual(
      Object.keys(metrics.origins).sort(),
      [new URL(a.url).origin, new URL(b.url).origin].sort(),
    );
    assert.ok(!JSON.stringify(metrics).includes('SECRET-KEY-1'));
  });

  it('retries a failed attempt on the other endpoint, and reports the refusal when every breaker is open', async () => {
    const clock = new FakeClock();
    const breakers = [
      new CircuitBreaker({ failureThreshold: 1, halfOpenAfterMs: 10_000, clock }),
      new CircuitBreaker({ failureThreshold: 1, halfOpenAfterMs: 20_000, clock }),
    ];
    const c = client({
      baseUrls: [`${a.url}/v1`, `${b.url}/api/v1`],
      endpointBreaker: ({ index }) => breakers[index]!,
    });
    aDown = true;
    const r = await c.get('item');
    aDown = false;
    assert.deepEqual(r.data, { from: 'b' });
    assert.equal(r.timing.attempts, 2);
    assert.equal(breakers[0]!.state, 'OPEN');
    (breakers[1]!.acquire() as { failure(): void }).failure();
    const error = await failure(c.get('item'));
    assert.equal(error.code, HttpErrorCode.CircuitOpen);
    assert.equal(error.final, true);
    assert.equal(error.retryAt, clock.now() + 10_000);
  });

  it('refuses contradictory settings', () => {
    const base = { service: 's', baseUrls: ['http://127.0.0.1:1', 'http://127.0.0.1:2'] };
    assert.throws(() => new HttpClient({ ...base, breaker: new CircuitBreaker() }), ConfigError);
    assert.throws(() => new HttpClient({ ...base, baseUrl: 'http://127.0.0.1:3' }), ConfigError);
    assert.throws(() => new HttpClient({ service: 's' }), ConfigError);
    assert.throws(
      () => new HttpClient({ ...base, endpointStrategy: 'random' as unknown as 'balanced' }),
      ConfigError,
    );
  });
});
