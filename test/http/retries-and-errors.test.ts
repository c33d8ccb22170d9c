import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import type { Logger } from '../../src/core/index.js';
import { HttpClient, type HttpClientOptions, HttpError } from '../../src/http/index.js';
import { Budget, CircuitBreaker } from '../../src/resilience/index.js';
import { json, TestServer } from './server.js';

const API_KEY = 'AIzaTESTSECRET-0123456789';

function capturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const push =
    (level: string) =>
    (obj: Record<string, unknown>, msg?: string): void => {
      lines.push(`${level} ${msg ?? ''} ${JSON.stringify(obj)}`);
    };
  return {
    logger: { debug: push('debug'), info: push('info'), warn: push('warn'), error: push('error') },
    lines,
  };
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

describe('HttpClient retries and errors', () => {
  const server = new TestServer();
  const capture = capturingLogger();
  const clients: HttpClient[] = [];
  let url = '';

  const client = (extra: Partial<HttpClientOptions> = {}): HttpClient => {
    const c = new HttpClient({
      service: 'test',
      baseUrl: url,
      auth: { type: 'query', value: API_KEY },
      retryDelayMs: 10,
      maxRetryDelayMs: 50,
      logger: capture.logger,
      ...extra,
    });
    clients.push(c);
    return c;
  };

  before(async () => {
    let limited = 0;
    let flaky = 0;
    server
      .route('/limited', (_req, res) => {
        if (limited++ === 0) json(res, 429, { error: 'slow down' }, { 'retry-after': '1' });
        else json(res, 200, { ok: true });
      })
      .route('/bad', (req, res) => json(res, 400, { error: `invalid request ${req.url}` }))
      .route('/unavailable', (_req, res) => json(res, 503, { error: 'busy' }))
      .route('/flaky', (_req, res) => {
        if (flaky++ === 0) json(res, 503, { error: 'busy' });
        else json(res, 200, { ok: true });
      })
      .route('/long-wait', (_req, res) => json(res, 429, { error: 'later' }, { 'retry-after': '3600' }))
      .route('/quota', (_req, res) =>
        json(res, 403, { error: { errors: [{ reason: 'quotaExceeded' }] } }, { 'x-request-id': 'req-42' }),
      )
      .route('/echo-auth', (req, res) =>
        json(res, 200, { auth: req.headers.authorization ?? null, url: req.url }),
      )
      .route('/redirect', (_req, res) => {
        res.writeHead(302, { location: 'http://127.0.0.2:1/steal' }).end();
      })
      .route('/gzip', (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
        res.end(gzipSync(JSON.stringify({ enc: 'gzip' })));
      })
      .route('/br', (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'br' });
        res.end(brotliCompressSync(JSON.stringify({ enc: 'br' })));
      })
      .route('/audio', (_req, res) => {
        res.writeHead(200, { 'content-type': 'audio/mpeg' }).end(Buffer.from([0xff, 0xfb, 0x90, 0x00]));
      })
      .route('/broken-json', (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"truncated":');
      })
      .route('/chunked', async (_req, res) => {
        // A JSON body in many chunks, a multi-byte character split across two of them, behind a BOM.
        const bytes = Buffer.concat([
          Buffer.from([0xef, 0xbb, 0xbf]),
          Buffer.from(JSON.stringify({ title: `caf\u00e9 ${'x'.repeat(20_000)}`, n: 7 })),
        ]);
        res.writeHead(200, { 'content-type': 'application/json' });
        for (let i = 0; i < bytes.length; i += 4_099) {
          res.write(bytes.subarray(i, i + 4_099));
          await new Promise((r) => setImmediate(r));
        }
        res.end();
      })
      .route('/cut-short', (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
        res.write('{"partial":');
        setTimeout(() => res.socket?.destroy(), 20);
      })
      .route('/trickle', (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"slow":');
        // Never finished: the caller aborts while the body is still arriving.
      })
      .route('/big', (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '3000' });
        res.end(JSON.stringify({ pad: 'x'.repeat(2988) }));
      })
      .route('/big-chunked', async (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        for (let i = 0; i < 10; i++) {
          res.write(Buffer.alloc(400, 1));
          await new Promise((r) => setImmediate(r));
        }
        res.end();
      })
      .route('/exact', (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(Buffer.alloc(1000, 2));
      })
      .route('/form', (req, res, body) =>
        json(res, 200, { contentType: req.headers['content-type'], body: body.toString('latin1') }),
      );
    url = await server.listen();
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await server.close();
    // Whatever was logged during these tests, the key never was.
    assert.ok(capture.lines.length > 0);
    for (const line of capture.lines) assert.ok(!line.includes(API_KEY), `key leaked into log: ${line}`);
  });

  it('waits out a 429 Retry-After and retries', async () => {
    const c = client();
    const started = Date.now();
    const res = await c.get('/limited');
    assert.deepEqual(res.data, { ok: true });
    assert.equal(res.timing.attempts, 2);
    assert.equal(server.hitCount('/limited'), 2);
    assert.ok(Date.now() - started >= 950, 'honoured the 1 s Retry-After');
    assert.equal((await c.getApiMetrics()).retries, 1);
  });

  it('does not retry a 400, and gives a typed error with a redacted excerpt', async () => {
    await assert.rejects(client().get('/bad', { params: { q: 'x' } }), (e) => {
      assert.ok(e instanceof HttpError);
      assert.equal(e.code, 'ERR_HTTP_BAD_REQUEST');
      assert.equal(e.status, 400);
      assert.ok(e.bodyExcerpt?.includes('invalid request'));
      assert.ok(!e.bodyExcerpt?.includes(API_KEY));
      assert.ok(!JSON.stringify(e).includes(API_KEY));
      assert.ok(!e.message.includes(API_KEY));
      return true;
    });
    assert.equal(server.hitCount('/bad'), 1);
  });

  it('does not retry a POST after a 503 without an idempotency key, but does with one', async () => {
    await assert.rejects(client().post('/unavailable', { data: { a: 1 } }), (e) => {
      assert.ok(e instanceof HttpError && e.code === 'ERR_HTTP_SERVER_ERROR');
      return true;
    });
    assert.equal(server.hitCount('/unavailable'), 1);
    const res = await client().post('/flaky', { data: { a: 1 }, idempotencyKey: 'job-1' });
    assert.equal(res.status, 200);
    assert.equal(server.hitCount('/flaky'), 2);
    const sent = server.requests.filter((r) => r.url.startsWith('/flaky'));
    assert.equal(sent[1]!.headers['idempotency-key'], 'job-1');
  });

  it('retries a POST after a refused connection, where nothing was sent', async () => {
    const port = await freePort();
    const late = new TestServer().route('/jobs', (_req, res, body) =>
      json(res, 201, { got: JSON.parse(body.toString()) }),
    );
    const onRetry = (): void => {
      if (!late.server.listening) late.server.listen(port, '127.0.0.1');
    };
    diagnostics.subscribe('opusclip:http:retry', onRetry);
    try {
      const c = client({ baseUrl: `http://127.0.0.1:${port}`, maxRetries: 8, retryDelayMs: 50 });
      const res = await c.post('/jobs', { data: { n: 7 } });
      assert.equal(res.status, 201);
      assert.deepEqual(res.data, { got: { n: 7 } });
      assert.equal(late.hitCount('/jobs'), 1);
      assert.ok(res.timing.attempts >= 2);
    } finally {
      diagnostics.unsubscribe('opusclip:http:retry', onRetry);
      await late.close();
    }
  });

  it('fails at once with retryAt when Retry-After is longer than the deadline allows', async () => {
    const started = Date.now();
    await assert.rejects(client({ deadlineMs: 10_000 }).get('/long-wait'), (e) => {
      assert.ok(e instanceof HttpError);
      assert.equal(e.code, 'ERR_HTTP_RATE_LIMITED');
      assert.ok(e.retryAt! >= started + 3_600_000 && e.retryAt! <= Date.now() + 3_600_000);
      return true;
    });
    assert.ok(Date.now() - started < 5000);
    assert.equal(server.hitCount('/long-wait'), 1);
  });

  it('maps a provider quota body to ERR_HTTP_QUOTA_EXHAUSTED through classifyError, and does not retry it', async () => {
    const c = client({
      classifyError: (body, status) =>
        status === 403 && JSON.stringify(body).includes('quotaExceeded') ? 'quota_exhausted' : undefined,
      quotaResetAt: (now) => now + 1000,
    });
    await assert.rejects(c.get('/quota'), (e) => {
      assert.ok(e instanceof HttpError);
      assert.equal(e.code, 'ERR_HTTP_QUOTA_EXHAUSTED');
      assert.equal(e.requestId, 'req-42');
      assert.ok(e.retryAt !== undefined);
      return true;
    });
    assert.equal(server.hitCount('/quota'), 1);
    // Without the hook the same answer is a plain 403.
    await assert.rejects(
      client().get('/quota'),
      (e) => e instanceof HttpError && e.code === 'ERR_HTTP_FORBIDDEN',
    );
  });

  it('maps a network failure to ERR_HTTP_NETWORK without the key in the message', async () => {
    const port = await freePort();
    await assert.rejects(client({ baseUrl: `http://127.0.0.1:${port}`, maxRetries: 1 }).get('/x'), (e) => {
      assert.ok(e instanceof HttpError && e.code === 'ERR_HTTP_NETWORK');
      assert.ok(!e.message.includes(API_KEY));
      return true;
    });
  });

  it('a 2xx with a body that does not parse is ERR_HTTP_INVALID_RESPONSE and leaves the breaker closed', async () => {
    const breaker = new CircuitBreaker({ name: 'test', failureThreshold: 1 });
    const c = client({ breaker });
    await assert.rejects(
      c.get('/broken-json'),
      (e) => e instanceof HttpError && e.code === 'ERR_HTTP_INVALID_RESPONSE',
    );
    assert.equal(breaker.state, 'CLOSED');
    assert.equal(server.hitCount('/broken-json'), 1);
  });

  it('times out an attempt that gets no answer', async () => {
    server.route('/hang', () => {});
    await assert.rejects(client({ attemptTimeoutMs: 100, maxRetries: 0 }).get('/hang'), (e) => {
      assert.ok(e instanceof HttpError && e.code === 'ERR_HTTP_TIMEOUT');
      return true;
    });
  });

  it('sends bearer credentials only to its own origin and does not follow redirects', async () => {
    const c = client({ auth: { type: 'bearer', token: 'sk-test-bearer-token' } });
    const own = await c.get('/echo-auth');
    assert.equal((own.data as { auth: string }).auth, 'Bearer sk-test-bearer-token');
    const other = new TestServer().route('/echo-auth', (req, res) =>
      json(res, 200, { auth: req.headers.authorization ?? null, url: req.url }),
    );
    const otherUrl = await other.listen();
    try {
      const foreign = await c.get(`${otherUrl}/echo-auth`);
      assert.equal((foreign.data as { auth: string | null }).auth, null);
    } finally {
      await other.close();
    }
    await assert.rejects(c.get('/redirect'), (e) => e instanceof HttpError && e.status === 302);
    const q = await client().get('/echo-auth');
    assert.ok((q.data as { url: string }).url.includes(`key=${API_KEY}`));
  });

  it('decodes gzip and brotli, and returns raw bytes for audio', async () => {
    const c = client();
    assert.deepEqual((await c.get('/gzip')).data, { enc: 'gzip' });
    assert.deepEqual((await c.get('/br')).data, { enc: 'br' });
    const audio = await c.get('/audio');
    assert.ok(audio.data instanceof Uint8Array);
    assert.deepEqual([...(audio.data as Uint8Array)], [0xff, 0xfb, 0x90, 0x00]);
    const sent = server.requests.find((r) => r.url.startsWith('/gzip'));
    assert.match(String(sent?.headers['accept-encoding']), /br/);
  });

  it('reads a body that arrives in many chunks, skipping a UTF-8 byte order mark', async () => {
    const data = (await client().get('/chunked')).data as { title: string; n: number };
    assert.equal(data.n, 7);
    assert.equal(data.title, `caf\u00e9 ${'x'.repeat(20_000)}`);
  });

  it('a body cut short is a network error, retried, and the budget is refunded', async () => {
    const budget = new Budget({ name: 'cut', windows: [{ name: 'requests', limit: 100, windowMs: 60_000 }] });
    const before = server.hitCount('/cut-short');
    await assert.rejects(
      client({ budget, maxRetries: 1 }).get('/cut-short'),
      (e) => e instanceof HttpError && e.code === 'ERR_HTTP_NETWORK',
    );
    assert.equal(server.hitCount('/cut-short') - before, 2);
    assert.equal((await budget.usage())[0]!.used, 0);
  });

  it('aborting while the body is arriving ends the call at once with ERR_HTTP_ABORTED', async () => {
    const controller = new AbortController();
    const pending = client().get('/trickle', { signal: controller.signal });
    const before = server.hitCount('/trickle');
    while (server.hitCount('/trickle') === before) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 20));
    const t0 = performance.now();
    controller.abort();
    await assert.rejects(pending, (e) => e instanceof HttpError && e.code === 'ERR_HTTP_ABORTED');
    assert.ok(performance.now() - t0 < 500);
  });

  it('refuses a body past maxResponseBytes, announced or streamed, without retrying; one at the limit passes', async () => {
    const breaker = new CircuitBreaker({ name: 'big', failureThreshold: 1 });
    const c = client({ maxResponseBytes: 1000, breaker });
    for (const path of ['/big', '/big-chunked']) {
      const before = server.hitCount(path);
      await assert.rejects(
        c.get(path),
        (e) =>
          e instanceof HttpError &&
          e.code === 'ERR_HTTP_RESPONSE_TOO_LARGE' &&
          e.status === 200 &&
          /1000 bytes/.test(e.message),
      );
      assert.equal(server.hitCount(path) - before, 1, `${path} was retried`);
    }
    // Our own limit, not the service failing: the breaker (threshold 1) stays closed.
    assert.equal(breaker.state, 'CLOSED');
    const exact = await c.get('/exact');
    assert.equal((exact.data as Uint8Array).length, 1000);
  });

  it('sends FormData as multipart with a generated boundary', async () => {
    const form = new FormData();
    form.append('prompt', 'a cat');
    form.append('image', new Blob([new Uint8Array([1, 2, 3])], { type: 'image/png' }), 'in.png');
    const res = await client({ auth: { type: 'bearer', token: 'sk-stability' } }).post('/form', {
      data: form,
    });
    const { contentType, body } = res.data as { contentType: string; body: string };
    const boundary = /boundary=(.+)$/.exec(contentType)?.[1];
    assert.ok(contentType.startsWith('multipart/form-data') && boundary);
    assert.ok(body.includes(`--${boundary}`));
    assert.ok(body.includes('name="prompt"\r\n\r\na cat'));
    assert.ok(body.includes('filename="in.png"'));
  });

  it('encodes params, arrays as repeated keys or comma form', async () => {
    const repeat = await client().get('/echo-auth', {
      params: { id: ['a b', 'c&d'], part: 'snippet', skip: undefined },
    });
    assert.match((repeat.data as { url: string }).url, /\?id=a\+b&id=c%26d&part=snippet&key=.+$/);
    const comma = await client({ arrayFormat: 'comma', auth: { type: 'none' } }).get('/echo-auth', {
      params: { id: ['a', 'b'] },
    });
    assert.equal((comma.data as { url: string }).url, '/echo-auth?id=a%2Cb');
  });
});
