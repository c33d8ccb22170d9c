/**
 * `h2` cases of the scale suite: requests per second over HTTP/2 on one connection against HTTP/1.1 on a
 * pool of connections, both over TLS to the same server (node:http2 with HTTP/1.1 allowed, in another
 * process so that server work does not share this event loop), in the same run.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { Client, Pool } from 'undici';
import { HttpClient } from '../src/http/index.js';
import { Budget, CircuitBreaker } from '../src/resilience/index.js';
import { selfSignedCertificate } from '../test/support/tls-certificate.js';
import { type BenchResult, compareLoad, log, result } from './lib/harness.js';

const CONCURRENCY = 64;
const STREAMS = 100;

// ~200 bytes of JSON, like a small API answer; ALPN offers h2 and http/1.1.
const SERVER = `
const http2 = require('node:http2');
const [key, cert] = JSON.parse(process.argv[1]);
const body = JSON.stringify({ kind: 'youtube#video', id: 'dQw4w9WgXcQ', etag: 'x'.repeat(40),
  snippet: { title: 'A video title of ordinary length', channelId: 'UC38IQsAvIsxxjztdMZQtwHA', tags: ['a', 'b'] } }).padEnd(200, ' ');
const server = http2.createSecureServer({ key, cert, allowHTTP1: true, settings: { maxConcurrentStreams: ${STREAMS} } },
  (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'));
`;

function startServer(key: string, cert: string): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', SERVER, JSON.stringify([key, cert])], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    child.once('error', reject);
    child.stdout!.once('data', (chunk: Buffer) => resolve({ child, port: Number(chunk.toString().trim()) }));
  });
}

/** Reads a whole answer through `dispatcher.request` (what a plain undici user writes). */
async function rawGet(dispatcher: Pool | Client): Promise<unknown> {
  const { body } = await dispatcher.request({ path: '/v/videos?id=1', method: 'GET' });
  return body.json();
}

export async function h2Cases(options: { quick: boolean }): Promise<BenchResult[]> {
  const seconds = options.quick ? 1 : 3;
  const rounds = options.quick ? 3 : 5;
  const certificate = selfSignedCertificate();
  const ca = certificate.cert;
  const { child, port } = await startServer(certificate.key.toString(), certificate.cert.toString());
  const origin = `https://localhost:${port}`;
  // Raw baselines: HTTP/1.1 on a pool of CONCURRENCY connections, and HTTP/2 on one connection with
  // STREAMS streams (undici needs `pipelining` for that; see src/http/origin-pool.ts).
  const h1Pool = new Pool(origin, { connections: CONCURRENCY, connect: { ca } });
  const h2Raw = new Client(origin, { allowH2: true, pipelining: STREAMS, connect: { ca } });
  const budget = (name: string): Budget =>
    new Budget({ name, windows: [{ name: 'requests', limit: 1e9, windowMs: 60_000 }] });
  const common = {
    baseUrl: `${origin}/v`,
    tls: { ca },
    maxRetries: 3,
  };
  const overH2 = new HttpClient({
    ...common,
    service: 'bench-h2',
    allowH2: true,
    maxConcurrentStreams: STREAMS,
    budget: budget('h2'),
    breaker: new CircuitBreaker({ name: 'h2', failureThreshold: 5 }),
  });
  const overH1 = new HttpClient({
    ...common,
    service: 'bench-h1',
    maxConnections: CONCURRENCY,
    budget: budget('h1'),
    breaker: new CircuitBreaker({ name: 'h1', failureThreshold: 5 }),
  });
  const params = { id: '1' };
  const H1_POOL = `undici Pool.request, HTTP/1.1 over TLS (${CONCURRENCY} connections) + body.json()`;
  const results: BenchResult[] = [];
  try {
    const cases = [
      [
        'h2-client-vs-h1-pool',
        `HttpClient allowH2 (1 connection, ${STREAMS} streams; budget, breaker, retry)`,
        () => overH2.get('videos', { params }),
        H1_POOL,
        () => rawGet(h1Pool),
      ],
      [
        'h2-raw-vs-h1-pool',
        `undici Client.request, HTTP/2 (1 connection, pipelining ${STREAMS}) + body.json()`,
        () => rawGet(h2Raw),
        H1_POOL,
        () => rawGet(h1Pool),
      ],
      [
        'h2-client-vs-h2-raw',
        `HttpClient allowH2 (1 connection, ${STREAMS} streams; budget, breaker, retry)`,
        () => overH2.get('videos', { params }),
        `undici Client.request, HTTP/2 (1 connection, pipelining ${STREAMS}) + body.json()`,
        () => rawGet(h2Raw),
      ],
      [
        'h1-client-vs-h1-pool',
        `HttpClient HTTP/1.1 over TLS (${CONCURRENCY} connections; budget, breaker, retry)`,
        () => overH1.get('videos', { params }),
        H1_POOL,
        () => rawGet(h1Pool),
      ],
    ] as const;
    for (const [name, subject, subjectOp, baseline, baselineOp] of cases) {
      const measured = await compareLoad(name, subjectOp, baselineOp, {
        concurrency: CONCURRENCY,
        seconds,
        rounds,
      });
      results.push(
        result({
          case: name,
          target: 'local TLS (node:http2, allowHTTP1)',
          subject,
          baseline,
          unit: 'ops/s',
          value: measured.subject.opsPerSec,
          baselineValue: measured.baseline.opsPerSec,
          p99Ms: measured.subject.p99Ms,
          baselineP99Ms: measured.baseline.p99Ms,
          params: { concurrency: CONCURRENCY, seconds, rounds, responseBytes: 200, streams: STREAMS },
          extra: {
            cpuUsPerOp: Math.round(measured.subject.cpuUsPerOp * 10) / 10,
            baselineCpuUsPerOp: Math.round(measured.baseline.cpuUsPerOp * 10) / 10,
          },
        }),
      );
    }
  } finally {
    await Promise.all([overH2.close(), overH1.close(), h1Pool.close(), h2Raw.close()]);
    child.kill();
    log('h2: done');
  }
  return results;
}
