import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { createApiClients, sandboxBaseUrls } from '../../src/apis/index.js';
import type { Database } from '../../src/db/index.js';
import {
  createPipelinePorts,
  PipelineQueue,
  type PipelineWorker,
  startPipelineWorker,
  VideoPipeline,
} from '../../src/pipeline/index.js';
import { jobIdFor } from '../../src/pipeline/pipeline-queue.js';
import { canonicalUrl } from '../../src/pipeline/video-pipeline.js';
import { createSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { type StoreSchema, setupStore, VideoStore } from '../../src/store/index.js';
import { postgresTarget } from '../support/databases.js';
import { TEST_REDIS_URL, uniqueName } from '../support/env.js';

/**
 * A worker decides by the error's class alone: a permanent error (the video does not exist, a 401, a
 * 400) fails the job on its first attempt, having spent one call; a transient one (a 429 with
 * Retry-After, a 503) delays the job to its retryAt, and the re-run completes.
 */
describe('worker: permanent errors fail at once, transient ones are delayed', { timeout: 90_000 }, () => {
  const target = postgresTarget();
  let db: Database<StoreSchema>;
  let store: VideoStore;
  let sandbox: Sandbox;
  let assets: string;
  let redis: Redis;
  const prefix = uniqueName('wkerr');
  const open: Array<{ close(): Promise<unknown> }> = [];

  before(async () => {
    db = await target.open<StoreSchema>({ max: 6 });
    await setupStore(db);
    store = new VideoStore(db);
    sandbox = await createSandbox({ keys: { youtube: ['good-key'], openai: ['good-openai'] } });
    assets = await mkdtemp(join(tmpdir(), 'opusclip-wkerr-'));
    redis = new Redis(TEST_REDIS_URL);
  });

  after(async () => {
    for (const x of open.reverse()) await x.close().catch(() => {});
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
    await sandbox?.close();
    await db?.close();
    await target.dispose();
    await rm(assets, { recursive: true, force: true });
  });

  /** A queue and a worker of their own (own prefix), with a YouTube key and no HTTP-level retries. */
  function rig(
    name: string,
    youtubeKey = 'good-key',
    openaiKey = 'good-openai',
  ): { queue: PipelineQueue; worker: PipelineWorker } {
    const clients = createApiClients({
      youtube: { apiKey: youtubeKey },
      openai: { apiKey: openaiKey },
      baseUrls: sandboxBaseUrls(sandbox.url),
      http: { maxRetries: 0 },
    });
    const pipeline = new VideoPipeline({
      store,
      ports: createPipelinePorts(clients),
      assetsDir: assets,
      narration: false,
      thumbnails: false,
      onRetryableError: 'throw',
    });
    const queue = new PipelineQueue({ connection: TEST_REDIS_URL, prefix: `${prefix}-${name}`, attempts: 4 });
    const worker = startPipelineWorker({
      pipeline,
      connection: TEST_REDIS_URL,
      prefix: `${prefix}-${name}`,
      concurrency: 1,
    });
    open.push(clients, queue, worker);
    return { queue, worker };
  }

  async function settle(queue: PipelineQueue, youtubeId: string, timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    const seen = new Set<string>();
    for (;;) {
      const job = await queue.getJob(jobIdFor(youtubeId));
      if (job) seen.add(job.state);
      // getJob reads the job's fields, then its state: read once more after a final state, so the
      // fields are those of the finished job.
      if (job && (job.state === 'completed' || job.state === 'failed')) {
        const final = await queue.getJob(jobIdFor(youtubeId));
        assert.ok(final);
        return { job: final, seen };
      }
      if (Date.now() > deadline) assert.fail(`job for ${youtubeId} did not settle: ${JSON.stringify(job)}`);
      await sleep(50);
    }
  }

  /** The job failed on its first attempt with a reason matching `reason`. */
  async function failedAtOnce(queue: PipelineQueue, youtubeId: string, reason: RegExp): Promise<void> {
    const { job } = await settle(queue, youtubeId);
    assert.equal(job.state, 'failed', JSON.stringify(job));
    assert.equal(job.attemptsMade, 1, JSON.stringify(job));
    assert.match(job.failedReason ?? '', reason);
  }

  function assertOneYoutubeCall(youtubeId: string): void {
    const calls = sandbox.requests.all().filter((r) => JSON.stringify(r.query).includes(youtubeId));
    assert.equal(youtubeCalls(youtubeId), 1, JSON.stringify(calls));
  }

  function youtubeCalls(youtubeId: string): number {
    return sandbox.requests
      .all()
      .filter((r) => r.vendor === 'youtube' && JSON.stringify(r.query).includes(youtubeId)).length;
  }

  it('a video that does not exist fails on its first attempt, with the reason on the video', async () => {
    const { queue } = rig('missing');
    const id = 'missingAAAA';
    await queue.enqueue([canonicalUrl(id)]);
    await failedAtOnce(queue, id, /ERR_PIPELINE_VIDEO_NOT_FOUND|ERR_API_NOT_FOUND/);
    assertOneYoutubeCall(id);
    const video = await store.findVideoByUrl(canonicalUrl(id));
    assert.equal(video?.status, 'failed');
    assert.ok(video?.statusReason, 'the reason is stored on the video');
  });

  it('a wrong YouTube key (400 keyInvalid, as YouTube answers) fails on its first attempt', async () => {
    const { queue } = rig('badkey', 'wrong-key');
    const id = 'badkeyBBBBB';
    await queue.enqueue([canonicalUrl(id)]);
    await failedAtOnce(queue, id, /ERR_HTTP_BAD_REQUEST/);
    assertOneYoutubeCall(id);
    const video = await store.findVideoByUrl(canonicalUrl(id));
    assert.equal(video?.status, 'failed');
  });

  it('a 401 (wrong OpenAI key) fails on its first attempt, having spent one call', async () => {
    const { queue } = rig('unauth', 'good-key', 'wrong-openai');
    const id = 'unauthBBBBB';
    const before = sandbox.requests.all().filter((r) => r.vendor === 'openai').length;
    await queue.enqueue([canonicalUrl(id)]);
    await failedAtOnce(queue, id, /ERR_HTTP_UNAUTHORIZED/);
    assert.equal(sandbox.requests.all().filter((r) => r.vendor === 'openai').length - before, 1);
    const video = await store.findVideoByUrl(canonicalUrl(id));
    assert.equal(video?.status, 'failed');
    assert.match(video?.statusReason ?? '', /401/);
  });

  it('a 400 fails on its first attempt, having spent one call', async () => {
    const { queue } = rig('badreq');
    const id = 'badreqCCCCC';
    sandbox.config.faults.push({ vendor: 'youtube', urlIncludes: id, status: 400, times: 5 });
    await queue.enqueue([canonicalUrl(id)]);
    await failedAtOnce(queue, id, /ERR_HTTP_BAD_REQUEST/);
    assertOneYoutubeCall(id);
  });

  for (const fault of [
    { name: 'a 429 with Retry-After', status: 429, retryAfterMs: 1000, id: 'ratelimDDDD' },
    { name: 'a 503', status: 503, id: 'unavailEEEE' },
  ]) {
    it(`${fault.name} delays the job, and the re-run completes`, async () => {
      const { queue } = rig(`t${fault.status}`);
      sandbox.config.faults.push({
        vendor: 'youtube',
        urlIncludes: fault.id,
        status: fault.status,
        times: 1,
        ...(fault.retryAfterMs === undefined ? {} : { retryAfterMs: fault.retryAfterMs }),
      });
      // A 503 names no time: the worker's default delay (30 s) is too long for a test, so the job is
      // promoted by hand once it is seen delayed; a 429's Retry-After of 1 s is waited for as it is.
      await queue.enqueue([canonicalUrl(fault.id)]);
      if (fault.status === 503) {
        const deadline = Date.now() + 20_000;
        for (;;) {
          const job = await queue.queue.getJob(jobIdFor(fault.id));
          if (job && (await job.getState()) === 'delayed') {
            await job.promote();
            break;
          }
          if (Date.now() > deadline) assert.fail('the 503 job was never delayed');
          await sleep(50);
        }
      }
      const { job, seen } = await settle(queue, fault.id);
      assert.equal(job.state, 'completed', JSON.stringify(job));
      if (fault.status === 429) assert.ok(seen.has('delayed'), `states seen: ${[...seen].join(',')}`);
      const statuses = sandbox.requests
        .all()
        .filter((r) => r.vendor === 'youtube' && JSON.stringify(r.query).includes(fault.id))
        .map((r) => r.status);
      assert.deepEqual(statuses.slice(0, 2), [fault.status, 200]);
      const video = await store.findVideoByUrl(canonicalUrl(fault.id));
      assert.equal(video?.status, 'completed');
    });
  }
});
