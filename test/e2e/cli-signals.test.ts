import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TEST_REDIS_URL } from '../support/env.js';
import {
  ensureBuilt,
  freePort,
  runCli,
  stackLines,
  startCli,
  startRedisWithPassword,
  stopProcess,
  stuckServer,
} from './cli-helpers.js';

const SLACK_MS = 4_000;
const SECRET = 'pw-L0gS3cret';

describe('opusclip stops on SIGTERM and Ctrl-C within its bound, whatever is stuck', () => {
  let cwd: string;
  let stuck: Awaited<ReturnType<typeof stuckServer>>;
  const running: ChildProcess[] = [];

  before(async () => {
    await ensureBuilt();
    cwd = await mkdtemp(join(tmpdir(), 'opusclip-signals-'));
    stuck = await stuckServer();
  });
  after(async () => {
    for (const child of running) await stopProcess(child);
    await stuck?.close();
    await rm(cwd, { recursive: true, force: true });
  });

  it('sandbox: SIGTERM and SIGINT each stop it cleanly, exit 0', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const p = startCli(['sandbox', '--port', '0'], { cwd });
      running.push(p.child);
      await p.waitFor(/opusclip sandbox listening on http:\/\/127\.0\.0\.1:\d+/);
      const sent = Date.now();
      p.child.kill(signal);
      const run = await p.exited;
      assert.equal(run.code, 0, `${signal}: ${run.stderr}`);
      assert.ok(Date.now() - sent < 5_000, `${signal}: stopped in ${Date.now() - sent} ms`);
      assert.match(run.stderr, new RegExp(`${signal}: stopping the sandbox`));
    }
  });

  it('process with a stuck API: SIGTERM ends it once the bound has passed, exit 130', async () => {
    const bound = 3_000;
    const p = startCli(['process', 'https://youtu.be/dQw4w9WgXcQ', '--no-narration'], {
      cwd,
      env: {
        DATABASE_URL: `sqlite:${join(cwd, 'stuck.db')}`,
        OPUSCLIP_ASSETS_DIR: join(cwd, 'assets'),
        OPUSCLIP_SANDBOX_URL: `http://127.0.0.1:${stuck.port}`,
        OPUSCLIP_SHUTDOWN_TIMEOUT_MS: String(bound),
      },
    });
    running.push(p.child);
    await p.waitFor(/opusclip: database sqlite:/);
    // The video's first API call is under way and will never be answered.
    const deadline = Date.now() + 30_000;
    while (stuck.connections() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.ok(stuck.connections() > 0, 'the pipeline called the stuck API');
    const sent = Date.now();
    p.child.kill('SIGTERM');
    const run = await p.exited;
    const took = Date.now() - sent;
    assert.equal(run.code, 130, run.stderr);
    assert.ok(took >= bound - 200, `it waited for the running work (${took} ms)`);
    assert.ok(took < bound + SLACK_MS, `ended ${took} ms after SIGTERM (bound ${bound} ms)`);
    assert.match(run.stderr, /SIGTERM: stopping after the running work/);
    assert.match(run.stderr, /did not stop within 3 s; exiting/);
    assert.deepEqual(stackLines(run.stderr), []);
  });

  it('process with a stuck API: a second Ctrl-C aborts the running work and forces the exit', async () => {
    const p = startCli(['process', 'https://youtu.be/9bZkp7q5f0E', '--no-narration'], {
      cwd,
      env: {
        DATABASE_URL: `sqlite:${join(cwd, 'stuck2.db')}`,
        OPUSCLIP_ASSETS_DIR: join(cwd, 'assets'),
        OPUSCLIP_SANDBOX_URL: `http://127.0.0.1:${stuck.port}`,
      },
    });
    running.push(p.child);
    await p.waitFor(/opusclip: database sqlite:/);
    p.child.kill('SIGINT');
    await p.waitFor(/SIGINT: stopping after the running work/);
    const sent = Date.now();
    p.child.kill('SIGINT');
    const run = await p.exited;
    const took = Date.now() - sent;
    assert.equal(run.code, 130, run.stderr);
    assert.ok(took < 3_000 + SLACK_MS, `ended ${took} ms after the second SIGINT`);
    assert.match(run.stderr, /SIGINT again: aborting the running work/);
    assert.deepEqual(stackLines(run.stderr), []);
  });

  it('serve --host: listens where it says, answers, and SIGTERM closes it with exit 0', async () => {
    const p = startCli(['serve', '--port', '0', '--host', '127.0.0.1'], {
      cwd,
      env: {
        DATABASE_URL: `sqlite:${join(cwd, 'serve.db')}`,
        REDIS_URL: TEST_REDIS_URL,
        OPUSCLIP_AUTH: 'off',
        OPUSCLIP_ASSETS_DIR: join(cwd, 'assets'),
        LOG_LEVEL: 'warn',
      },
    });
    running.push(p.child);
    await p.waitFor(/listening on http:\/\/127\.0\.0\.1:\d+/);
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(p.stderr())![1]!;
    const res = await fetch(`${url}/healthz`);
    assert.equal(res.status, 200);
    await res.body?.cancel();
    const sent = Date.now();
    p.child.kill('SIGTERM');
    const run = await p.exited;
    assert.equal(run.code, 0, run.stderr);
    assert.ok(Date.now() - sent < 10_000 + SLACK_MS);
  });
});

