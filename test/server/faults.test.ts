import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { connect, createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type RunningService, serve } from '../../src/server/index.js';
import { sparePort, startRedis, stopRedis } from '../cache/helpers.js';
import { postgresTarget, type TestTarget } from '../support/databases.js';
import { uniqueName } from '../support/env.js';
import { API_KEY, youtubeUrl } from './helpers.js';

const DEPENDENCY_TIMEOUT_MS = 2000;
const CLOSE_TIMEOUT_MS = 3000;
/** What "answers within its bound" allows on a loaded 2-core machine: the deadline plus slack. */
const ANSWER_BOUND_MS = DEPENDENCY_TIMEOUT_MS + 3000;

/**
 * A TCP proxy in front of the real PostgreSQL, so the test can take the database away from the service:
 * `blackhole()` drops every connection and then accepts new ones without ever answering (the worst
 * case: a host that is gone without a refusal).
 */
async function pgProxy(): Promise<{ port: number; blackhole(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let holding = false;
  const server: Server = createTcpServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => {});
    if (holding) return;
    const upstream = connect(5432, '127.0.0.1');
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    blackhole() {
      holding = true;
      for (const s of sockets) s.destroy();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface Timed {
  status: number;
  ms: number;
  body: Record<string, unknown>;
}

async function timed(base: string, method: string, path: string, body?: object): Promise<Timed> {
  const t0 = performance.now();
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { 'x-api-key': API_KEY, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  const ms = performance.now() - t0;
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // /metrics and the dashboard are not JSON.
  }
  return { status: res.status, ms, body: parsed };
}

describe('the service when Redis or the database is gone', () => {
  let target: TestTarget;
  let redisChild: ChildProcess | undefined;
  let proxy: Awaited<ReturnType<typeof pgProxy>>;
  let running: RunningService | undefined;
  let base = '';
  let videoId = '';
  let jobId = '';
  // What ioredis or BullMQ would print on their own ("[ioredis] Unhandled error event" and a stack).
  const stderr: string[] = [];
  const writeStderr = process.stderr.write.bind(process.stderr);

  before(async () => {
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      stderr.push(String(chunk));
      return (writeStderr as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof process.stderr.write;
    target = postgresTarget();
    await target.url();
    proxy = await pgProxy();
    const redisPort = await sparePort();
    redisChild = await startRedis(redisPort);
    running = await serve({
      databaseUrl: `postgres://postgres@127.0.0.1:${proxy.port}/test`,
      ...(target.schema ? { databaseSchema: target.schema } : {}),
      redisUrl: `redis://127.0.0.1:${redisPort}`,
      queuePrefix: uniqueName('bullfault'),
      port: 0,
      auth: { apiKeys: [API_KEY] },
      logLevel: 'silent',
      dependencyTimeoutMs: DEPENDENCY_TIMEOUT_MS,
      closeTimeoutMs: CLOSE_TIMEOUT_MS,
    });
    base = running.url;
    const created = await timed(base, 'POST', '/api/videos', { url: youtubeUrl() });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    videoId = String(created.body.videoId);
    jobId = String(created.body.jobId);
  });

  after(async () => {
    process.stderr.write = writeStderr;
    await running?.close();
    if (redisChild) await stopRedis(redisChild);
    await proxy?.close();
    await target?.dispose();
  });

  const everyRoute = (): Array<[string, string, object?]> => [
    ['GET', '/healthz'],
    ['GET', '/readyz'],
    ['GET', '/api/videos'],
    ['GET', `/api/videos/${videoId}`],
    ['GET', `/api/videos/${videoId}/clips`],
    ['POST', '/api/videos', { url: youtubeUrl() }],
    ['GET', '/api/jobs'],
    ['GET', `/api/jobs/${jobId}`],
    ['GET', '/api/stats'],
    ['GET', '/api/metrics/summary'],
    ['GET', '/metrics'],
    ['GET', '/'],
    ['GET', '/docs/json'],
  ];

  it('answers every request within its bound while Redis hangs (SIGSTOP): 503 for the queue', async () => {
    assert.ok(redisChild);
    redisChild.kill('SIGSTOP');
    try {
      const answers = await Promise.all(
        everyRoute().map(
          async ([method, path, body]) =>
            [`${method} ${path}`, await timed(base, method, path, body)] as const,
        ),
      );
      for (const [what, a] of answers) {
        assert.ok(a.ms < ANSWER_BOUND_MS, `${what} took ${Math.round(a.ms)} ms`);
        assert.ok(a.status < 500 || a.status === 503, `${what}: ${a.status}`);
      }
      const byRoute = new Map<string, Timed>(answers);
      assert.equal(byRoute.get('GET /healthz')?.status, 200);
      assert.equal(byRoute.get('GET /api/stats')?.status, 200);
      assert.equal(byRoute.get('GET /readyz')?.status, 503);
      for (const queued of ['POST /api/videos', 'GET /api/jobs', `GET /api/jobs/${jobId}`]) {
        assert.equal(byRoute.get(queued)?.status, 503, queued);
        assert.match(String(byRoute.get(queued)?.body.message), /Redis did not answer within/, queued);
      }
    } finally {
      redisChild.kill('SIGCONT');
    }
  });

  it('answers every request within its bound once Redis is killed: 503 for the queue, the rest works', async () => {
    assert.ok(redisChild);
    await stopRedis(redisChild);
    const answers = new Map<string, Timed>();
    await Promise.all(
      everyRoute().map(async ([method, path, body]) => {
        answers.set(`${method} ${path}`, await timed(base, method, path, body));
      }),
    );
    for (const [what, a] of answers) {
      assert.ok(a.ms < ANSWER_BOUND_MS, `${what} took ${Math.round(a.ms)} ms`);
      assert.ok(a.status < 500 || a.status === 503, `${what}: ${a.status}`);
    }
    const status = (what: string) => {
      const a = answers.get(what);
      return a?.status === 200 ? 200 : `${a?.status} ${JSON.stringify(a?.body)}`;
    };
    assert.equal(status('GET /healthz'), 200);
    assert.equal(answers.get('GET /readyz')?.status, 503);
    assert.equal(answers.get('GET /readyz')?.body.status, 'unavailable');
    assert.equal(status('GET /api/videos'), 200);
    assert.equal(status(`GET /api/videos/${videoId}`), 200);
    assert.equal(status('GET /api/stats'), 200);
    assert.equal(answers.get('GET /api/stats')?.body.queue, undefined, 'queue counts left out');
    assert.equal(status('GET /api/metrics/summary'), 200);
    assert.equal(status('GET /metrics'), 200);
    assert.doesNotMatch(
      stderr.join(''),
      /Unhandled error event|ECONNREFUSED/,
      'nothing printed past the logger',
    );
    for (const queued of ['POST /api/videos', 'GET /api/jobs', `GET /api/jobs/${jobId}`]) {
      const a = answers.get(queued);
      assert.equal(a?.status, 503, queued);
      assert.equal(a?.body.code, 'ERR_SERVER_UNAVAILABLE', queued);
      assert.match(String(a?.body.message), /Redis/, queued);
    }
  });

  it('answers within its bound once the database is gone too (503 naming the database)', async () => {
    proxy.blackhole();
    // Reads the service's cache has not seen, so they must go to the database.
    const uncached: Array<[string, string]> = [
      ['GET', '/api/videos?limit=7'],
      ['GET', '/api/videos/00000000-0000-7000-8000-00000000abcd'],
      ['GET', '/api/videos/00000000-0000-7000-8000-00000000abce/clips'],
    ];
    const answers = await Promise.all(
      [...everyRoute(), ...uncached].map(
        async ([method, path, body]) => [`${method} ${path}`, await timed(base, method, path, body)] as const,
      ),
    );
    for (const [what, a] of answers) {
      assert.ok(a.ms < ANSWER_BOUND_MS, `${what} took ${Math.round(a.ms)} ms`);
      assert.ok(a.status < 500 || a.status === 503, `${what}: ${a.status}`);
    }
    const byRoute = new Map<string, Timed>(answers);
    assert.equal(byRoute.get('GET /healthz')?.status, 200);
    // Reads the cache already holds may still be answered from it (200); the others are 503.
    for (const [method, path] of uncached) {
      const what = `${method} ${path}`;
      const a = byRoute.get(what);
      assert.equal(a?.status, 503, what);
      assert.equal(a?.body.code, 'ERR_SERVER_UNAVAILABLE', what);
      assert.match(String(a?.body.message), /database/i, what);
    }
    const ready = byRoute.get('GET /readyz');
    assert.equal(ready?.status, 503);
    assert.equal((ready?.body.checks as { database?: { ok: boolean } } | undefined)?.database?.ok, false);
  });

  it('closes within its bound with requests still pending and both dependencies gone', async () => {
    assert.ok(running);
    const pending = [
      timed(base, 'GET', '/api/stats').catch(() => undefined),
      timed(base, 'GET', '/api/jobs').catch(() => undefined),
      timed(base, 'POST', '/api/videos', { url: youtubeUrl() }).catch(() => undefined),
    ];
    await new Promise((r) => setTimeout(r, 100));
    const t0 = performance.now();
    await running.close();
    const ms = performance.now() - t0;
    running = undefined;
    assert.ok(ms < CLOSE_TIMEOUT_MS + 1500, `close() took ${Math.round(ms)} ms`);
    await Promise.all(pending);
    await assert.rejects(fetch(`${base}/healthz`));
  });
});

describe('serve() without Redis', () => {
  it('runs: queue routes answer 503 saying REDIS_URL is not set, everything else works, on the host asked', async () => {
    const target = postgresTarget();
    const running = await serve({
      databaseUrl: await target.url(),
      ...(target.schema ? { databaseSchema: target.schema } : {}),
      host: '127.0.0.1',
      port: 0,
      auth: { apiKeys: [API_KEY] },
      logLevel: 'silent',
    });
    try {
      assert.match(running.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.notEqual(new URL(running.url).port, '0');
      for (const [method, path, body] of [
        ['POST', '/api/videos', { url: youtubeUrl() }],
        ['GET', '/api/jobs'],
        ['GET', '/api/jobs/yt-abcdefghijk'],
      ] as Array<[string, string, object?]>) {
        const a = await timed(running.url, method, path, body);
        assert.equal(a.status, 503, `${method} ${path}`);
        assert.equal(a.body.code, 'ERR_SERVER_REDIS_NOT_CONFIGURED');
        assert.match(String(a.body.message), /REDIS_URL is not set/);
      }
      const stats = await timed(running.url, 'GET', '/api/stats');
      assert.equal(stats.status, 200);
      assert.equal((stats.body.videos as { total: number }).total, 0, 'the refused POST stored nothing');
      const ready = await timed(running.url, 'GET', '/readyz');
      assert.equal(ready.status, 200);
      assert.deepEqual(Object.keys(ready.body.checks as object), ['database']);
      assert.equal((await timed(running.url, 'GET', '/api/videos')).status, 200);
    } finally {
      await running.close();
      await target.dispose();
    }
  });
});
