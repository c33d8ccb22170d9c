import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { Database } from '../../src/db/index.js';
import { PipelineQueue, sharedBudgets } from '../../src/pipeline/index.js';
import { jobIdFor } from '../../src/pipeline/pipeline-queue.js';
import { canonicalUrl } from '../../src/pipeline/video-pipeline.js';
import { createSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { type StoreSchema, setupStore, VideoStore } from '../../src/store/index.js';
import { postgresTarget } from '../support/databases.js';
import { TEST_REDIS_URL } from '../support/env.js';

// The CLI workers use the default queue name and budget keys, so this file gets a Redis database of its
// own (flushed before and after) instead of a key prefix.
const REDIS_DB = 13;
const FIXTURE = new URL('./fixtures/opusclip-cli.ts', import.meta.url).pathname;

interface CliProcess {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

function spawnCli(args: string[], env: Record<string, string>): CliProcess {
  const base = { ...process.env };
  // Keys would switch the CLI to the real APIs.
  for (const name of [
    'YOUTUBE_API_KEY',
    'YOUTUBE_OAUTH_TOKEN',
    'OPENAI_API_KEY',
    'STABILITY_API_KEY',
    'ELEVENLABS_API_KEY',
  ])
    delete base[name];
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, ...args], {
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  const exited = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  return { child, exited, output: () => text };
}

/** Distinct ids the sandbox knows (11 characters of the YouTube alphabet, not a "missing" pattern). */
function videoIds(n: number, tag: string): string[] {
  return Array.from({ length: n }, (_, i) => `${tag}${String(i).padStart(11 - tag.length, '0')}`);
}

async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
  describeState: () => Promise<string> | string = () => '',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; ${await describeState()}`);
    await sleep(100);
  }
}

describe('distributed pipeline: CLI worker processes', { timeout: 120_000 }, () => {
  const target = postgresTarget();
  const redisUrl = `${TEST_REDIS_URL.replace(/\/\d*$/, '')}/${REDIS_DB}`;
  let redis: Redis;
  let db: Database<StoreSchema>;
  let store: VideoStore;
  let databaseUrl: string;
  let assetsDir: string;
  const workers: CliProcess[] = [];

  before(async () => {
    redis = new Redis(redisUrl);
    await redis.flushdb();
    databaseUrl = `${await target.url()}?schema=${target.schema}`;
    db = await target.open<StoreSchema>({ max: 4 });
    // Migrated once here so the workers start on ready tables.
    await setupStore(db);
    store = new VideoStore(db);
    assetsDir = await mkdtemp(join(tmpdir(), 'opusclip-workers-'));
  });

  after(async () => {
    for (const w of workers)
      if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    await redis.flushdb();
    await redis.quit();
    await db.close();
    await target.dispose();
    await rm(assetsDir, { recursive: true, force: true });
  });

  const startWorker = (sandbox: Sandbox, args: string[] = [], logLevel = 'silent'): CliProcess => {
    const w = spawnCli(['worker', ...args], {
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl,
      OPUSCLIP_SANDBOX_URL: sandbox.url,
      OPUSCLIP_ASSETS_DIR: assetsDir,
      LOG_LEVEL: logLevel,
    });
    workers.push(w);
    return w;
  };

  /** Per completed video: as many clips as the highlights stage recorded, no two on the same span. */
  const assertClipsOnce = async (youtubeId: string): Promise<number> => {
    const video = await store.findVideoByUrl(canonicalUrl(youtubeId));
    assert.ok(video, `video ${youtubeId} is stored`);
    assert.equal(video.status, 'completed', `video ${youtubeId} completed`);
    const clips = await store.getClipsByVideoId(video.id);
    const stage = (await store.getStages(video.id)).get('highlights');
    assert.ok(stage, `${youtubeId}: highlights stage recorded`);
    assert.equal(clips.length, (stage.result as { clips: number }).clips, `${youtubeId}: clip count`);
    assert.ok(clips.length > 0, `${youtubeId}: has clips`);
    const spans = new Set(clips.map((c) => `${c.startTime}-${c.endTime}`));
    assert.equal(spans.size, clips.length, `${youtubeId}: no two clips share start and end`);
    for (const clip of clips) {
      assert.ok(clip.thumbnailPath, `${youtubeId}: clip ${clip.id} has a thumbnail`);
      assert.ok(clip.narrationPath, `${youtubeId}: clip ${clip.id} has narration`);
    }
    return clips.length;
  };

  it('three workers finish 30 videos through chaos: each completed or failed with a reason, clips once, quota respected', async (t) => {
    const sandbox = await createSandbox({
      config: { chaos: { errorRate: 0.2, modes: ['error', 'reset', 'malformed'], vendors: [], seed: 42 } },
    });
    const queue = new PipelineQueue({ connection: redisUrl });
    try {
      const ids = videoIds(30, 'chaos');
      const { enqueued, rejected } = await queue.enqueue(ids.map((id) => `https://youtu.be/${id}`));
      assert.equal(rejected.length, 0);
      assert.equal(enqueued.filter((e) => !e.duplicate).length, 30);

      const three = [startWorker(sandbox), startWorker(sandbox), startWorker(sandbox)];
      const counts = await waitFor(
        'all 30 jobs to finish',
        75_000,
        async () => {
          const c = await queue.counts();
          return c.completed + c.failed === 30 ? c : undefined;
        },
        async () =>
          `counts ${JSON.stringify(await queue.counts())}; worker output:\n${three.map((w) => w.output()).join('\n')}`,
      );
      assert.equal(counts.waiting + counts.active + counts.delayed + counts.prioritized, 0);

      let completed = 0;
      for (const id of ids) {
        const job = await queue.getJob(jobIdFor(id));
        assert.ok(job, `job for ${id}`);
        if (job.state === 'completed') {
          completed++;
          await assertClipsOnce(id);
        } else {
          assert.equal(job.state, 'failed', `${id}: ${job.state}`);
          assert.ok(job.failedReason && job.failedReason.length > 0, `${id}: failed with a reason`);
        }
      }
      // Chaos at 20 % with retries at every level: most videos make it.
      assert.ok(completed >= 20, `${completed} of 30 completed`);
      const chaosHits = sandbox.requests.all().filter((r) => r.chaos !== undefined).length;
      assert.ok(chaosHits > 0, 'the sandbox did inject faults');
      t.diagnostic(`${completed} of 30 completed; ${chaosHits} requests got a chaos outcome`);

      // Limits we budget for were never hit: no 429 from any vendor, no 403 quotaExceeded from YouTube.
      const refused = sandbox.requests.all().filter((r) => r.status === 429 || r.status === 403);
      assert.deepEqual(
        refused.map((r) => `${r.vendor} ${r.path} ${r.status}`),
        [],
      );
      // YouTube units the sandbox charged (the requests that reached its handler: no chaos, or a
      // malformed body cut after the handler ran), against its daily allowance and the shared budget.
      const charged = sandbox.requests
        .filter({ vendor: 'youtube', path: '/videos' })
        .filter((r) => r.chaos === undefined || r.chaos === 'malformed').length;
      assert.ok(charged >= 1);
      assert.ok(charged <= sandbox.config.youtube.dailyQuotaUnits);
      const usage = await sharedBudgets(redis).youtube.usage();
      const used = Math.max(...usage.map((w) => w.used));
      // Every call is reserved in the shared Redis budget before it is sent, from whichever worker.
      assert.ok(used >= charged, `shared budget ${used} units covers the ${charged} the sandbox charged`);

      for (const w of three) w.child.kill('SIGTERM');
      for (const w of three) {
        const exit = await w.exited;
        assert.deepEqual(exit, { code: 0, signal: null }, `worker drained and exited 0:\n${w.output()}`);
      }
    } finally {
      await queue.close();
      await sandbox.close();
    }
  });

  it('a job whose worker is SIGKILLed mid-flight completes on another worker, without duplicates', async () => {
    // Every API call takes 150 ms, so the job spends seconds on thumbnails and narration.
    const sandbox = await createSandbox({ config: { latency: { fixedMs: 150, jitterMs: 0 } } });
    const queue = new PipelineQueue({ connection: redisUrl });
    try {
      const [id] = videoIds(1, 'killed');
      const jobId = jobIdFor(id!);
      const first = startWorker(sandbox, ['--concurrency', '1', '--stalled-interval', '1500']);
      await queue.enqueue([`https://www.youtube.com/watch?v=${id}`]);
      // Killed once its clips are stored: thumbnails are under way.
      await waitFor(
        'the job to reach the highlights stage',
        30_000,
        async () => {
          const job = await queue.getJob(jobId);
          return job?.state === 'active' && (job.progress as { stage?: string })?.stage === 'highlights'
            ? true
            : undefined;
        },
        () => first.output(),
      );
      first.child.kill('SIGKILL');
      assert.deepEqual(await first.exited, { code: null, signal: 'SIGKILL' });
      const video = await store.findVideoByUrl(canonicalUrl(id!));
      assert.ok(video);
      assert.notEqual(video.status, 'completed', 'killed before it finished');

      const second = startWorker(sandbox, ['--concurrency', '1', '--stalled-interval', '1500'], 'warn');
      const state = await waitFor(
        'the job to finish on the second worker',
        30_000,
        async () => {
          const job = await queue.getJob(jobId);
          return job?.state === 'completed' || job?.state === 'failed' ? job.state : undefined;
        },
        async () => {
          const job = await queue.getJob(jobId);
          const row = await store.findVideoByUrl(canonicalUrl(id!));
          const stages = row ? [...(await store.getStages(row.id)).keys()].join(',') : '-';
          return `job ${JSON.stringify(job)}; video ${row?.status}, stages ${stages}; counts ${JSON.stringify(await queue.counts())}; ${sandbox.requests.all().length} sandbox requests; worker output:\n${second.output()}`;
        },
      );
      assert.equal(state, 'completed');
      const clips = await assertClipsOnce(id!);
      // Resumed, not redone: one highlights call for the video, one thumbnail and narration per clip.
      assert.equal(sandbox.requests.filter({ vendor: 'openai', path: '/chat/completions' }).length, 1);
      const thumbnails = sandbox.requests.filter({ vendor: 'stability', method: 'POST' });
      assert.ok(thumbnails.length >= clips, 'every clip has its thumbnail');
      assert.ok(
        thumbnails.length <= clips + 1,
        'at most the one thumbnail in flight at the kill is generated again',
      );

      second.child.kill('SIGTERM');
      assert.deepEqual(await second.exited, { code: 0, signal: null }, second.output());
    } finally {
      await queue.close();
      await sandbox.close();
    }
  });
});
