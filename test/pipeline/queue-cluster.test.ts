import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cluster } from 'ioredis';
import { createApiClients, sandboxBaseUrls } from '../../src/apis/index.js';
import type { Database } from '../../src/db/index.js';
import {
  createPipelinePorts,
  PipelineQueue,
  type PipelineWorker,
  startPipelineWorker,
  VideoPipeline,
} from '../../src/pipeline/index.js';
import { canonicalUrl } from '../../src/pipeline/video-pipeline.js';
import { createSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { type StoreSchema, setupStore, VideoStore } from '../../src/store/index.js';
import { postgresTarget } from '../support/databases.js';
import { uniqueName } from '../support/env.js';
import {
  clusterClient,
  dropClusterKeys,
  ensureRedisCluster,
  TEST_REDIS_CLUSTER_URL,
} from '../support/redis-cluster.js';

describe('pipeline queue and worker on Redis Cluster', { timeout: 300_000 }, () => {
  const target = postgresTarget();
  const prefix = uniqueName('cq');
  let db: Database<StoreSchema>;
  let sandbox: Sandbox;
  let assets: string;
  let admin: Cluster;
  const open: Array<{ close(): Promise<unknown> }> = [];

  let releaseCluster: (() => Promise<void>) | undefined;

  before(async () => {
    releaseCluster = await ensureRedisCluster();
    db = await target.open<StoreSchema>({ max: 6 });
    await setupStore(db);
    sandbox = await createSandbox({ keys: { youtube: ['k'], openai: ['k'] } });
    assets = await mkdtemp(join(tmpdir(), 'opusclip-cq-'));
    admin = await clusterClient();
  });

  after(async () => {
    for (const x of open.reverse()) await x.close().catch(() => {});
    if (admin) {
      await dropClusterKeys(admin, `{${prefix}}*`);
      admin.disconnect();
    }
    await sandbox?.close();
    await db?.close();
    await target.dispose();
    await rm(assets, { recursive: true, force: true });
  });
  after(() => releaseCluster?.());

  it('jobs enqueued with a redis+cluster URL are processed once each; the queue keys share {prefix}', async () => {
    const clients = createApiClients({
      youtube: { apiKey: 'k' },
      openai: { apiKey: 'k' },
      baseUrls: sandboxBaseUrls(sandbox.url),
    });
    const pipeline = new VideoPipeline({
      store: new VideoStore(db),
      ports: createPipelinePorts(clients),
      assetsDir: assets,
      narration: false,
      thumbnails: false,
      onRetryableError: 'throw',
    });
    const queue = new PipelineQueue({ connection: TEST_REDIS_CLUSTER_URL, prefix });
    const starts = new Map<string, number>();
    const worker: PipelineWorker = startPipelineWorker({
      pipeline,
      connection: TEST_REDIS_CLUSTER_URL,
      prefix,
      concurrency: 3,
    });
    worker.worker.on('active', (job) => starts.set(job.id ?? '', (starts.get(job.id ?? '') ?? 0) + 1));
    open.push(clients, queue, worker);

    const ids = Array.from({ length: 6 }, (_, i) => `cluster${String(i).padStart(4, '0')}`);
    const first = await queue.enqueue(ids.map(canonicalUrl));
    assert.equal(first.enqueued.filter((e) => !e.duplicate).length, 6);
    const again = await queue.enqueue([canonicalUrl(ids[0]!)]);
    const state = (await queue.getJob(again.enqueued[0]!.jobId))?.state;
    if (state !== 'completed')
      assert.equal(again.enqueued[0]!.duplicate, true, 'a pending job is not added twice');

    const deadline = Date.now() + 60_000;
    for (;;) {
      const counts = await queue.counts();
      if (counts.completed + counts.failed >= 6) break;
      if (Date.now() > deadline) assert.fail(`jobs did not finish: ${JSON.stringify(counts)}`);
      await sleep(100);
    }
    const counts = await queue.counts();
    assert.equal(counts.failed, 0);
    assert.equal(counts.completed, 6);
    assert.ok(
      [...starts.values()].every((n) => n === 1),
      `each job ran once: ${JSON.stringify([...starts])}`,
    );
    // BullMQ's keys carry the hash tag: the prefix became {prefix}, so all live on one primary.
    const tagged = (
      await Promise.all(admin.nodes('master').map((n) => n.keys(`{${prefix}}:opusclip-videos:*`)))
    ).filter((keys) => keys.length > 0);
    assert.equal(tagged.length, 1, 'every queue key on one node');
    assert.ok(tagged[0]!.some((k) => k.endsWith(':meta')));
  });
});
