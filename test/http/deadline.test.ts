import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { HttpClient, type HttpClientOptions } from '../../src/http/index.js';
import { Budget, CircuitBreaker, CircuitState } from '../../src/resilience/index.js';
import { failure, json, TestServer } from './server.js';

/** Load on the shared machine delays timers; the bound is the deadline plus this. */
const TOLERANCE_MS = 600;

/** Sends a 200 JSON body one byte every `everyMs`, `bytes` in all; stops when the client goes. */
function trickle(res: ServerResponse, bytes: number, everyMs: number, onClose: () => void): void {
  const body = Buffer.from(`"${'x'.repeat(Math.max(0, bytes - 2))}"`);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length) });
  let sent = 0;
  const timer = setInterval(() => {
    res.write(body.subarray(sent, sent + 1));
    sent++;
    if (sent >= body.length) {
      clearInterval(timer);
      res.end();
    }
  }, everyMs);
  res.on('close', () => {
    clearInterval(timer);
    onClose();
  });
}

async function until(condition: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > end) assert.fail('condition not met in time');
    await delay(10);
  }
}

describe('HttpClient deadline bounds the whole call, body included', () => {
  const server = new TestServer();
  const clients: HttpClient[] = [];
  const hang: Array<() => void> = [];
  let url = '';
  let closedResponses = 0;

  const client = (extra: Partial<HttpClientOptions> = {}): HttpClient => {
    const c = new HttpClient({
      service: 'trickle',
      baseUrl: url,
      retryDelayMs: 1,
      maxRetryDelayMs: 2,
      ...extra,
    });
    clients.push(c);
    return c;
  };

  const openConnections = (): Promise<number> =>
    new Promise((resolve, reject) =>
      server.server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
    );

  before(async () => {
    server
      // 40 bytes at one per 200 ms: 8 s in all, never silent long enough for an inactivity timeout.
      .route('/slow-body', (_req, res) => trickle(res, 40, 200, () => closedResponses++))
      .route('/quick-trickle', (_req, res) => trickle(res, 6, 20, () => {}))
      .route('/hang', (_req, res) => {
        hang.push(() => json(res, 200, {}));
      })
      .route('/ok', (_req, res) => json(res, 200, { ok: true }))
      .route('/queued', (_req, res) => json(res, 200, { ok: true }));
    url = await server.listen();
  });

  after(async () => {
    for (const release of hang) release();
    await Promise.all(clients.map((c) => c.close()));
    await server.close();
  });

  it('a 2 s deadline ends a body trickling for 8 s at 2 s, with ERR_HTTP_TIMEOUT, and closes the connection', async () => {
    const c = client({ deadlineMs: 2_000 });
    const closedBefore = closedResponses;
    const started = Date.now();
    const error = await failure(c.get('/slow-body'));
    const elapsed = Date.now() - started;
    assert.equal(error.code, 'ERR_HTTP_TIMEOUT');
    assert.equal(error.transient, true);
    assert.match(error.message, /body/);
    assert.ok(elapsed >= 1_950, `ended early: ${elapsed} ms`);
    assert.ok(elapsed <= 2_000 + TOLERANCE_MS, `ended late: ${elapsed} ms`);
    // Not retried: a retry could not finish before the deadline; retryAt says when to try again.
    assert.equal(server.hitCount('/slow-body'), 1);
    assert.ok(error.retryAt !== undefined && error.retryAt >= started + 2_000);
    // The socket was closed, not left to trickle on: the server sees the response end early.
    await until(() => closedResponses === closedBefore + 1);
    await until(async () => (await openConnections()) === 0);
    assert.equal(c.pending, 0);
  });

  it('a per-call deadlineMs does the same, and the client keeps serving afterwards', async () => {
    const c = client();
    const started = Date.now();
    const error = await failure(c.get('/slow-body', { deadlineMs: 700, retryOnError: false }));
    const elapsed = Date.now() - started;
    assert.equal(error.code, 'ERR_HTTP_TIMEOUT');
    assert.ok(elapsed <= 700 + TOLERANCE_MS, `ended late: ${elapsed} ms`);
    const ok = await c.get('/ok');
    assert.deepEqual(ok.data, { ok: true });
  });

  it('a body that trickles in before the deadline succeeds', async () => {
    const c = client({ deadlineMs: 2_000 });
    const response = await c.get('/quick-trickle');
    assert.equal(response.data, 'xxxx');
  });

  it('the budget refunds the timed-out call and the breaker counts it as a failure', async () => {
    const budget = new Budget({
      name: 'trickle',
      windows: [{ name: 'minute', limit: 10, windowMs: 60_000 }],
    });
    const breaker = new CircuitBreaker({ name: 'trickle', failureThreshold: 1, halfOpenAfterMs: 60_000 });
    const c = client({ deadlineMs: 600, budget, breaker });
    // One attempt: a retry after the timed-out one would meet the breaker it just opened, and the call
    // would end with ERR_HTTP_CIRCUIT_OPEN or ERR_HTTP_TIMEOUT depending on which came first.
    const error = await failure(c.get('/slow-body', { retryOnError: false }));
    assert.equal(error.code, 'ERR_HTTP_TIMEOUT');
    await until(async () => (await budget.usage())[0]?.used === 0);
    assert.equal(breaker.state, CircuitState.Open);
    const refused = await failure(c.get('/ok'));
    assert.equal(refused.code, 'ERR_HTTP_CIRCUIT_OPEN');
  });

  it('the deadline also bounds the wait for a free connection', async () => {
    const c = client({ maxConnections: 1 });
    const first = c.get('/hang', { retryOnError: false }).catch((e: unknown) => e);
    await until(() => server.hitCount('/hang') === 1);
    const started = Date.now();
    const error = await failure(c.get('/queued', { deadlineMs: 500, retryOnError: false }));
    const elapsed = Date.now() - started;
    assert.equal(error.code, 'ERR_HTTP_TIMEOUT');
    assert.match(error.message, /before the response headers/);
    assert.ok(elapsed <= 500 + TOLERANCE_MS, `ended late: ${elapsed} ms`);
    hang.shift()?.();
    const answered = await first;
    assert.ok(!(answered instanceof Error), 'the first call still completes');
    // The queued call was dropped, never sent.
    await delay(50);
    assert.equal(server.hitCount('/queued'), 0);
  });
});
