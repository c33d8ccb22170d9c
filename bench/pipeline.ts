/**
 * Pipeline suite: videos per minute on one machine and on three worker processes, API calls against the
 * minimum, our CPU time against wall time per video, and the CLI's peak memory for 10,000 vs 1,000 URLs.
 * Everything runs against the sandbox in a process of its own (zero latency) and PostgreSQL, so the CPU
 * and memory figures hold only the pipeline. Provider limits are raised to a high tier (see
 * test/pipeline/fixtures/bench-runtime.ts) so the figures measure the pipeline, not the default quotas.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { PipelineQueue } from '../src/pipeline/pipeline-queue.js';
import { readVideoUrls } from '../src/pipeline/read-video-urls.js';
import { HIGH_TIER_SANDBOX, openBenchRuntime } from '../test/pipeline/fixtures/bench-runtime.js';
import { TEST_PG_URL, TEST_REDIS_URL, uniqueName } from '../test/support/env.js';
import { type BenchResult, log, median, result, scriptArgs } from './lib/harness.js';
import type { SuiteOptions } from './main.js';

const FIXTURES = fileURLToPath(new URL('../test/pipeline/fixtures/', import.meta.url));
const CONCURRENCY = 4;
const WORKERS = 3;

interface SandboxStats {
  total: number;
  byVendor: Record<string, number>;
  byStatus: Record<string, number>;
  chaos: number;
}

/** The sandbox child: a line-oriented command channel over stdin/stdout. */
class SandboxProcess {
  readonly child: ChildProcess;
  readonly #lines: Interface;
  readonly #waiting: Array<(line: string) => void> = [];
  url = '';