describe('LOG_LEVEL and --log-level: logs on stderr, redacted', () => {
  let cwd: string;
  let redis: ChildProcess;
  let redisPort: number;

  before(async () => {
    await ensureBuilt();
    cwd = await mkdtemp(join(tmpdir(), 'opusclip-logs-'));
    redisPort = await freePort();
    redis = await startRedisWithPassword(redisPort, SECRET);
  });
  after(async () => {
    if (redis) await stopProcess(redis);
    await rm(cwd, { recursive: true, force: true });
  });

  it('process at trace level: JSON logs on stderr, the result alone on stdout, no password anywhere', async () => {
    const env = {
      DATABASE_URL: `sqlite:${join(cwd, 'logs.db')}`,
      REDIS_URL: `redis://:${SECRET}@127.0.0.1:${redisPort}/0`,
      OPUSCLIP_ASSETS_DIR: join(cwd, 'assets'),
      YOUTUBE_API_KEY: 'AIzaFakeYoutubeKey123',
    };
    const run = await runCli(
      ['process', 'https://youtu.be/dQw4w9WgXcQ', '--sandbox', '--no-narration', '--no-thumbnails', '--json'],
      { cwd, env: { ...env, LOG_LEVEL: 'trace' } },
    );
    assert.equal(run.code, 0, run.stderr);
    const summary = JSON.parse(run.stdout) as { completed: number };
    assert.equal(summary.completed, 1);
    const logs = run.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; msg: string; redis?: string });
    const start = logs.find((l) => l.msg === 'opusclip process starting' && l.level === 20);
    assert.ok(start, run.stderr);
    assert.equal(start.redis, `redis://:***@127.0.0.1:${redisPort}/0`);
    for (const text of [run.stdout, run.stderr]) {
      assert.ok(!text.includes(SECRET), 'the Redis password is never printed');
      assert.ok(!text.includes('AIzaFakeYoutubeKey123'), 'the API key is never printed');
    }

    const quiet = await runCli(
      ['process', 'https://youtu.be/dQw4w9WgXcQ', '--sandbox', '--no-narration', '--no-thumbnails', '--json'],
      { cwd, env },
    );
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.ok(!/"level":(10|20|30)\b/.test(quiet.stderr), 'process logs warnings only, by default');
    const flag = await runCli(
      [
        'process',
        'https://youtu.be/dQw4w9WgXcQ',
        '--sandbox',
        '--no-narration',
        '--no-thumbnails',
        '--json',
        '--log-level',
        'debug',
      ],
      { cwd, env: { ...env, LOG_LEVEL: 'silent' } },
    );
    assert.equal(flag.code, 0, flag.stderr);
    assert.match(flag.stderr, /"msg":"opusclip process starting"/, 'the flag wins over LOG_LEVEL');
  });
});
