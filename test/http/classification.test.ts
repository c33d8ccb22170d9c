import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { isTransient } from '../../src/core/index.js';
import { HttpClient, type HttpClientOptions, type HttpErrorKind } from '../../src/http/index.js';
import { Budget, CircuitBreaker } from '../../src/resilience/index.js';
import { FakeClock } from '../../src/testing/index.js';
import { failure, json, TestServer } from './server.js';

const NOW = Date.UTC(2026, 6, 15, 12);
const QUOTA_RESET = Date.UTC(2026, 6, 16, 7);

interface Row {
  /** What the server answers. */
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  code: string;
  transient: boolean;
  /** Expected retryAt (epoch ms), or undefined when none is known. */
  retryAt?: number;
  /** Sent again by the client's retry loop (transient and not decided `final`). */
  retried: boolean;
}

/** Each status a provider may answer, and what the client must make of it. */
const TABLE: Row[] = [
  // A Retry-After on a permanent answer does not make it retryable, nor give it a retryAt.
  {
    status: 400,
    headers: { 'retry-after': '5' },
    code: 'ERR_HTTP_BAD_REQUEST',
    transient: false,
    retried: false,
  },
  { status: 401, code: 'ERR_HTTP_UNAUTHORIZED', transient: false, retried: false },
  { status: 403, code: 'ERR_HTTP_FORBIDDEN', transient: false, retried: false },
  {
    status: 403,
    body: { reason: 'quotaExceeded' },
    code: 'ERR_HTTP_QUOTA_EXHAUSTED',
    transient: true,
    retryAt: QUOTA_RESET,
    retried: false,
  },
  { status: 404, code: 'ERR_HTTP_NOT_FOUND', transient: false, retried: false },
  { status: 405, code: 'ERR_HTTP_STATUS', transient: false, retried: false },
  { status: 408, code: 'ERR_HTTP_TIMEOUT', transient: true, retried: true },
  { status: 409, code: 'ERR_HTTP_CONFLICT', transient: false, retried: false },
  { status: 410, code: 'ERR_HTTP_STATUS', transient: false, retried: false },
  { status: 422, code: 'ERR_HTTP_UNPROCESSABLE', transient: false, retried: false },
  { status: 429, code: 'ERR_HTTP_RATE_LIMITED', transient: true, retried: true },
  {
    status: 429,
    headers: { 'retry-after': '7' },
    code: 'ERR_HTTP_RATE_LIMITED',
    transient: true,
    retryAt: NOW + 7_000,
    retried: true,
  },
  {
    status: 429,
    body: { reason: 'insufficient_quota' },
    code: 'ERR_HTTP_QUOTA_EXHAUSTED',
    transient: true,
    retryAt: QUOTA_RESET,
    retried: false,
  },
  { status: 500, code: 'ERR_HTTP_SERVER_ERROR', transient: true, retried: true },
  { status: 502, code: 'ERR_HTTP_SERVER_ERROR', transient: true, retried: true },
  {
    status: 503,
    headers: { 'retry-after': '3' },
    code: 'ERR_HTTP_SERVER_ERROR',
    transient: true,
    retryAt: NOW + 3_000,
    retried: true,
  },
  { status: 504, code: 'ERR_HTTP_SERVER_ERROR', transient: true, retried: true },
];

/** A provider body's `reason` → kind, the way a vendor client's classifyError does it. */
function classifyError(body: unknown): HttpErrorKind | undefined {
  const reason = (body as { reason?: unknown } | undefined)?.reason;
  return reason === 'quotaExceeded' || reason === 'insufficient_quota' ? 'quota_exhausted' : undefined;
}

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