  constructor() {
    this.child = spawn(
      process.execPath,
      [...scriptArgs(join(FIXTURES, 'sandbox-server.ts')), JSON.stringify(HIGH_TIER_SANDBOX)],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    this.#lines = createInterface({ input: this.child.stdout! });
    this.#lines.on('line', (line) => this.#waiting.shift()?.(line));
  }

  #next(): Promise<string> {
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  async start(): Promise<void> {
    this.url = await this.#next();
  }

  async command(name: 'stats' | 'reset' | `latency ${number}`): Promise<string> {
    const reply = this.#next();
    this.child.stdin!.write(`${name}\n`);
    return reply;
  }

  async stats(): Promise<SandboxStats> {
    return JSON.parse(await this.command('stats')) as SandboxStats;
  }

  async close(): Promise<void> {
    this.child.stdin!.end();
    await once(this.child, 'exit');
  }
}

/** Distinct ids the sandbox knows: 11 characters, never one of its "missing" patterns. */
function idMaker(tag: string): (n: number) => string[] {
  let next = 0;
  return (n) =>
    Array.from({ length: n }, () => `p${tag}${(next++).toString(36).padStart(10 - tag.length, '0')}`);
}

/** Minimum calls: 1 videos.list per 50 ids, 1 highlights call per video, 1 thumbnail + 1 narration per clip. */
function minimumCalls(videos: number, clips: number, listCalls = Math.ceil(videos / 50)): number {
  return listCalls + videos + 2 * clips;
}

async function clipCount(schema: string, ids: readonly string[]): Promise<number> {
  const client = new pg.Client({ connectionString: TEST_PG_URL });
  await client.connect();
  try {
    const urls = ids.map((id) => `https://www.youtube.com/watch?v=${id}`);
    const r = await client.query(
      `SELECT count(*)::int AS n FROM ${schema}.clips c JOIN ${schema}.videos v ON v.id = c.video_id
       WHERE v.url = ANY($1) AND v.status = 'completed'`,
      [urls],
    );
    return (r.rows[0] as { n: number }).n;
  } finally {
    await client.end();
  }
}

export async function run(options: SuiteOptions): Promise<BenchResult[]> {
  const videos = options.quick ? 60 : 200;
  const rounds = 3;
  const schema = uniqueName('bench_pipeline').toLowerCase();
  const prefix = uniqueName('bench-pipeline');
  const admin = new pg.Client({ connectionString: TEST_PG_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  const databaseUrl = `${TEST_PG_URL}?schema=${schema}`;
  const assetsDir = await mkdtemp(join(tmpdir(), 'bench-pipeline-'));
  const sandbox = new SandboxProcess();
  const workerProcs: ChildProcess[] = [];
  const ids = idMaker(Math.random().toString(36).slice(2, 5));
  const results: BenchResult[] = [];
  try {
    await sandbox.start();
    const runtime = await openBenchRuntime({
      databaseUrl,
      redisUrl: TEST_REDIS_URL,
      sandboxUrl: sandbox.url,
      assetsDir,
      prefix,
      workerMode: false,
    });
    const queueName = 'bench-videos';
    const queue = new PipelineQueue({ connection: TEST_REDIS_URL, name: queueName, prefix });
    const workerArgs = JSON.stringify({
      databaseUrl,
      redisUrl: TEST_REDIS_URL,
      sandboxUrl: sandbox.url,
      assetsDir,
      prefix,
      queueName,
      concurrency: CONCURRENCY,
    });
    const cpuOfWorkers: Array<Promise<number>> = [];
    for (let i = 0; i < WORKERS; i++) {
      const child = spawn(process.execPath, [...scriptArgs(join(FIXTURES, 'bench-worker.ts')), workerArgs], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      workerProcs.push(child);
      const lines = createInterface({ input: child.stdout! });
      const ready = new Promise<void>((resolve) => {
        let cpuResolve: (n: number) => void = () => {};
        cpuOfWorkers.push(new Promise<number>((r) => (cpuResolve = r)));
        lines.on('line', (line) => {
          if (line === 'ready') resolve();
          const m = /^cpu=(\d+)$/.exec(line);
          if (m) cpuResolve(Number(m[1]));
        });
      });
      await ready;
    }
    // Setup (migrations) ran in every process; the database is warm for both subjects.
    await runtime.pipeline.run(readVideoUrls(ids(10).map((id) => `https://youtu.be/${id}`)), {
      concurrency: CONCURRENCY,
    });

    interface RoundFigures {
      perMinute: number;
      calls: number;
      minimum: number;
      cpuMsPerVideo: number;
      wallMsPerVideo: number;
      failed: number;
    }
    const one: RoundFigures[] = [];
    const three: RoundFigures[] = [];

    const runOne = async (): Promise<RoundFigures> => {
      const batch = ids(videos);
      await sandbox.command('reset');
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const summary = await runtime.pipeline.run(readVideoUrls(batch.map((id) => `https://youtu.be/${id}`)), {
        concurrency: CONCURRENCY,
      });
      const wall = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      const stats = await sandbox.stats();
      const clips = await clipCount(schema, batch);
      return {
        perMinute: (summary.completed / wall) * 60_000,
        calls: stats.total,
        minimum: minimumCalls(summary.completed, clips),
        cpuMsPerVideo: (cpu.user + cpu.system) / 1000 / videos,
        // A video holds one of the CONCURRENCY slots for this long on average.
        wallMsPerVideo: (wall * CONCURRENCY) / videos,
        failed: summary.failed,
      };
    };

    const runThree = async (count = videos, latencyMs = 0): Promise<RoundFigures> => {
      const batch = ids(count);
      await sandbox.command('reset');
      if (latencyMs > 0) await sandbox.command(`latency ${latencyMs}`);
      const before = await queue.counts();
      const t0 = performance.now();
      await queue.enqueue(batch.map((id) => `https://youtu.be/${id}`));
      let after = before;
      const deadline = Date.now() + 240_000;
      while (after.completed + after.failed < before.completed + before.failed + count) {
        if (Date.now() > deadline) throw new Error(`workers stalled: ${JSON.stringify(after)}`);
        await sleep(25);
        after = await queue.counts();
      }
      const wall = performance.now() - t0;
      const completed = after.completed - before.completed;
      const stats = await sandbox.stats();
      const clips = await clipCount(schema, batch);
      return {
        perMinute: (completed / wall) * 60_000,
        calls: stats.total,
        // Each job fetches its own metadata: the minimum for workers is still 1 list call per 50 ids.
        minimum: minimumCalls(completed, clips),
        cpuMsPerVideo: 0,
        wallMsPerVideo: (wall * CONCURRENCY * WORKERS) / count,
        failed: after.failed - before.failed,
      };
    };

    for (let r = 0; r < rounds; r++) {
      if (r % 2 === 0) {
        one.push(await runOne());
        three.push(await runThree());
      } else {
        three.push(await runThree());
        one.push(await runOne());
      }
      log(
        `  pipeline round ${r + 1}/${rounds}: 1 worker ${one.at(-1)!.perMinute.toFixed(0)} videos/min, ${WORKERS} workers ${three.at(-1)!.perMinute.toFixed(0)} videos/min`,
      );
    }

    const m = (xs: RoundFigures[], k: keyof RoundFigures): number => median(xs.map((x) => x[k]));
    const params = { videos, rounds, concurrencyPerWorker: CONCURRENCY, sandboxLatencyMs: 0 };
    results.push(
      result({
        case: 'throughput',
        target: 'postgres+redis',
        subject: `${WORKERS} worker processes (startPipelineWorker, BullMQ)`,
        baseline: '1 process (VideoPipeline.run)',
        unit: 'videos/min',
        value: m(three, 'perMinute'),
        baselineValue: m(one, 'perMinute'),
        params: { ...params, workers: WORKERS },
        extra: { failedVideos: m(three, 'failed') + m(one, 'failed') },
      }),
    );
    for (const [name, rows] of [
      ['1 process (VideoPipeline.run)', one],
      [`${WORKERS} worker processes`, three],
    ] as const) {
      const calls = m(rows, 'calls');
      const minimum = m(rows, 'minimum');
      results.push(
        result({
          case: 'api-calls',
          target: 'sandbox',
          subject: name,
          baseline: 'minimum (1 videos.list per 50 + 1 highlights per video + 2 per clip)',
          unit: 'calls',
          value: calls,
          baselineValue: minimum,
          timeUnit: true,
          params,
          extra: { callsOverMinimum: Math.round((calls / minimum) * 1000) / 1000 },
        }),
      );
    }
    // With no latency a metadata call ends before the next job asks, so there is little to merge; with
    // an API's real latency the jobs' lookups overlap and go together (coalesceVideoLookups).
    const LATENCY_MS = 50;
    const slow = await runThree(Math.min(videos, 60), LATENCY_MS);
    await sandbox.command('reset');
    results.push(
      result({
        case: 'api-calls',
        target: 'sandbox',
        subject: `${WORKERS} worker processes, sandbox latency ${LATENCY_MS} ms`,
        baseline: 'minimum (1 videos.list per 50 + 1 highlights per video + 2 per clip)',
        unit: 'calls',
        value: slow.calls,
        baselineValue: slow.minimum,
        timeUnit: true,
        params: { ...params, videos: Math.min(videos, 60), rounds: 1, sandboxLatencyMs: LATENCY_MS },
        extra: { callsOverMinimum: Math.round((slow.calls / slow.minimum) * 1000) / 1000 },
      }),
    );
    log(
      `  ${WORKERS} workers at ${LATENCY_MS} ms latency: ${slow.calls} calls for a minimum of ${slow.minimum}`,
    );
    const cpuMs = m(one, 'cpuMsPerVideo');
    const wallMs = m(one, 'wallMsPerVideo');
    results.push(
      result({
        case: 'time-split',
        target: 'postgres+redis',
        subject: 'CPU time in our process per video (process.cpuUsage)',
        baseline: 'wall time per video (slot time: elapsed x concurrency / videos)',
        unit: 'ms',
        value: cpuMs,
        baselineValue: wallMs,
        timeUnit: true,
        params,
        extra: {
          ourCodeShare: Math.round((cpuMs / wallMs) * 1000) / 1000,
          waitingShare: Math.round((1 - cpuMs / wallMs) * 1000) / 1000,
        },
      }),
    );

    await queue.close();
    await runtime.close();
    for (const child of workerProcs) child.kill('SIGTERM');
    const workerCpu = await Promise.all(cpuOfWorkers);
    log(`  worker CPU seconds: ${workerCpu.map((us) => (us / 1e6).toFixed(1)).join(', ')}`);
    workerProcs.length = 0;

    results.push(await memoryCase(options, databaseUrl, sandbox.url, assetsDir));
    return results;
  } finally {
    for (const child of workerProcs) child.kill('SIGKILL');
    await sandbox.close().catch(() => {});
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
    await rm(assetsDir, { recursive: true, force: true });
    await cleanRedis(prefix);
  }
}

/**
 * Peak RSS of `opusclip process --file` for 10,000 and 1,000 URLs. The CLI's own OpenAI budget (500
 * requests a minute, not configurable from the CLI) would make 10,000 highlights calls take 20 minutes,
 * so every URL names a video the sandbox reports as not found: each goes through the file reader, the
 * 50-id metadata batches, the store (a failed video row) and the summary, but makes no highlights call.
 */
async function memoryCase(
  options: SuiteOptions,
  databaseUrl: string,
  sandboxUrl: string,
  assetsDir: string,
): Promise<BenchResult> {
  const small = 1000;
  const large = options.quick ? 5000 : 10_000;
  const dir = await mkdtemp(join(tmpdir(), 'bench-pipeline-urls-'));
  try {
    let offset = Math.floor(Math.random() * 1_000_000);
    const file = async (n: number): Promise<string> => {
      const path = join(dir, `urls-${n}.txt`);
      const lines = Array.from(
        { length: n },
        () => `https://www.youtube.com/watch?v=missing${(offset++).toString(36).padStart(4, '0').slice(-4)}`,
      );
      await writeFile(path, `${lines.join('\n')}\n`);
      return path;
    };
    const measure = async (n: number): Promise<{ rssKb: number; seconds: number }> => {
      const path = await file(n);
      const t0 = performance.now();
      const child = spawn(
        process.execPath,
        [
          ...scriptArgs(join(FIXTURES, 'opusclip-cli.ts')),
          'process',
          '--file',
          path,
          '--json',
          '--no-narration',
          '--no-thumbnails',
          '--concurrency',
          String(CONCURRENCY),
        ],
        {
          env: {
            PATH: process.env.PATH ?? '',
            HOME: process.env.HOME ?? tmpdir(),
            DATABASE_URL: databaseUrl,
            OPUSCLIP_SANDBOX_URL: sandboxUrl,
            OPUSCLIP_ASSETS_DIR: assetsDir,
            OPUSCLIP_FIXTURE_RSS: '1',
          },
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      let err = '';
      child.stderr!.on('data', (c: Buffer) => {
        err = (err + c.toString()).slice(-4000);
      });
      await once(child, 'exit');
      const rss = /maxRSS=(\d+)/.exec(err);
      if (!rss) throw new Error(`opusclip process reported no maxRSS:\n${err}`);
      return { rssKb: Number(rss[1]), seconds: (performance.now() - t0) / 1000 };
    };
    const smallRuns: number[] = [];
    const largeRuns: number[] = [];
    for (let r = 0; r < 3; r++) {
      const s = await measure(small);
      const l = await measure(large);
      smallRuns.push(s.rssKb);
      largeRuns.push(l.rssKb);
      log(
        `  memory round ${r + 1}/3: ${small} URLs ${(s.rssKb / 1024).toFixed(0)} MiB in ${s.seconds.toFixed(1)} s, ${large} URLs ${(l.rssKb / 1024).toFixed(0)} MiB in ${l.seconds.toFixed(1)} s`,
      );
    }
    const largeMb = median(largeRuns) / 1024;
    const smallMb = median(smallRuns) / 1024;
    return result({
      case: 'memory',
      target: 'postgres',
      subject: `opusclip process --file (${large} URLs)`,
      baseline: `opusclip process --file (${small} URLs)`,
      unit: 'MiB peak RSS',
      value: largeMb,
      baselineValue: smallMb,
      timeUnit: true,
      peakRssMb: Math.round(largeMb * 10) / 10,
      params: { urls: large, baselineUrls: small, videos: 'not found in the sandbox (no highlights calls)' },
      extra: { rssGrowth: Math.round((largeMb / smallMb) * 1000) / 1000, goal: '<= 1.2' },
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function cleanRedis(prefix: string): Promise<void> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(TEST_REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    await redis.quit();
  }
}
