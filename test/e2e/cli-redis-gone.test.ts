import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRedis, stopRedis } from '../cache/helpers.js';
import { ensureBuilt, freePort, runCli, stackLines, startCli, stopProcess } from './cli-helpers.js';

/**
 * The long-running commands with their Redis gone: `worker` and `serve` stop on SIGTERM within the
 * shutdown bound and exit 0; `serve` without REDIS_URL answers everything but the queue routes, and
 * those with 503.
 */
describe('worker and serve with Redis gone', { timeout: 120_000 }, () => {
  let cwd: string;
  const running: ChildProcess[] = [];
  const BOUND_MS = 6_000;
  const SLACK_MS = 4_000;

  before(async () => {
    await ensureBuilt();
    cwd = await mkdtemp(join(tmpdir(), 'opusclip-redis-gone-'));
    const setup = await runCli(['setup'], { cwd, env: { DATABASE_URL: `sqlite:${join(cwd, 'o.db')}` } });
    assert.equal(setup.code, 0, setup.stderr);
  });
  after(async () => {
    for (const child of running) await stopProcess(child);
    await rm(cwd, { recursive: true, force: true });
  });

  for (const command of ['worker', 'serve'] as const) {
    it(`${command}: Redis killed under it, then SIGTERM: exit 0 within the bound, no stack trace`, async () => {
      const port = await freePort();
      const redis = await startRedis(port);
      try {
        const args = command === 'serve' ? ['serve', '--port', '0'] : ['worker'];
        const p = startCli(args, {
          cwd,
          env: {
            DATABASE_URL: `sqlite:${join(cwd, 'o.db')}`,
            REDIS_URL: `redis://127.0.0.1:${port}`,
            OPUSCLIP_AUTH: 'off',
            OPUSCLIP_SANDBOX: 'true',
            OPUSCLIP_SHUTDOWN_TIMEOUT_MS: String(BOUND_MS),
          },
        });
        running.push(p.child);
        await p.waitFor(command === 'serve' ? /listening on http/ : /waiting for jobs/);
        await stopRedis(redis);
        await new Promise((r) => setTimeout(r, 1_000));
        const sent = Date.now();
        p.child.kill('SIGTERM');
        const run = await p.exited;
        const took = Date.now() - sent;
        assert.equal(run.code, 0, `exit ${run.code} after ${took} ms:\n${run.stderr}`);
        assert.ok(took < BOUND_MS + SLACK_MS, `stopped in ${took} ms`);
        assert.deepEqual(stackLines(run.stderr + run.stdout), [], run.stderr);
      } finally {
        await stopRedis(redis);
      }
    });
  }

  it('serve without REDIS_URL: the store routes answer, the queue routes answer 503', async () => {
    const p = startCli(['serve', '--port', '0'], {
      cwd,
      env: { DATABASE_URL: `sqlite:${join(cwd, 'o.db')}`, OPUSCLIP_AUTH: 'off' },
    });
    running.push(p.child);
    await p.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(p.stderr())![1]!;
    const videos = await fetch(`${url}/api/videos`);
    assert.equal(videos.status, 200);
    const jobs = await fetch(`${url}/api/jobs`);
    assert.equal(jobs.status, 503);
    const body = (await jobs.json()) as { error?: { code?: string } } & { code?: string };
    assert.match(JSON.stringify(body), /REDIS/);
    p.child.kill('SIGTERM');
    const run = await p.exited;
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, '', 'logs go to stderr, stdout stays empty');
  });
});
