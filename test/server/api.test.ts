import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createServer, type OpusServer, serve } from '../../src/server/index.js';
import { postgresTarget } from '../support/databases.js';
import { TEST_REDIS_URL, uniqueName } from '../support/env.js';
import { API_KEY, openService, type ServiceFixture, serviceServer, youtubeUrl } from './helpers.js';

const auth = { 'x-api-key': API_KEY };

describe('REST service', () => {
  let fx: ServiceFixture;
  let server: OpusServer;

  before(async () => {
    fx = await openService();
    server = await serviceServer(fx);
  });

  after(async () => {
    await server?.close();
    await fx?.dispose();
  });

  it('refuses API calls without a valid key and accepts x-api-key or Bearer', async () => {
    const none = await server.app.inject({ method: 'GET', url: '/api/stats' });
    assert.equal(none.statusCode, 401);
    assert.equal(none.json().code, 'ERR_SERVER_UNAUTHORIZED');
    const wrong = await server.app.inject({
      method: 'GET',
      url: '/api/stats',
      headers: { 'x-api-key': 'nope' },
    });
    assert.equal(wrong.statusCode, 401);
    const metrics = await server.app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(metrics.statusCode, 401);
    const header = await server.app.inject({ method: 'GET', url: '/api/stats', headers: auth });
    assert.equal(header.statusCode, 200);
    const bearer = await server.app.inject({
      method: 'GET',
      url: '/api/stats',
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    assert.equal(bearer.statusCode, 200);
    assert.equal(typeof bearer.json().videos.total, 'number');
    const health = await server.app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(health.statusCode, 200);
    assert.equal(health.json().status, 'ok');
  });

  it('needs keys unless auth is explicitly false', async () => {
    await assert.rejects(
      createServer({ db: fx.db, auth: { apiKeys: [] }, logger: { level: 'silent' } }),
      (e: Error & { code?: string }) => e.code === 'ERR_SERVER_CONFIG',
    );
    const open = await createServer({ db: fx.db, auth: false, logger: { level: 'silent' }, docs: false });
    try {
      const res = await open.app.inject({ method: 'GET', url: '/api/stats' });
      assert.equal(res.statusCode, 200);
      // CORS is off by default.
      const pre = await open.app.inject({
        method: 'GET',
        url: '/api/stats',
        headers: { origin: 'http://elsewhere.test' },
      });
      assert.equal(pre.headers['access-control-allow-origin'], undefined);
    } finally {
      await open.close();
    }
    const withCors = await createServer({
      db: fx.db,
      auth: { apiKeys: [API_KEY] },
      cors: { origin: 'http://ui.test' },
      publicMetrics: true,
      logger: { level: 'silent' },
      docs: false,
    });
    try {
      const res = await withCors.app.inject({
        method: 'GET',
        url: '/api/stats',
        headers: { ...auth, origin: 'http://ui.test' },
      });
      assert.equal(res.headers['access-control-allow-origin'], 'http://ui.test');
      const metrics = await withCors.app.inject({ method: 'GET', url: '/metrics' });
      assert.equal(metrics.statusCode, 200);
      const api = await withCors.app.inject({ method: 'GET', url: '/api/stats' });
      assert.equal(api.statusCode, 401);
    } finally {
      await withCors.close();
    }
  });

  it('answers 400 naming the field for bad bodies and parameters', async () => {
    const cases: Array<[string, string, unknown, string]> = [
      ['POST', '/api/videos', {}, 'url'],
      ['POST', '/api/videos', { url: 42 }, 'url'],
      ['POST', '/api/videos', { url: 'https://example.com/not-a-video' }, 'url'],
      ['POST', '/api/videos', { url: youtubeUrl(), extra: 1 }, 'extra'],
      ['GET', '/api/videos?limit=0', undefined, 'limit'],
      ['GET', '/api/videos?status=sleeping', undefined, 'status'],
      ['GET', '/api/videos?cursor=abc', undefined, 'cursor'],
      ['GET', '/api/videos/not-a-uuid', undefined, 'id'],
      ['GET', '/api/jobs?state=nope', undefined, 'state'],
    ];
    for (const [method, url, body, field] of cases) {
      const res = await server.app.inject({
        method: method as 'GET' | 'POST',
        url,
        headers: auth,
        ...(body === undefined ? {} : { payload: body as object }),
      });
      assert.equal(res.statusCode, 400, `${method} ${url} ${JSON.stringify(body)}: ${res.body}`);
      assert.equal(res.json().field, field, `${method} ${url}: ${res.body}`);
    }
  });

  it('creates a video from a URL: 202 with the job id, the request id carried into the job', async () => {
    const url = youtubeUrl();
    const res = await server.app.inject({
      method: 'POST',
      url: '/api/videos',
      headers: { ...auth, 'x-request-id': 'req-test-0042' },
      payload: { url },
    });
    assert.equal(res.statusCode, 202, res.body);
    const body = res.json();
    assert.equal(res.headers['x-request-id'], 'req-test-0042');
    assert.equal(body.requestId, 'req-test-0042');
    assert.match(body.jobId, /^yt-/);
    assert.equal(body.duplicate, false);
    const job = await fx.queue.getJob(body.jobId);
    assert.equal(job?.requestId, 'req-test-0042');
    const video = await server.app.inject({
      method: 'GET',
      url: `/api/videos/${body.videoId}`,
      headers: auth,
    });
    assert.equal(video.statusCode, 200);
    assert.equal(video.json().status, 'pending');
    const again = await server.app.inject({
      method: 'POST',
      url: '/api/videos',
      headers: auth,
      payload: { url },
    });
    assert.equal(again.statusCode, 202);
    assert.equal(again.json().duplicate, true);
    assert.equal(again.json().videoId, body.videoId);

    const jobs = await server.app.inject({ method: 'GET', url: '/api/jobs', headers: auth });
    assert.equal(jobs.statusCode, 200);
    assert.ok(jobs.json().items.some((j: { id: string }) => j.id === body.jobId));
    assert.ok(jobs.json().counts.waiting >= 1);
    const one = await server.app.inject({ method: 'GET', url: `/api/jobs/${body.jobId}`, headers: auth });
    assert.equal(one.statusCode, 200);
    assert.equal(one.json().state, 'waiting');
    const missing = await server.app.inject({
      method: 'GET',
      url: '/api/jobs/yt-nosuchjob00',
      headers: auth,
    });
    assert.equal(missing.statusCode, 404);
  });

  it('lists videos by status with cursor pagination, and all statuses merged', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await fx.store.createVideo({ url: youtubeUrl(), title: `v${i}`, status: 'completed' })).id);
    }
    await fx.store.createVideo({ url: youtubeUrl(), title: 'failed one', status: 'failed' });
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 5 && (page === 0 || cursor); page++) {
      const q: string = `/api/videos?status=completed&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const res = await server.app.inject({ method: 'GET', url: q, headers: auth });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json() as { items: Array<{ id: string; status: string }>; nextCursor: string | null };
      assert.ok(body.items.every((v) => v.status === 'completed'));
      seen.push(...body.items.map((v) => v.id));
      cursor = body.nextCursor;
    }
    assert.deepEqual(seen, [...ids].reverse());
    const all = await server.app.inject({ method: 'GET', url: '/api/videos?limit=500', headers: auth });
    const statuses = new Set(all.json().items.map((v: { status: string }) => v.status));
    assert.ok(statuses.has('completed') && statuses.has('failed') && statuses.has('pending'));
    const nf = await server.app.inject({
      method: 'GET',
      url: '/api/videos/00000000-0000-7000-8000-000000000000',
      headers: auth,
    });
    assert.equal(nf.statusCode, 404);
  });

  it("returns a video's clips with asset URLs", async () => {
    const { id } = await fx.store.createVideo({ url: youtubeUrl(), duration: 120, status: 'completed' });
    await fx.store.createClipRecord(id, {
      startTime: 10,
      endTime: 40,
      title: 'hook',
      thumbnailPath: 'thumbs/a.png',
    });
    await fx.store.createClipRecord(id, {
      startTime: 0,
      endTime: 5,
      narrationPath: `${fx.assetsDir}/n/b.mp3`,
    });
    const res = await server.app.inject({ method: 'GET', url: `/api/videos/${id}/clips`, headers: auth });
    assert.equal(res.statusCode, 200, res.body);
    const items = res.json().items as Array<Record<string, unknown>>;
    assert.equal(items.length, 2);
    const withThumb = items.find((c) => c.title === 'hook');
    assert.equal(withThumb?.thumbnailUrl, '/assets/thumbs/a.png');
    assert.ok(items.some((c) => c.narrationUrl === '/assets/n/b.mp3'));
  });

  it('resolves asset paths stored relative to the working directory (the pipeline writes <assetsDir>/<id>/…)', async () => {
    const { id } = await fx.store.createVideo({ url: youtubeUrl(), duration: 60, status: 'completed' });
    await mkdir(join(fx.assetsDir, id), { recursive: true });
    await writeFile(join(fx.assetsDir, id, 'c0.png'), 'png bytes');
    // What the pipeline stores when the assets dir is given relative to the working directory.
    const stored = relative(process.cwd(), join(fx.assetsDir, id, 'c0.png'));
    assert.ok(!isAbsolute(stored));
    await fx.store.createClipRecord(id, { startTime: 0, endTime: 5, thumbnailPath: stored });
    const res = await server.app.inject({ method: 'GET', url: `/api/videos/${id}/clips`, headers: auth });
    const url = (res.json().items as Array<{ thumbnailUrl: string | null }>)[0]?.thumbnailUrl;
    assert.equal(url, `/assets/${id}/c0.png`);
    const file = await server.app.inject({ method: 'GET', url: url ?? '' });
    assert.equal(file.statusCode, 200);
    assert.equal(file.body, 'png bytes');
  });

  it('publishes an OpenAPI document built from the route schemas', async () => {
    const res = await server.app.inject({ method: 'GET', url: '/docs/json' });
    assert.equal(res.statusCode, 200);
    const doc = res.json();
    assert.equal(doc.openapi, '3.0.3');
    for (const path of [
      '/api/videos',
      '/api/videos/{id}',
      '/api/videos/{id}/clips',
      '/api/jobs',
      '/api/stats',
    ]) {
      assert.ok(doc.paths[path], `missing ${path}`);
    }
    assert.ok(doc.paths['/api/videos'].post.requestBody);
    assert.ok(doc.components.securitySchemes.apiKey);
    const ui = await server.app.inject({ method: 'GET', url: '/docs/' });
    assert.equal(ui.statusCode, 200);
    assert.match(ui.body, /swagger/i);
  });

  it('is ready while PostgreSQL and Redis answer, and 503 once the database is gone', async () => {
    const ready = await server.app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(ready.statusCode, 200, ready.body);
    assert.equal(ready.json().checks.database.ok, true);
    assert.equal(ready.json().checks.redis.ok, true);

    const other = await openService();
    const second = await createServer({
      db: other.db,
      redis: other.redis,
      auth: { apiKeys: [API_KEY] },
      logger: { level: 'silent' },
      readinessTimeoutMs: 500,
    });
    try {
      await other.db.close();
      const down = await second.app.inject({ method: 'GET', url: '/readyz' });
      assert.equal(down.statusCode, 503);
      assert.equal(down.json().checks.database.ok, false);
      assert.equal(down.json().checks.redis.ok, true);
    } finally {
      await second.close();
      await other.dispose();
    }
  });

  it('serves over real HTTP and keeps keys out of the logs', async () => {
    const url = await server.listen();
    const health = await fetch(`${url}/healthz`);
    assert.equal(health.status, 200);
    const stats = await fetch(`${url}/api/stats?key=${API_KEY}`, {
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    // A key in the query string is not a way in, but it must not reach the logs either.
    assert.equal(stats.status, 200);
    const ok = await fetch(`${url}/api/stats`, {
      headers: { 'x-api-key': API_KEY, 'x-request-id': 'log-check-1' },
    });
    assert.equal(ok.status, 200);
    fx.logger.info({ apiKey: API_KEY, dsn: 'x' }, `connecting to postgres://u:hunter2pass@db/x`);
    const text = fx.logLines.join('\n');
    assert.ok(text.includes('log-check-1'), 'request id logged');
    assert.ok(!text.includes(API_KEY), 'API key leaked into logs');
    assert.ok(!text.includes('hunter2pass'), 'URL password leaked into logs');
    assert.ok(text.includes('[Redacted]'));
  });
});

describe('serve(config)', () => {
  it('opens the database, Redis and the queue from plain config, listens, and closes them', async () => {
    const target = postgresTarget();
    const databaseUrl = await target.url();
    const running = await serve({
      databaseUrl,
      ...(target.schema ? { databaseSchema: target.schema } : {}),
      redisUrl: TEST_REDIS_URL,
      queuePrefix: uniqueName('bullserve'),
      port: 0,
      auth: { apiKeys: [API_KEY] },
      logLevel: 'silent',
    });
    try {
      const ready = await fetch(`${running.url}/readyz`);
      assert.equal(ready.status, 200);
      const stats = await fetch(`${running.url}/api/stats`, { headers: { 'x-api-key': API_KEY } });
      assert.equal(stats.status, 200);
      assert.equal(((await stats.json()) as { videos: { total: number } }).videos.total, 0);
    } finally {
      await running.close();
      await target.dispose();
    }
    await assert.rejects(fetch(`${running.url}/healthz`));
  });
});
