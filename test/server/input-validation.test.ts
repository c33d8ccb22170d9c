import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { OpusServer } from '../../src/server/index.js';
import { API_KEY, openService, type ServiceFixture, serviceServer, youtubeUrl } from './helpers.js';

const TABLES = ['videos', 'clips', 'processing_jobs', 'video_stages'];
const JSON_TYPE = { 'content-type': 'application/json' };
const HUGE = '9'.repeat(309);

interface Probe {
  method: 'GET' | 'POST';
  path: string;
  /** A raw body (sent as is) or a value sent as JSON. */
  body?: string | object;
  headers?: Record<string, string>;
  status: number;
  /** The field the 400 must name (required for every 400). */
  field?: string;
  key?: false;
}

/** Every route with inputs that must be refused before anything happens. */
function probes(): Probe[] {
  const yt = youtubeUrl();
  const id = yt.split('v=')[1] ?? '';
  const post = (body: string | object, field: string, status = 400): Probe => ({
    method: 'POST',
    path: '/api/videos',
    body,
    status,
    field,
  });
  const out: Probe[] = [];
  for (const limit of ['Infinity', '-Infinity', 'NaN', '1e400', HUGE, '-1', '0', '501', '1.5', 'abc', '']) {
    out.push({
      method: 'GET',
      path: `/api/videos?limit=${encodeURIComponent(limit)}`,
      status: 400,
      field: 'limit',
    });
    out.push({
      method: 'GET',
      path: `/api/jobs?limit=${encodeURIComponent(limit)}`,
      status: 400,
      field: 'limit',
    });
  }
  out.push(
    { method: 'GET', path: '/api/videos?status=sleeping', status: 400, field: 'status' },
    { method: 'GET', path: '/api/videos?cursor=abc', status: 400, field: 'cursor' },
    { method: 'GET', path: '/api/videos?other=1', status: 400, field: 'other' },
    { method: 'GET', path: '/api/videos/not-a-uuid', status: 400, field: 'id' },
    { method: 'GET', path: `/api/videos/${'a'.repeat(5000)}`, status: 400, field: 'id' },
    { method: 'GET', path: '/api/videos/not-a-uuid/clips', status: 400, field: 'id' },
    { method: 'GET', path: '/api/jobs?state=nope', status: 400, field: 'state' },
    { method: 'GET', path: '/api/jobs/a%20b', status: 400, field: 'id' },
    { method: 'GET', path: '/api/jobs/x:y', status: 400, field: 'id' },
    { method: 'GET', path: `/api/jobs/${'j'.repeat(201)}`, status: 400, field: 'id' },
    post({}, 'url'),
    post({ url: 42 }, 'url'),
    post({ url: '' }, 'url'),
    post({ url: `https://user:pw@youtube.com/watch?v=${id}` }, 'url'),
    post({ url: `https://user@www.youtube.com/watch?v=${id}` }, 'url'),
    post({ url: `${yt}\u0000` }, 'url'),
    post({ url: 'https://example.com/not-a-video' }, 'url'),
    post({ url: 'https://www.youtube.com/watch?v=short' }, 'url'),
    post({ url: `javascript:alert(1)//${yt}` }, 'url'),
    post({ url: `${yt}&x=${'a'.repeat(2100)}` }, 'url'),
    post({ url: yt, priority: 0 }, 'priority'),
    post({ url: yt, priority: 1001 }, 'priority'),
    post({ url: yt, priority: 1.5 }, 'priority'),
    post({ url: yt, priority: 'high' }, 'priority'),
    post(`{"url":"${yt}","priority":1e400}`, 'priority'),
    post({ url: yt, extra: 1 }, 'extra'),
    post([yt], 'body'),
    post('"just a string"', 'body'),
    post('{"url":', 'body'),
    post('', 'body'),
    {
      method: 'POST',
      path: '/api/videos',
      body: yt,
      headers: { 'content-type': 'text/plain' },
      status: 415,
      field: 'content-type',
    },
    {
      method: 'POST',
      path: '/api/videos',
      body: `url=${yt}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      status: 415,
      field: 'content-type',
    },
    post(JSON.stringify({ url: yt, pad: 'x'.repeat(200_000) }), 'body', 413),
    { method: 'GET', path: '/api/nothing-here', status: 404 },
    { method: 'POST', path: '/api/jobs', body: {}, status: 404 },
    { method: 'GET', path: '/assets/missing.png', status: 404 },
    { method: 'GET', path: '/api/videos', status: 401, key: false },
    { method: 'POST', path: '/api/videos', body: { url: yt }, status: 401, key: false },
    { method: 'GET', path: '/api/jobs', status: 401, key: false },
    { method: 'GET', path: '/api/stats', status: 401, key: false },
    { method: 'GET', path: '/metrics', status: 401, key: false },
  );
  return out;
}

describe('validate, then act: bad input over real HTTP', () => {
  let fx: ServiceFixture;
  let server: OpusServer;
  let base = '';

  const rowCounts = async (): Promise<Record<string, number>> => {
    const out: Record<string, number> = {};
    for (const table of TABLES) {
      const res = await fx.db.execute<{ n: number | string }>(
        { sql: `select count(*) as n from ${table}`, parameters: [] },
        { name: 'count' },
      );
      out[table] = Number(res.rows[0]?.n);
    }
    return out;
  };
  const queueState = async () => ({
    counts: await fx.queue.counts(),
    keys: (await fx.redis.keys(`${fx.prefix}:*`)).filter((k) => !k.endsWith(':meta')).sort(),
  });

  before(async () => {
    fx = await openService();
    server = await serviceServer(fx);
    base = await server.listen();
  });

  after(async () => {
    await server?.close();
    await fx?.dispose();
  });

  it('refuses every bad input in the one error shape, naming the field, with no side effect and no 5xx', async () => {
    const rowsBefore = await rowCounts();
    const queueBefore = await queueState();
    assert.deepEqual(Object.values(rowsBefore), [0, 0, 0, 0]);
    assert.ok(Object.values(queueBefore.counts).every((n) => n === 0));

    const list = probes();
    for (const p of list) {
      const headers: Record<string, string> = {
        ...(p.key === false ? {} : { 'x-api-key': API_KEY }),
        ...(p.body !== undefined ? JSON_TYPE : {}),
        ...p.headers,
      };
      const body =
        p.body === undefined ? undefined : typeof p.body === 'string' ? p.body : JSON.stringify(p.body);
      const res = await fetch(`${base}${p.path}`, {
        method: p.method,
        headers,
        ...(body === undefined ? {} : { body }),
      });
      const what = `${p.method} ${p.path.slice(0, 80)} ${typeof body === 'string' ? body.slice(0, 80) : ''}`;
      const text = await res.text();
      assert.equal(res.status, p.status, `${what}: ${text.slice(0, 300)}`);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/, what);
      const json = JSON.parse(text) as Record<string, unknown>;
      assert.equal(json.statusCode, p.status, what);
      assert.match(String(json.code), /^ERR_SERVER_[A-Z_]+$/, what);
      assert.equal(typeof json.error, 'string', what);
      assert.equal(typeof json.message, 'string', what);
      assert.equal(json.requestId, res.headers.get('x-request-id'), what);
      if (p.field !== undefined) assert.equal(json.field, p.field, `${what}: ${text.slice(0, 300)}`);
      if (p.status === 400) assert.equal(typeof json.field, 'string', `every 400 names a field: ${what}`);
      // No internals and no credentials in any answer.
      assert.doesNotMatch(text, /\bat .+\.(?:ts|js):\d+|node_modules|pw@|user:pw/, what);
    }

    assert.deepEqual(await rowCounts(), rowsBefore, 'a refused request wrote rows');
    assert.deepEqual(await queueState(), queueBefore, 'a refused request touched the queue');
  });

  it('answers an unexpected failure 500 in the same shape, with no internals', async () => {
    // A store whose read fails with a programming error (not a dependency being down).
    const broken = Object.create(fx.store) as typeof fx.store;
    broken.stats = () => Promise.reject(new TypeError('cannot read properties of undefined (reading "x")'));
    const other = await serviceServer(fx, { store: broken, logger: { level: 'silent' } });
    try {
      const res = await other.app.inject({
        method: 'GET',
        url: '/api/stats',
        headers: { 'x-api-key': API_KEY },
      });
      assert.equal(res.statusCode, 500);
      const body = res.json() as Record<string, unknown>;
      assert.deepEqual(Object.keys(body).sort(), ['code', 'error', 'message', 'requestId', 'statusCode']);
      assert.equal(body.code, 'ERR_SERVER_INTERNAL');
      assert.equal(body.error, 'Internal Server Error');
      assert.equal(body.message, 'Internal error');
      assert.doesNotMatch(res.body, /reading|TypeError/);
    } finally {
      await other.close();
    }
  });

  it('stores and enqueues only the canonical URL of a good request', async () => {
    const yt = youtubeUrl();
    const res = await fetch(`${base}/api/videos`, {
      method: 'POST',
      headers: { 'x-api-key': API_KEY, ...JSON_TYPE },
      body: JSON.stringify({ url: `  ${yt.replace('https://www.', 'https://m.')}&utm_source=x#t=1  ` }),
    });
    assert.equal(res.status, 202);
    const body = (await res.json()) as { jobId: string; url: string; videoId: string };
    assert.equal(body.url, yt);
    const job = await fx.queue.getJob(body.jobId);
    assert.equal(job?.url, yt);
    assert.equal((await fx.store.getVideoById(body.videoId))?.url, yt);
  });

  it('answers duplicate: false to exactly one of many concurrent POSTs of one video', async () => {
    const yt = youtubeUrl();
    const forms = [
      yt,
      yt.replace('www.', ''),
      `${yt}&t=5`,
      yt.replace('https://www.youtube.com/watch?v=', 'https://youtu.be/'),
    ];
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        fetch(`${base}/api/videos`, {
          method: 'POST',
          headers: { 'x-api-key': API_KEY, ...JSON_TYPE },
          body: JSON.stringify({ url: forms[i % forms.length] }),
        }).then(async (r) => ({
          status: r.status,
          body: (await r.json()) as { duplicate: boolean; videoId: string; jobId: string },
        })),
      ),
    );
    assert.ok(
      answers.every((a) => a.status === 202),
      JSON.stringify(answers.map((a) => a.status)),
    );
    assert.equal(answers.filter((a) => !a.body.duplicate).length, 1, 'exactly one creator');
    assert.equal(new Set(answers.map((a) => a.body.videoId)).size, 1);
    assert.equal(new Set(answers.map((a) => a.body.jobId)).size, 1);
    const jobs = await fx.queue.getJobs(['waiting', 'prioritized', 'active', 'delayed'], 0, 1000);
    assert.equal(jobs.filter((j) => j.url === yt).length, 1);
  });
});
