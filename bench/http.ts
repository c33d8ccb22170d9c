/**
 * HTTP suite: the whole resilient client against raw undici `Pool.request`, both talking to a tiny
 * node:http server in another process (so server work does not share this event loop).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import http from 'node:http';
import axios from 'axios';
import got from 'got';
import { Pool } from 'undici';
import { type CachedResponse, HttpClient, MemoryResponseCache } from '../src/http/index.js';
import { Budget, CircuitBreaker } from '../src/resilience/index.js';
import { type BenchResult, compareLoad, log, median, result, runLoad } from './lib/harness.js';
import type { SuiteOptions } from './main.js';

const CONCURRENCY = 64;
const TOKEN = 'bench-token-not-secret';

// ~200 bytes of JSON, like a small API answer.
const SERVER = `
const http = require('node:http');
const body = JSON.stringify({ kind: 'youtube#video', id: 'dQw4w9WgXcQ', etag: 'x'.repeat(40),
  snippet: { title: 'A video title of ordinary length', channelId: 'UC38IQsAvIsxxjztdMZQtwHA', tags: ['a', 'b'] } }).padEnd(200, ' ');
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'));
`;

function startServer(): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
    child.once('error', reject);
    child.stdout!.once('data', (chunk: Buffer) => resolve({ child, port: Number(chunk.toString().trim()) }));
  });
}

export async function run(options: SuiteOptions): Promise<BenchResult[]> {
  const seconds = options.quick ? 1 : 3;
  const rounds = options.quick ? 3 : 5;
  const { child, port } = await startServer();
  const origin = `http://127.0.0.1:${port}`;
  const pool = new Pool(origin, { connections: CONCURRENCY });
  // The request HttpClient sends: its default user-agent and accept-encoding and the bearer token. On
  // loopback the kernel's receive work is charged to the sender's write, so ~100 bytes of headers cost
  // the sender a few µs per request; the raw baseline sends the same bytes, so the ratio is the stack's
  // own cost. `full-stack-bare` keeps the header-less baseline as well.
  const headers = {
    'user-agent': 'video-opusclip-bench',
    'accept-encoding': 'gzip, deflate, br',
    authorization: `Bearer ${TOKEN}`,
  };
  const raw = async (): Promise<unknown> => {
    const { body } = await pool.request({ path: '/v/videos?id=1', method: 'GET', headers });
    return body.json();
  };
  const bare = async (): Promise<unknown> => {
    const { body } = await pool.request({ path: '/v/videos?id=1', method: 'GET' });
    return body.json();
  };
  // The floor under Pool.request: a dispatch handler that collects the body, with no Readable stream
  // (what HttpClient itself does), so the stack's own cost stays visible.
  const rawDispatch = (): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      pool.dispatch(
        { origin, path: '/v/videos?id=1', method: 'GET', headers },
        {
          onConnect: () => {},
          onHeaders: () => true,
          onData: (chunk: Buffer) => {
            chunks.push(chunk);
            return true;
          },
          onComplete: () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))),
          onError: reject,
        },
      );
    });
  // The popular clients, each on a keep-alive agent with as many sockets as the pool has connections.
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const axiosClient = axios.create({ baseURL: origin, httpAgent: agent });
  const viaAxios = async (): Promise<unknown> => (await axiosClient.get('/v/videos?id=1')).data;
  const gotClient = got.extend({ prefixUrl: origin, agent: { http: agent }, retry: { limit: 0 } });
  const viaGot = (): Promise<unknown> => gotClient.get('v/videos?id=1').json();
  const client = new HttpClient({
    service: 'bench',
    baseUrl: `${origin}/v`,
    auth: { type: 'bearer', token: TOKEN },
    userAgent: headers['user-agent'],
    maxConnections: CONCURRENCY,
    maxRetries: 3,
    budget: new Budget({ name: 'bench', windows: [{ name: 'requests', limit: 1e9, windowMs: 60_000 }] }),
    breaker: new CircuitBreaker({ name: 'bench', failureThreshold: 5 }),
  });
  const cached = new HttpClient({
    service: 'bench-cached',
    baseUrl: `${origin}/v`,
    maxConnections: CONCURRENCY,
    cache: new MemoryResponseCache<CachedResponse>(),
    enableCaching: true,
    cacheTtlMs: 3_600_000,
  });
  const params = { id: '1' };
  const results: BenchResult[] = [];
  try {
    const SAME = 'undici Pool.request (64 connections, the same request headers) + body.json()';
    const BARE = 'undici Pool.request (64 connections, no request headers) + body.json()';
    const DISPATCH = 'undici Pool.dispatch with a body-collecting handler (same headers) + JSON.parse';
    for (const [name, baselineOp, baseline] of [
      ['full-stack', raw, SAME],
      ['full-stack-bare', bare, BARE],
      ['full-stack-dispatch', rawDispatch, DISPATCH],
    ] as const) {
      const full = await compareLoad(name, () => client.get('videos', { params }), baselineOp, {
        concurrency: CONCURRENCY,
        seconds,
        rounds,
      });
      results.push(
        result({
          case: name,
          target: 'local',
          subject: 'HttpClient (budget, breaker, retry, metrics; no cache)',
          baseline,
          unit: 'ops/s',
          value: full.subject.opsPerSec,
          baselineValue: full.baseline.opsPerSec,
          p99Ms: full.subject.p99Ms,
          baselineP99Ms: full.baseline.p99Ms,
          params: { concurrency: CONCURRENCY, seconds, rounds, responseBytes: 200 },
        }),
      );
    }
    for (const [name, op, subject] of [
      ['axios', viaAxios, 'axios 1.x GET + JSON (keep-alive agent, 64 sockets)'],
      ['got', viaGot, 'got 14 GET + .json() (keep-alive agent, 64 sockets, no retry)'],
    ] as const) {
      const other = await compareLoad(name, op, raw, { concurrency: CONCURRENCY, seconds, rounds });
      results.push(
        result({
          case: name,
          target: 'local',
          subject,
          baseline: SAME,
          unit: 'ops/s',
          value: other.subject.opsPerSec,
          baselineValue: other.baseline.opsPerSec,
          p99Ms: other.subject.p99Ms,
          baselineP99Ms: other.baseline.p99Ms,
          params: { concurrency: CONCURRENCY, seconds, rounds, responseBytes: 200 },
        }),
      );
    }

    // Overhead per request as CPU time of this process (user + system) per request, at the same
    // concurrency: unlike wall-clock latency it barely moves when other processes load the machine.
    const cpuPerRequest = async (op: () => Promise<unknown>): Promise<number> => {
      const before = process.cpuUsage();
      const stats = await runLoad(op, { concurrency: CONCURRENCY, seconds });
      const used = process.cpuUsage(before);
      return (used.user + used.system) / stats.ops;
    };
    await cpuPerRequest(raw);
    await cpuPerRequest(() => client.get('videos', { params }));
    const subjectUs: number[] = [];
    const baselineUs: number[] = [];
    for (let r = 0; r < rounds; r++) {
      if (r % 2 === 0) {
        baselineUs.push(await cpuPerRequest(raw));
        subjectUs.push(await cpuPerRequest(() => client.get('videos', { params })));
      } else {
        subjectUs.push(await cpuPerRequest(() => client.get('videos', { params })));
        baselineUs.push(await cpuPerRequest(raw));
      }
      log(
        `  overhead round ${r + 1}/${rounds}: subject ${subjectUs.at(-1)!.toFixed(1)} us, baseline ${baselineUs.at(-1)!.toFixed(1)} us`,
      );
    }
    const sUs = median(subjectUs);
    const bUs = median(baselineUs);
    results.push(
      result({
        case: 'overhead',
        target: 'local',
        subject: 'HttpClient CPU time per request',
        baseline: 'undici Pool.request (same headers) CPU time per request',
        unit: 'us',
        timeUnit: true,
        value: sUs,
        baselineValue: bUs,
        params: {
          concurrency: CONCURRENCY,
          seconds,
          rounds,
          measure: 'process.cpuUsage (user+system) / requests',
        },
        extra: { overheadUs: Math.round((sUs - bUs) * 10) / 10 },
      }),
    );

    await cached.get('videos', { params });
    const hits = await compareLoad('cached-get', () => cached.get('videos', { params }), raw, {
      concurrency: CONCURRENCY,
      seconds,
      rounds,
    });
    results.push(
      result({
        case: 'cached-get',
        target: 'local',
        subject: 'HttpClient cached GET (MemoryResponseCache hit)',
        baseline: SAME,
        unit: 'ops/s',
        value: hits.subject.opsPerSec,
        baselineValue: hits.baseline.opsPerSec,
        p99Ms: hits.subject.p99Ms,
        baselineP99Ms: hits.baseline.p99Ms,
        params: { concurrency: CONCURRENCY, seconds, rounds },
      }),
    );
  } finally {
    await client.close();
    await cached.close();
    await pool.close();
    agent.destroy();
    child.kill();
  }
  return results;
}
