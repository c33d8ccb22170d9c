import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Cluster } from 'ioredis';
import {
  clusterClient,
  dropClusterKeys,
  ensureRedisCluster,
  TEST_REDIS_CLUSTER_URL,
} from '../support/redis-cluster.js';
import { ensureBuilt, freePort, runCli, stackLines, startCli, stopProcess } from './cli-helpers.js';

const SECRET = 'cl-Sup3rS3cret@x';

/** The CLI's queue on the cluster: default name, and the default prefix hash-tagged, `{bull}`. */
async function dropCliQueue(admin: Cluster): Promise<void> {
  await dropClusterKeys(admin, '{bull}:opusclip-videos:*');
}

describe('opusclip with REDIS_URL=redis+cluster://…', { timeout: 300_000 }, () => {
  let cwd: string;
  let admin: Cluster;
  const running: ChildProcess[] = [];

  let releaseCluster: (() => Promise<void>) | undefined;

  before(async () => {
    releaseCluster = await ensureRedisCluster();
    await ensureBuilt();
    admin = await clusterClient();
    await dropCliQueue(admin);
    cwd = await mkdtemp(join(tmpdir(), 'opusclip-cluster-'));
  });
  after(async () => {
    for (const child of running) await stopProcess(child);
    if (admin) {
      await dropCliQueue(admin);
      admin.disconnect();
    }
    await rm(cwd, { recursive: true, force: true });
  });
  after(() => releaseCluster?.());

  const env = (): Record<string, string> => ({
    DATABASE_URL: `sqlite:${join(cwd, 'o.db')}`,
    REDIS_URL: TEST_REDIS_CLUSTER_URL,
    OPUSCLIP_SANDBOX: 'true',
    OPUSCLIP_AUTH: 'off',
    OPUSCLIP_ASSETS_DIR: join(cwd, 'assets'),
    OPUSCLIP_SHUTDOWN_TIMEOUT_MS: '6000',
  });

  it('enqueue, worker and jobs: the worker processes every job enqueued on the cluster', async () => {
    const ids = ['clusterCLI1', 'clusterCLI2'];
    const enqueue = await runCli(['enqueue', ...ids.map((id) => `https://youtu.be/${id}`)], {
      cwd,
      env: env(),
    });
    assert.equal(enqueue.code, 0, enqueue.stderr);
    assert.match(enqueue.stdout, /enqueued\s+yt-clusterCLI1/);
    const worker = startCli(['worker', '--concurrency', '2'], { cwd, env: env() });
    running.push(worker.child);
    await worker.waitFor(/waiting for jobs/);
    const deadline = Date.now() + 60_000;
    let jobs = '';
    for (;;) {
      const run = await runCli(['jobs', '--json'], { cwd, env: env() });
      assert.equal(run.code, 0, run.stderr);
      jobs = run.stdout;
      const list = (JSON.parse(jobs) as { jobs: Array<{ id: string; state: string }> }).jobs;
      const mine = list.filter((j) => ids.some((id) => j.id === `yt-${id}`));
      if (mine.length === 2 && mine.every((j) => j.state === 'completed')) break;
      if (Date.now() > deadline) assert.fail(`jobs not completed: ${jobs}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const sent = Date.now();
    worker.child.kill('SIGTERM');
    const run = await worker.exited;
    assert.equal(run.code, 0, run.stderr);
    assert.ok(Date.now() - sent < 10_000, 'the worker drains and closes its cluster connections in time');
    assert.deepEqual(stackLines(run.stderr + run.stdout), [], run.stderr);
  });

  it('serve: /readyz checks the cluster, POST /api/videos enqueues on it, SIGTERM stops it', async () => {
    const p = startCli(['serve', '--port', '0'], { cwd, env: env() });
    running.push(p.child);
    await p.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(p.stderr())![1]!;
    const ready = await fetch(`${url}/readyz`);
    const body = (await ready.json()) as { checks: Record<string, { ok: boolean }> };
    assert.equal(ready.status, 200, JSON.stringify(body));
    assert.equal(body.checks.redis?.ok, true);
    const posted = await fetch(`${url}/api/videos`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url: 'https://youtu.be/clusterSRV1' }),
    });
    assert.ok(posted.status < 300, `${posted.status} ${await posted.text()}`);
    const jobs = await fetch(`${url}/api/jobs`);
    assert.equal(jobs.status, 200);
    assert.match(await jobs.text(), /clusterSRV1/);
    const sent = Date.now();
    p.child.kill('SIGTERM');
    const run = await p.exited;
    assert.equal(run.code, 0, run.stderr);
    assert.ok(Date.now() - sent < 10_000);
  });

  it('an unreachable cluster: one line naming every seed, the password never printed', async () => {
    const [p1, p2] = [await freePort(), await freePort()];
    const run = await runCli(['jobs'], {
      cwd,
      env: {
        ...env(),
        REDIS_URL: `redis+cluster://app:${encodeURIComponent(SECRET)}@127.0.0.1:${p1},127.0.0.1:${p2}`,
      },
    });
    assert.equal(run.code, 1, run.stderr);
    const lines = run.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, run.stderr);
    assert.match(
      lines[0]!,
      new RegExp(`cannot reach Redis Cluster at 127\\.0\\.0\\.1:${p1},127\\.0\\.0\\.1:${p2}`),
    );
    for (const form of [SECRET, encodeURIComponent(SECRET)])
      assert.ok(!`${run.stdout}${run.stderr}`.includes(form), 'the password is never printed');
  });

  it('a malformed cluster URL is a configuration error with the password hidden', async () => {
    const run = await runCli(['jobs'], {
      cwd,
      env: { ...env(), REDIS_URL: `redis+cluster://app:${SECRET}@127.0.0.1:7000,:bad` },
    });
    assert.equal(run.code === 0, false);
    assert.match(run.stderr, /Invalid REDIS_URL "redis\+cluster:\/\/app:\*\*\*@/);
    assert.ok(!run.stderr.includes(SECRET.split('@')[0]!), run.stderr);
  });
});
