import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import { after, before, describe, it } from 'node:test';
import {
  elevenLabsCharacterCost,
  nextPacificMidnight,
  openAiUsageCost,
  YOUTUBE_QUOTA_COSTS,
  youtubeQuotaWindows,
} from '../../src/apis/index.js';
import {
  type CachedResponse,
  clientOptionsFromApiConfig,
  HttpClient,
  type HttpClientOptions,
  HttpError,
  MemoryResponseCache,
} from '../../src/http/index.js';
import { Budget, CircuitBreaker } from '../../src/resilience/index.js';
import { FakeClock } from '../../src/testing/index.js';
import { failure, json, TestServer } from './server.js';

const API_KEY = 'yt-key-SECRET-987654321';

describe('HttpClient with budgets, cache and breaker', () => {
  const server = new TestServer();
  const clients: HttpClient[] = [];
  let url = '';
  const hang: Array<() => void> = [];

  const client = (extra: Partial<HttpClientOptions> = {}): HttpClient => {
    const c = new HttpClient({
      service: 'youtube',
      baseUrl: `${url}/youtube/v3`,
      auth: { type: 'query', value: API_KEY },
      retryDelayMs: 5,
      maxRetryDelayMs: 20,
      ...extra,
    });
    clients.push(c);
    return c;
  };

  before(async () => {
    let flaky = 0;
    server
      .route('/youtube/v3/search', (_req, res) => json(res, 200, { items: [{ id: 'v1' }] }))
      .route('/youtube/v3/videos', (_req, res) => {
        setTimeout(() => json(res, 200, { items: [{ id: 'v2' }] }), 30);
      })
      .route('/youtube/v3/slow', (_req, res) => {
        hang.push(() => json(res, 200, {}));
      })
      .route('/youtube/v3/down', (_req, res) => json(res, 500, { error: 'boom' }))
      .route('/youtube/v3/flaky-cache', (_req, res) => {
        if (flaky++ === 0) json(res, 200, { v: 'fresh' });
        else json(res, 503, { error: 'down' });
      })
      .route('/youtube/v3/limits', (_req, res) =>
        json(res, 200, {}, { 'x-ratelimit-remaining-requests': '3', 'x-ratelimit-reset-requests': '6m0s' }),
      )
      .route('/youtube/v3/pause', (_req, res) => json(res, 429, {}, { 'retry-after': '30' }));
    url = await server.listen();
  });

  after(async () => {
    for (const release of hang) release();
    await Promise.all(clients.map((c) => c.close()));
    await server.close();
  });

  it('refuses a search.list that would pass the remaining units before sending it; whole again at Pacific midnight', async () => {
    const clock = new FakeClock(Date.UTC(2026, 6, 15, 18));
    const budget = new Budget({ name: 'youtube', windows: youtubeQuotaWindows(150), clock });
    const c = client({
      clock,
      budget,
      costOf: (_m, op) => ({ units: YOUTUBE_QUOTA_COSTS[op] ?? 1 }),
      quotaResetAt: nextPacificMidnight,
    });
    const before = server.hitCount('/youtube/v3/search');
    await c.get('search', { operation: 'search.list', params: { q: 'cats' } });
    await assert.rejects(c.get('search', { operation: 'search.list', params: { q: 'dogs' } }), (e) => {
      assert.ok(e instanceof HttpError);
      assert.equal(e.code, 'ERR_HTTP_QUOTA_EXHAUSTED');
      assert.equal(e.retryAt, Date.UTC(2026, 6, 16, 7));
      return true;
    });
    assert.equal(server.hitCount('/youtube/v3/search'), before + 1);
    await clock.setTime(Date.UTC(2026, 6, 16, 7));
    await c.get('search', { operation: 'search.list', params: { q: 'dogs' } });
    assert.equal(server.hitCount('/youtube/v3/search'), before + 2);
    const metrics = await c.getApiMetrics();
    assert.deepEqual(metrics.quota, [{ name: 'units', limit: 150, used: 100, remaining: 50 }]);
    assert.equal(metrics.errorsByType.ERR_HTTP_QUOTA_EXHAUSTED, 1);
  });

  it('coalesces five concurrent identical GETs into one call, and cache hits cost no quota', async () => {
    const clock = new FakeClock(Date.UTC(2026, 6, 15, 18));
    const budget = new Budget({ name: 'youtube', windows: youtubeQuotaWindows(100), clock });
    const cache = new MemoryResponseCache<CachedResponse>();
    const c = client({ clock, budget, cache, enableCaching: true, cacheTtlMs: 60_000 });
    const before = server.hitCount('/youtube/v3/videos');
    const results = await Promise.all(
      Array.from({ length: 5 }, () => c.get('videos', { params: { id: 'v2', part: 'snippet' } })),
    );
    assert.equal(server.hitCount('/youtube/v3/videos'), before + 1);
    assert.ok(results.every((r) => (r.data as { items: unknown[] }).items.length === 1));
    // Same params in another order: a cache hit, no request, no quota.
    const hit = await c.get('videos', { params: { part: 'snippet', id: 'v2' } });
    assert.equal(hit.fromCache, true);
    assert.equal(server.hitCount('/youtube/v3/videos'), before + 1);
    assert.equal((await budget.usage())[0]!.used, 1);
    const metrics = await c.getApiMetrics();
    assert.equal(metrics.cacheHits, 5);
    assert.equal(metrics.cacheMisses, 1);
  });

  it("a joined caller's own signal ends its wait, and the shared request goes on for the first", async () => {
    const c = client({ cache: new MemoryResponseCache<CachedResponse>(), enableCaching: true });
    const before = server.hitCount('/youtube/v3/videos');
    const params = { id: 'joined' };
    const first = c.get('videos', { params });
    const aborted = new AbortController();
    const joined = c.get('videos', { params, signal: aborted.signal });
    const timedOut = c.get('videos', { params, signal: AbortSignal.timeout(5) });
    aborted.abort();
    assert.equal((await failure(joined)).code, 'ERR_HTTP_ABORTED');
    assert.equal((await failure(timedOut)).code, 'ERR_HTTP_TIMEOUT');
    assert.equal((await first).status, 200);
    assert.equal(server.hitCount('/youtube/v3/videos'), before + 1);
  });

  it('keys the cache without the credential and lets an explicit cacheKey win', async () => {
    const keys: string[] = [];
    const inner = new MemoryResponseCache<CachedResponse>();
    const cache = {
      get: (k: string) => {
        keys.push(k);
        return inner.get(k);
      },
      set: (k: string, v: CachedResponse, o: { ttlMs: number }) => inner.set(k, v, o),
    };
    const c = client({ cache, enableCaching: true });
    await c.get('search', { params: { q: 'x' } });
    await c.get('search', { params: { q: 'x' }, cacheKey: 'mine' });
    assert.equal(keys.length, 2);
    assert.ok(!keys[0]!.includes(API_KEY));
    assert.match(keys[0]!, /q=x/);
    assert.equal(keys[1], 'mine');
  });

  it('caches a POST only when asked, keyed by its body', async () => {
    const cache = new MemoryResponseCache<CachedResponse>();
    const c = client({ cache, enableCaching: true });
    const before = server.hitCount('/youtube/v3/search');
    await c.post('search', { data: { q: 'a' } });
    await c.post('search', { data: { q: 'a' } });
    assert.equal(server.hitCount('/youtube/v3/search'), before + 2);
    await c.post('search', { data: { q: 'a' }, useCache: true });
    const hit = await c.post('search', { data: { q: 'a' }, useCache: true });
    assert.equal(hit.fromCache, true);
    const other = await c.post('search', { data: { q: 'b' }, useCache: true });
    assert.equal(other.fromCache, false);
    assert.equal(server.hitCount('/youtube/v3/search'), before + 4);
  });

  it('serves a stale cached answer when the service fails (stale-if-error)', async () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 1));
    const cache = new MemoryResponseCache<CachedResponse>();
    const c = client({
      clock,
      cache,
      enableCaching: true,
      cacheTtlMs: 1000,
      staleIfErrorMs: 60_000,
      maxRetries: 0,
    });
    assert.deepEqual((await c.get('flaky-cache')).data, { v: 'fresh' });
    await clock.advance(2000);
    const stale = await c.get('flaky-cache');
    assert.equal(stale.stale, true);
    assert.deepEqual(stale.data, { v: 'fresh' });
    assert.equal(server.hitCount('/youtube/v3/flaky-cache'), 2);
  });

  it('aborting mid-request frees the connection and the reserved budget', async () => {
    const budget = new Budget({
      name: 'el',
      windows: [{ name: 'concurrent', kind: 'concurrent', limit: 1 }],
    });
    const c = client({ budget, maxConnections: 1 });
    const controller = new AbortController();
    const before = server.hitCount('/youtube/v3/slow');
    const pending = c.get('slow', { signal: controller.signal });
    while (server.hitCount('/youtube/v3/slow') === before) await new Promise((r) => setTimeout(r, 5));
    controller.abort();
    await assert.rejects(pending, (e) => e instanceof HttpError && e.code === 'ERR_HTTP_ABORTED');
    assert.equal((await budget.usage())[0]!.used, 0);
    // One connection, one concurrency slot: both must be free for this to pass within its deadline.
    const res = await c.get('search', { deadlineMs: 2000 });
    assert.equal(res.status, 200);
    assert.equal(c.pending, 0);
  });

  it('fails at once with ERR_HTTP_QUEUE_FULL past the bounded queue', async () => {
    const c = client({ maxConnections: 1, maxQueue: 1 });
    const controller = new AbortController();
    const a = c.get('slow', { signal: controller.signal });
    const b = c.get('slow', { signal: controller.signal });
    await assert.rejects(c.get('search'), (e) => e instanceof HttpError && e.code === 'ERR_HTTP_QUEUE_FULL');
    controller.abort();
    await Promise.allSettled([a, b]);
    assert.equal(c.pending, 0);
  });

  it('opens the breaker on server errors and then fails without calling', async () => {
    const breaker = new CircuitBreaker({ name: 'youtube', failureThreshold: 2, halfOpenAfterMs: 60_000 });
    const states: string[] = [];
    const onBreaker = (m: unknown): void => {
      states.push((m as { state: string }).state);
    };
    diagnostics.subscribe('opusclip:http:breaker', onBreaker);
    try {
      const c = client({ breaker, maxRetries: 0 });
      const before = server.hitCount('/youtube/v3/down');
      await assert.rejects(
        c.get('down'),
        (e) => e instanceof HttpError && e.code === 'ERR_HTTP_SERVER_ERROR',
      );
      await assert.rejects(c.get('down'));
      await assert.rejects(c.get('down'), (e) => {
        assert.ok(e instanceof HttpError && e.code === 'ERR_HTTP_CIRCUIT_OPEN');
        assert.ok(e.retryAt! > Date.now());
        return true;
      });
      assert.equal(server.hitCount('/youtube/v3/down'), before + 2);
      const m = await c.getApiMetrics();
      assert.equal(m.breakerState, 'OPEN');
      assert.equal(m.breakerTransitions, 1);
      assert.equal(m.failedRequests, 3);
      assert.equal(m.errorsByType.ERR_HTTP_CIRCUIT_OPEN, 1);
      assert.deepEqual(states, ['OPEN']);
    } finally {
      diagnostics.unsubscribe('opusclip:http:breaker', onBreaker);
    }
  });

  it('a 429 with Retry-After pauses the service budget for every caller', async () => {
    const budget = new Budget({
      name: 'openai',
      windows: [{ name: 'requests', limit: 100, windowMs: 60_000 }],
    });
    const c = client({ budget, deadlineMs: 5000 });
    const before = server.hitCount('/youtube/v3/search');
    await assert.rejects(c.get('pause'), (e) => e instanceof HttpError && e.code === 'ERR_HTTP_RATE_LIMITED');
    await assert.rejects(c.get('search'), (e) => {
      assert.ok(e instanceof HttpError && e.code === 'ERR_HTTP_RATE_LIMITED');
      assert.ok(e.retryAt! > Date.now() + 20_000);
      return true;
    });
    assert.equal(server.hitCount('/youtube/v3/search'), before);
  });

  it('corrects the local budget from x-ratelimit-remaining headers', async () => {
    const budget = new Budget({
      name: 'openai',
      windows: [{ name: 'requests', limit: 100, windowMs: 60_000 }],
    });
    const c = client({ budget });
    await c.get('limits');
    for (let i = 0; i < 20 && (await budget.usage())[0]!.remaining !== 3; i++)
      await new Promise((r) => setTimeout(r, 5));
    assert.equal((await budget.usage())[0]!.remaining, 3);
  });

  it('reports per-endpoint metrics and publishes on diagnostics channels', async () => {
    const seen: unknown[] = [];
    const onResponse = (m: unknown): void => {
      seen.push(m);
    };
    diagnostics.subscribe('opusclip:http:response', onResponse);
    try {
      const c = client();
      await c.get('search', { operation: 'search.list' });
      await c.get('search', { operation: 'search.list' });
      await c.get('down', { maxRetries: 0 }).catch(() => {});
      const m = await c.getApiMetrics();
      assert.equal(m.totalRequests, 3);
      assert.equal(m.successfulRequests, 2);
      assert.equal(m.failedRequests, 1);
      assert.ok(Math.abs(m.successRate - 2 / 3) < 1e-9);
      assert.deepEqual(m.requestsByEndpoint, { 'search.list': 2, '/youtube/v3/down': 1 });
      assert.ok(m.latency.p99Ms >= m.latency.p50Ms && m.latency.p50Ms > 0);
      assert.equal(seen.length, 2);
      assert.ok(!JSON.stringify(seen).includes(API_KEY));
      assert.ok(!JSON.stringify(m).includes(API_KEY));
    } finally {
      diagnostics.unsubscribe('opusclip:http:response', onResponse);
    }
  });
});