describe('HttpClient error classification', () => {
  const server = new TestServer();
  const clients: HttpClient[] = [];
  let url = '';

  const client = (extra: Partial<HttpClientOptions> = {}): HttpClient => {
    const c = new HttpClient({
      service: 'classify',
      baseUrl: url,
      retryDelayMs: 1,
      maxRetryDelayMs: 2,
      classifyError,
      quotaResetAt: () => QUOTA_RESET,
      ...extra,
    });
    clients.push(c);
    return c;
  };

  before(async () => {
    TABLE.forEach((row, i) => {
      server.route(`/row/${i}`, (_req, res) =>
        json(res, row.status, row.body ?? { error: 'x' }, row.headers),
      );
    });
    server
      .route('/garbled', (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"items": [');
      })
      .route('/large', (_req, res) => json(res, 200, { blob: 'x'.repeat(4096) }))
      .route('/ok', (_req, res) => json(res, 200, { ok: true }))
      .route('/slow', (_req, res) => {
        setTimeout(() => json(res, 200, { ok: true }), 1_500);
      })
      .route('/fail', (_req, res) => json(res, 500, { error: 'down' }));
    url = await server.listen();
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await server.close();
  });

  it('maps each status to its code, transient flag and retryAt', async () => {
    for (const [i, row] of TABLE.entries()) {
      const clock = new FakeClock(NOW);
      const c = client({ clock, maxRetries: 0 });
      const error = await failure(c.get(`/row/${i}`));
      const label = `${row.status} ${JSON.stringify(row.body ?? {})} ${JSON.stringify(row.headers ?? {})}`;
      assert.equal(error.code, row.code, label);
      assert.equal(error.status, row.status, label);
      assert.equal(error.transient, row.transient, label);
      assert.equal(isTransient(error), row.transient, label);
      assert.equal(error.retryAt, row.retryAt, label);
      assert.equal(error.toJSON().transient, row.transient, label);
    }
  });

  it('retries exactly the transient answers that are not final', async () => {
    for (const [i, row] of TABLE.entries()) {
      if (row.headers?.['retry-after']) continue; // would wait for seconds
      const c = client({ maxRetries: 1 });
      const before = server.hitCount(`/row/${i}`);
      const error = await failure(c.get(`/row/${i}`));
      assert.equal(error.code, row.code);
      assert.equal(server.hitCount(`/row/${i}`) - before, row.retried ? 2 : 1, `${row.status} hits`);
    }
  });

  it('classifies answers that are not statuses: garbled body, oversized body, refused connection, deadline', async () => {
    const garbled = await failure(client({ maxRetries: 0 }).get('/garbled'));
    assert.equal(garbled.code, 'ERR_HTTP_INVALID_RESPONSE');
    assert.equal(garbled.transient, true);

    const large = await failure(client({ maxResponseBytes: 1024 }).get('/large'));
    assert.equal(large.code, 'ERR_HTTP_RESPONSE_TOO_LARGE');
    assert.equal(large.transient, false);
    assert.equal(large.final, true);

    const port = await closedPort();
    const refused = new HttpClient({
      service: 'classify',
      baseUrl: `http://127.0.0.1:${port}`,
      maxRetries: 0,
    });
    clients.push(refused);
    const network = await failure(refused.get('/x'));
    assert.equal(network.code, 'ERR_HTTP_NETWORK');
    assert.equal(network.transient, true);

    const expired = await failure(client().get('/ok', { deadlineAt: Date.now() - 1 }));
    assert.equal(expired.code, 'ERR_HTTP_TIMEOUT');
    assert.equal(expired.transient, true);
  });

  it("the caller's signal: a timeout signal is a transient ERR_HTTP_TIMEOUT, an abort the permanent ERR_HTTP_ABORTED", async () => {
    const timedOut = await failure(client().get('/slow', { signal: AbortSignal.timeout(100) }));
    assert.equal(timedOut.code, 'ERR_HTTP_TIMEOUT');
    assert.equal(timedOut.transient, true);
    const controller = new AbortController();
    const pending = client().get('/slow', { signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    const aborted = await failure(pending);
    assert.equal(aborted.code, 'ERR_HTTP_ABORTED');
    assert.equal(aborted.transient, false);
  });

  it('local refusals: an open circuit and a budget say when to come back; a cost beyond a whole window is permanent', async () => {
    const clock = new FakeClock(NOW);
    const breaker = new CircuitBreaker({
      name: 'classify',
      failureThreshold: 1,
      halfOpenAfterMs: 30_000,
      clock,
    });
    const c = client({ clock, breaker, maxRetries: 0 });
    await failure(c.get('/fail'));
    const hits = server.hitCount('/ok');
    const open = await failure(c.get('/ok'));
    assert.equal(open.code, 'ERR_HTTP_CIRCUIT_OPEN');
    assert.equal(open.transient, true);
    assert.equal(open.retryAt, NOW + 30_000);
    assert.equal(server.hitCount('/ok'), hits, 'nothing was sent');

    const budget = new Budget({
      name: 'classify',
      clock,
      windows: [
        { name: 'minute', limit: 1, windowMs: 60_000 },
        { name: 'day', kind: 'calendar', limit: 10, nextReset: () => QUOTA_RESET },
      ],
    });
    const b = client({ clock, budget, maxRetries: 0 });
    await b.get('/ok');
    const limited = await failure(b.get('/ok', { deadlineMs: 1_000 }));
    assert.equal(limited.code, 'ERR_HTTP_RATE_LIMITED');
    assert.equal(limited.transient, true);
    assert.equal(limited.retryAt, NOW + 60_000);

    await clock.advance(60_000);
    const spent = await failure(b.get('/ok', { cost: { day: 10 } }));
    assert.equal(spent.code, 'ERR_HTTP_QUOTA_EXHAUSTED');
    assert.equal(spent.transient, true);
    assert.equal(spent.retryAt, QUOTA_RESET);

    const never = await failure(b.get('/ok', { cost: { day: 11 } }));
    assert.equal(never.code, 'ERR_HTTP_QUOTA_EXHAUSTED');
    assert.equal(never.transient, false, 'no reset makes room for it');
  });
});
