import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cluster } from 'ioredis';
import { createApiClients, sandboxBaseUrls } from '../../src/apis/index.js';
import { Cache } from '../../src/cache/index.js';
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
  primaryPortOf,
  repairRedisCluster,
  stopNode,
  TEST_REDIS_CLUSTER_URL,
} from '../support/redis-cluster.js';

/** Generous: the cluster's node timeout is 2 s, a failover usually completes in 3 to 6 s. */
const RECOVERY_BOUND_MS = 30_000;

/**
 * A primary of the local cluster is stopped for real (SHUTDOWN NOSAVE) while two caches read and write
 * and a worker processes a steady stream of jobs; its replica takes over. Counted: cache reads that
 * failed (a cache error must be a miss: 0), jobs that failed or ran twice (0), and the time until
 * everything works again (printed, bounded generously). The stopped node is restarted afterwards (it
 * rejoins as a replica) so the next suite finds a healthy cluster.
 */
describe('Redis Cluster failover under load', { timeout: 300_000 }, () => {
  const target = postgresTarget();
  const ns = uniqueName('fo');
  let db: Database<StoreSchema>;
  let sandbox: Sandbox;
  let assets: string;
  let admin: Cluster;
  let stopped: number | undefined;
  const open: Array<{ close(): Promise<unknown> }> = [];

  let releaseCluster: (() => Promise<void>) | undefined;

  before(async () => {
    releaseCluster = await ensureRedisCluster();
    db = await target.open<StoreSchema>({ max: 6 });
    await setupStore(db);
    sandbox = await createSandbox({ keys: { youtube: ['k'], openai: ['k'] } });
    assets = await mkdtemp(join(tmpdir(), 'opusclip-fo-'));
    admin = await clusterClient();
  });

  after(async () => {
    for (const x of open.reverse()) await x.close().catch(() => {});
    // The stopped node comes back (as a replica of its successor) and the cluster is whole again.
    if (stopped !== undefined) await repairRedisCluster();
    if (admin) {
      await dropClusterKeys(admin, `{${ns}*`);
      admin.disconnect();
    }
    await sandbox?.close();
    await db?.close();
    await target.dispose();
    await rm(assets, { recursive: true, force: true });
  });
  after(() => releaseCluster?.());

  it('a replica takes over: no failed cache read, no failed or duplicated job', async () => {
    // The cache namespace and the queue prefix on the same primary: that is the one stopped.
    const owner = await primaryPortOf(admin, `{${ns}}`);
    let prefix = '';
    for (let i = 0; ; i++) {
      const candidate = `${ns}q${i}`;
      if ((await primaryPortOf(admin, `{${candidate}}`)) === owner) {
        prefix = candidate;
        break;
      }
    }

    const cache = async (): Promise<Cache> => {
      const client = await clusterClient();
      const c = new Cache({ namespace: ns, redis: { client, closeClient: true, maxStalenessMs: 1_000 } });
      assert.ok(await c.ready(5_000), 'bus up');
      open.push(c);
      return c;
    };
    const a = await cache();
    const b = await cache();

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
    const worker: PipelineWorker = startPipelineWorker({
      pipeline,
      connection: TEST_REDIS_CLUSTER_URL,
      prefix,
      concurrency: 4,
    });
    open.push(clients, queue, worker);
    const runs = new Map<string, number>();
    const completedAt = new Map<string, number>();
    const completions = new Map<string, number>();
    const starts: string[] = [];
    worker.worker.on('active', (job) => {
      runs.set(job.id ?? '', (runs.get(job.id ?? '') ?? 0) + 1);
      starts.push(`${job.id}@${Date.now()}#${job.attemptsMade}`);
    });
    worker.worker.on('completed', (job) => {
      completedAt.set(job.id ?? '', Date.now());
      completions.set(job.id ?? '', (completions.get(job.id ?? '') ?? 0) + 1);
    });

    // ---- the load ----
    let stopLoad = false;
    let reads = 0;
    let failedReads = 0;
    let writes = 0;
    const readers = [a, b, a, b].map(async (c, r) => {
      while (!stopLoad) {
        const key = `k${Math.floor(Math.random() * 50)}`;
        try {
          const v = await c.getOrSet(key, async () => ({ key, r }), { ttlMs: 60_000, tags: ['all'] });
          if (v.key !== key) failedReads++;
          reads++;
        } catch {
          failedReads++;
        }
        if (r === 0 && reads % 50 === 0) {
          const written = `k${Math.floor(Math.random() * 50)}`;
          await a.set(written, { key: written, r: -1 }).catch(() => failedReads++);
          writes++;
        }
        await sleep(2);
      }
    });
    const enqueuedAt = new Map<string, number>();
    let enqueueRetries = 0;
    const producer = (async () => {
      for (let i = 0; !stopLoad; i++) {
        const id = `fo${String(i).padStart(9, '0')}`;
        // A producer retries what Redis refused; the job id makes a retry that had in fact gone
        // through a duplicate that is not added (counted below if it ran twice all the same).
        for (;;) {
          try {
            const { enqueued } = await queue.enqueue([canonicalUrl(id)]);
            if (!enqueuedAt.has(enqueued[0]!.jobId)) enqueuedAt.set(enqueued[0]!.jobId, Date.now());
            break;
          } catch {
            if (stopLoad) break;
            enqueueRetries++;
            await sleep(100);
          }
        }
        await sleep(150);
      }
    })();

    // The load runs (reads answered, jobs completing) before the primary goes; a failing assertion
    // below stops it too.
    const stopOnFailure = (): void => {
      stopLoad = true;
    };
    const warmBy = Date.now() + 60_000;
    while ((reads < 50 || completedAt.size === 0) && Date.now() < warmBy) await sleep(100);
    if (reads < 50 || completedAt.size === 0) {
      stopOnFailure();
      await Promise.all([...readers, producer]);
      assert.fail(`load not running: ${reads} reads, ${completedAt.size} jobs`);
    }

    let stoppedAt = 0;
    let promotedAt: number | undefined;
    let cacheBackAt: number | undefined;
    let jobsBackAt: number | undefined;
    try {
      // ---- stop the primary ----
      stoppedAt = Date.now();
      stopped = owner;
      await stopNode(owner);

      // ---- recovery ----
      const deadline = stoppedAt + RECOVERY_BOUND_MS + 10_000;
      while (Date.now() < deadline && (cacheBackAt === undefined || jobsBackAt === undefined)) {
        const now = Date.now();
        if (promotedAt === undefined) {
          const port = await primaryPortOf(admin, `{${ns}}`).catch(() => owner);
          if (port !== owner) promotedAt = now;
        }
        if (cacheBackAt === undefined && promotedAt !== undefined) {
          const l2 = await admin
            .set(`{${ns}}:probe`, String(now))
            .then(() => true)
            .catch(() => false);
          const buses = (await a.ready(1)) && (await b.ready(1));
          if (l2 && buses) cacheBackAt = now;
        }
        if (jobsBackAt === undefined) {
          const after = [...enqueuedAt].filter(([, t]) => t > stoppedAt).map(([id]) => completedAt.get(id));
          const done = after.filter((t): t is number => t !== undefined);
          if (done.length > 0) jobsBackAt = Math.min(...done);
        }
        await sleep(50);
      }
      // Keep the load on a little longer on the healed cluster.
      await sleep(1_500);
    } finally {
      stopOnFailure();
      await Promise.all([...readers, producer]);
    }

    // Every enqueued job finishes.
    const finishBy = Date.now() + 60_000;
    for (;;) {
      const counts = await queue.counts();
      if (counts.completed + counts.failed >= enqueuedAt.size) break;
      if (Date.now() > finishBy) assert.fail(`jobs did not finish: ${JSON.stringify(counts)}`);
      await sleep(200);
    }
    const counts = await queue.counts();
    const duplicated = [...runs].filter(([, n]) => n > 1);
    const recoveryMs = Math.max(cacheBackAt ?? Number.NaN, jobsBackAt ?? Number.NaN) - stoppedAt;
    const report = {
      stoppedPort: owner,
      promotedAfterMs: promotedAt === undefined ? undefined : promotedAt - stoppedAt,
      cacheBackAfterMs: cacheBackAt === undefined ? undefined : cacheBackAt - stoppedAt,
      jobsBackAfterMs: jobsBackAt === undefined ? undefined : jobsBackAt - stoppedAt,
      recoveryMs,
      reads,
      failedReads,
      writes,
      jobs: enqueuedAt.size,
      completed: counts.completed,
      failedJobs: counts.failed,
      duplicatedJobs: duplicated.length,
      completedTwice: [...completions].filter(([, n]) => n > 1).length,
      duplicateStarts: starts.filter((x) => duplicated.some(([id]) => x.startsWith(`${id}@`))),
      enqueueRetries,
      cacheRedisErrors: a.metrics().redisErrors + b.metrics().redisErrors,
      cacheRedisTimeouts: a.metrics().redisTimeouts + b.metrics().redisTimeouts,
      l2Hits: a.metrics().l2Hits + b.metrics().l2Hits,
      busDisconnects: a.metrics().busDisconnects + b.metrics().busDisconnects,
    };
    console.log(`redis cluster failover: ${JSON.stringify(report)}`);
    assert.equal(failedReads, 0, 'a cache error is a miss, never a failed read');
    assert.equal(counts.failed, 0, 'no job failed');
    assert.deepEqual(duplicated, [], 'no job ran twice');
    assert.equal(counts.completed, enqueuedAt.size);
    assert.ok(promotedAt !== undefined, 'a replica was promoted');
    assert.ok(report.busDisconnects >= 2, 'both buses saw the loss (their L1 was distrusted)');
    assert.ok(recoveryMs < RECOVERY_BOUND_MS, `everything worked again after ${recoveryMs} ms`);
  });
});