describe('HttpClient cost accounting and configuration', () => {
  const server = new TestServer();
  let url = '';
  const clients: HttpClient[] = [];

  before(async () => {
    server
      .route('/v1/chat/completions', (_req, res) => json(res, 200, { usage: { total_tokens: 120 } }))
      .route('/v1/text-to-speech', (req, res) => {
        res.writeHead(200, { 'content-type': 'audio/mpeg', 'character-cost': '42' }).end(Buffer.from([1, 2]));
        void req;
      })
      .route('/v1/hang', () => {});
    url = await server.listen();
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await server.close();
  });

  it('commits the actual OpenAI token usage instead of the estimate', async () => {
    const budget = new Budget({
      name: 'openai',
      windows: [
        { name: 'requests', limit: 100, windowMs: 60_000 },
        { name: 'tokens', limit: 10_000, windowMs: 60_000 },
      ],
    });
    const c = new HttpClient({
      service: 'openai',
      baseUrl: `${url}/v1`,
      budget,
      actualCost: openAiUsageCost,
    });
    clients.push(c);
    await c.post('chat/completions', { data: { model: 'x' }, cost: { requests: 1, tokens: 4000 } });
    assert.deepEqual(
      (await budget.usage()).map((u) => u.used),
      [1, 120],
    );
  });

  it('commits the ElevenLabs character-cost header and releases the concurrency slot', async () => {
    const budget = new Budget({
      name: 'elevenlabs',
      windows: [
        { name: 'characters', kind: 'calendar', limit: 10_000, nextReset: (now) => now + 86_400_000 },
        { name: 'concurrent', kind: 'concurrent', limit: 2 },
      ],
    });
    const c = new HttpClient({
      service: 'elevenlabs',
      baseUrl: `${url}/v1`,
      auth: { type: 'header', name: 'xi-api-key', value: 'xi-secret' },
      budget,
      actualCost: elevenLabsCharacterCost,
    });
    clients.push(c);
    const res = await c.post('text-to-speech', {
      data: { text: 'hello' },
      cost: { characters: 100, concurrent: 1 },
    });
    assert.ok(res.data instanceof Uint8Array);
    assert.equal(server.requests.at(-1)!.headers['xi-api-key'], 'xi-secret');
    assert.deepEqual(
      (await budget.usage()).map((u) => u.used),
      [42, 0],
    );
  });

  it('the total deadline bounds an attempt that would otherwise wait for its own timeout', async () => {
    const c = new HttpClient({
      service: 'slow',
      baseUrl: `${url}/v1`,
      attemptTimeoutMs: 30_000,
      deadlineMs: 300,
    });
    clients.push(c);
    const started = Date.now();
    await assert.rejects(c.get('hang'), (e) => e instanceof HttpError && e.code === 'ERR_HTTP_TIMEOUT');
    assert.ok(Date.now() - started < 5000);
  });

  it('maps an APIConfig onto client options, rate limits included', async () => {
    const clock = new FakeClock(0);
    const options = clientOptionsFromApiConfig(
      'stability',
      {
        baseUrl: `${url}/v1`,
        apiKey: 'sk-stab',
        attemptTimeoutMs: 30_000,
        maxRetries: 2,
        retryDelayMs: 500,
        rateLimitPerMinute: 2,
        rateLimitPerHour: 100,
        enableCaching: true,
        cacheTtlMs: 60_000,
        maxConnections: 10,
        maxConnectionsPerHost: 4,
        userAgent: 'opus-test',
        headers: { 'X-Extra': '1' },
      },
      { clock },
    );
    assert.equal(options.attemptTimeoutMs, 30_000);
    assert.equal(options.retryDelayMs, 500);
    assert.equal(options.cacheTtlMs, 60_000);
    assert.deepEqual(options.auth, { type: 'bearer', token: 'sk-stab' });
    assert.deepEqual(
      options.budget?.windows.map((w) => w.limit),
      [2, 100],
    );
    const c = new HttpClient(options);
    clients.push(c);
    await c.post('chat/completions', { data: {} });
    await c.post('chat/completions', { data: {} });
    // The third call in the same minute cannot be served before a short deadline.
    await assert.rejects(
      c.post('chat/completions', { data: {}, deadlineMs: 1000 }),
      (e) => e instanceof HttpError && e.code === 'ERR_HTTP_RATE_LIMITED',
    );
    const sent = server.requests.at(-1)!;
    assert.equal(sent.headers['user-agent'], 'opus-test');
    assert.equal(sent.headers['x-extra'], '1');
    assert.equal(sent.headers.authorization, 'Bearer sk-stab');
  });
});
