import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import {
  type CliRun,
  eachLimited,
  ensureBuilt,
  freePort,
  runCli,
  stackLines,
  startCli,
  stopProcess,
  stuckServer,
} from './cli-helpers.js';

const run = promisify(execFile);
const SECRET = 's3cret';
/** The shutdown bound given to serve and worker, and room for node's start on a loaded machine. */
const BOUND_MS = 6_000;
const SLACK_MS = 4_000;
/** A start-up check that fails ends within the CLI's 10 s promise; the same room on top. */
const CHECK_BOUND_MS = 10_000;

/**
 * A throwaway Redis Cluster of three primaries without replicas, each a child process of this test on
 * a free port (and a free cluster-bus port), so it can be killed without touching the shared cluster on
 * 7000-7005. Resolves once every node reports cluster_state:ok.
 */
async function startThrowawayCluster(dir: string): Promise<{ ports: number[]; nodes: ChildProcess[] }> {
  const ports: number[] = [];
  const nodes: ChildProcess[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const [port, busPort] = [await freePort(), await freePort()];
      const nodeDir = join(dir, String(port));
      await mkdir(nodeDir, { recursive: true });
      const child = spawn(
        'redis-server',
        [
          ...['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes'],
          ...['--cluster-port', String(busPort), '--cluster-config-file', join(nodeDir, 'nodes.conf')],
          ...['--cluster-node-timeout', '2000', '--save', '', '--appendonly', 'no', '--dir', nodeDir],
        ],
        { stdio: 'ignore' },
      );
      ports.push(port);
      nodes.push(child);
    }
    for (const port of ports) await until(async () => (await nodeInfo(port)) !== undefined, 5_000);
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-yes'], {
      timeout: 20_000,
    });
    for (const port of ports)
      await until(async () => /cluster_state:ok/.test((await nodeInfo(port)) ?? ''), 10_000);
    return { ports, nodes };
  } catch (error) {
    for (const child of nodes) await stopProcess(child);
    throw error;
  }
}

/** CLUSTER INFO of one node, or undefined when it does not answer. */
async function nodeInfo(port: number): Promise<string | undefined> {
  const client = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1_000,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return String(await client.cluster('INFO'));
  } catch {
    return undefined;
  } finally {
    client.disconnect();
  }
}

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await sleep(100);
  }
}

function assertNoSecret(run: CliRun, label: string): void {
  assert.ok(!`${run.stdout}${run.stderr}`.includes(SECRET), `${label}: the password is never printed`);
}

/** One stderr line matching `pattern`, exit 1, no stack trace, no password, within `boundMs`. */
function assertOneLine(run: CliRun, label: string, pattern: RegExp, boundMs = CHECK_BOUND_MS): void {
  assert.equal(run.code, 1, `${label}: exit 1\n${run.stderr}`);
  const lines = run.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `${label}: one line, got:\n${run.stderr}`);
  assert.match(lines[0]!, pattern, label);
  assert.deepEqual(stackLines(run.stderr + run.stdout), [], `${label}: no stack trace`);
  assertNoSecret(run, label);
  assert.ok(run.ms < boundMs + SLACK_MS, `${label}: ended in ${run.ms} ms`);
}

/**
 * The whole Redis Cluster unreachable: at start (every seed refuses, or hangs, or the seed is no cluster
 * node), and while serve and worker run (every node killed, then SIGTERM).
 */
describe('opusclip with the whole Redis Cluster down', { timeout: 120_000 }, () => {
  let cwd: string;
  const running: ChildProcess[] = [];

  before(async () => {
    await ensureBuilt();
    cwd = await mkdtemp(join(tmpdir(), 'opusclip-cluster-down-'));
    const setup = await runCli(['setup'], { cwd, env: { DATABASE_URL: `sqlite:${join(cwd, 'o.db')}` } });
    assert.equal(setup.code, 0, setup.stderr);
  });
  after(async () => {
    for (const child of running) await stopProcess(child);
    await rm(cwd, { recursive: true, force: true });
  });

  const env = (redisUrl: string): Record<string, string> => ({
    DATABASE_URL: `sqlite:${join(cwd, 'o.db')}`,
    REDIS_URL: redisUrl,
    OPUSCLIP_SANDBOX: 'true',
    OPUSCLIP_AUTH: 'off',
    OPUSCLIP_ASSETS_DIR: join(cwd, 'assets'),
    OPUSCLIP_SHUTDOWN_TIMEOUT_MS: String(BOUND_MS),
  });

  it('every seed refuses: each Redis command says so in one line, exit 1, no password', async () => {
    const [p1, p2] = [await freePort(), await freePort()];
    const url = `redis+cluster://app:${SECRET}@127.0.0.1:${p1},127.0.0.1:${p2}`;
    const commands = [
      ['serve', '--port', '0'],
      ['worker'],
      ['enqueue', 'https://youtu.be/clusterDown1'],
      ['jobs'],
      ['process', 'https://youtu.be/clusterDown2', '--no-narration'],
    ];
    await eachLimited(commands, 3, async (args) => {
      const result = await runCli(args, { cwd, env: env(url), killAfterMs: 30_000 });
      assertOneLine(
        result,
        args[0]!,
        new RegExp(
          `ERR_CLI_UNREACHABLE: cannot reach Redis Cluster at 127\\.0\\.0\\.1:${p1},127\\.0\\.0\\.1:${p2}: connection refused$`,
        ),
      );
    });
  });

  it('seeds that accept connections but never answer: the same, after the connect timeout', async () => {
    const stuck = await stuckServer();
    try {
      const closed = await freePort();
      const url = `redis+cluster://app:${SECRET}@127.0.0.1:${stuck.port},127.0.0.1:${closed}`;
      await eachLimited([['worker'], ['serve', '--port', '0']], 2, async (args) => {
        const result = await runCli(args, { cwd, env: env(url), killAfterMs: 30_000 });
        assertOneLine(
          result,
          `${args[0]} (stuck)`,
          new RegExp(
            `ERR_CLI_UNREACHABLE: cannot reach Redis Cluster at 127\\.0\\.0\\.1:${stuck.port},127\\.0\\.0\\.1:${closed}: no answer within 4 s$`,
          ),
        );
      });
      assert.ok(stuck.connections() > 0, 'the stuck seed was tried');
    } finally {
      await stuck.close();
    }
  });

  it('a seed that is a single Redis, not a cluster node: a configuration error, not a wait', async () => {
    // The shared single Redis on 6379 only answers PING and CLUSTER INFO here: nothing is written.
    const url = `redis+cluster://127.0.0.1:6379`;
    await eachLimited([['jobs'], ['enqueue', 'https://youtu.be/clusterDown3']], 2, async (args) => {
      const result = await runCli(args, { cwd, env: env(url), killAfterMs: 30_000 });
      assertOneLine(
        result,
        `${args[0]} (not a cluster)`,
        /ERR_CONFIG: REDIS_URL names a Redis Cluster, but 127\.0\.0\.1:6379 has cluster support disabled/,
      );
    });
  });

  describe('a throwaway cluster that goes away', () => {
    const clusters: Array<{ nodes: ChildProcess[]; dir: string }> = [];
    const throwaway = async (): Promise<{ ports: number[]; nodes: ChildProcess[] }> => {
      const dir = await mkdtemp(join(tmpdir(), 'opusclip-cluster-down-nodes-'));
      const started = await startThrowawayCluster(dir).catch(async (error: unknown) => {
        await rm(dir, { recursive: true, force: true });
        throw error;
      });
      clusters.push({ nodes: started.nodes, dir });
      return started;
    };
    after(async () => {
      for (const { nodes, dir } of clusters) {
        for (const child of nodes) await stopProcess(child);
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('a seed answers but its cluster is down (cluster_state:fail): one line, exit 1', async () => {
      const { ports, nodes } = await throwaway();
      for (const node of nodes.slice(1)) await stopProcess(node);
      // Alone in a minority, the survivor declares the cluster failed after the node timeout (2 s).
      await until(async () => /cluster_state:fail/.test((await nodeInfo(ports[0]!)) ?? ''), 10_000);
      const url = `redis+cluster://127.0.0.1:${ports[0]},127.0.0.1:${ports[1]}`;
      const result = await runCli(['jobs'], { cwd, env: env(url), killAfterMs: 30_000 });
      assertOneLine(
        result,
        'jobs (cluster_state:fail)',
        new RegExp(
          `ERR_CLI_UNREACHABLE: Redis Cluster at 127.0.0.1:${ports[0]},127.0.0.1:${ports[1]} is down: .*cluster_state:fail`,
        ),
      );
    });

    it('every node killed, then SIGTERM: both exit 0 within the bound; serve reports not ready', async () => {
      const { ports, nodes } = await throwaway();
      const url = `redis+cluster://127.0.0.1:${ports[0]},127.0.0.1:${ports[1]}`;
      const serve = startCli(['serve', '--port', '0'], { cwd, env: env(url) });
      const worker = startCli(['worker'], { cwd, env: env(url) });
      running.push(serve.child, worker.child);
      await Promise.all([serve.waitFor(/listening on http/), worker.waitFor(/waiting for jobs/)]);
      const base = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(serve.stderr())![1]!;
      const ready = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(5_000) });
      assert.equal(ready.status, 200, await ready.text());

      for (const node of nodes) await stopProcess(node);
      await sleep(1_500);
      const notReady = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(5_000) });
      const body = (await notReady.json()) as { checks?: Record<string, { ok: boolean }> };
      assert.equal(notReady.status, 503, JSON.stringify(body));
      assert.equal(body.checks?.redis?.ok, false, JSON.stringify(body));
      const jobs = await fetch(`${base}/api/jobs`, { signal: AbortSignal.timeout(5_000) });
      assert.equal(jobs.status, 503, 'the queue routes answer 503 while the cluster is down');

      const sent = Date.now();
      serve.child.kill('SIGTERM');
      worker.child.kill('SIGTERM');
      const [s, w] = await Promise.all([serve.exited, worker.exited]);
      const took = Date.now() - sent;
      for (const [label, result] of [
        ['serve', s],
        ['worker', w],
      ] as const) {
        assert.equal(result.code, 0, `${label}: exit ${result.code} after ${took} ms:\n${result.stderr}`);
        // JSON log lines carry an error's stack in their `err` field; nothing else may print one.
        const plain = (result.stderr + result.stdout).split('\n').filter((l) => !l.startsWith('{'));
        assert.deepEqual(stackLines(plain.join('\n')), [], `${label}: no stack trace`);
      }
      assert.ok(took < BOUND_MS + SLACK_MS, `stopped in ${took} ms`);
      // BullMQ reports each reconnection attempt (about ten a second on a cluster): one line each.
      const workerErrors = w.stderr.split('\n').filter((l) => /worker error/.test(l));
      assert.ok(workerErrors.length <= 2, `worker errors logged once each:\n${workerErrors.join('\n')}`);
      // No job ran: the worker says what held its close (Redis), not that it abandoned jobs.
      assert.doesNotMatch(w.stderr, /gave up on the/);
      assert.match(w.stderr, /Redis did not answer while closing|draining/);
      // Serve's Redis warning names the seeds (no password) and carries no stack.
      const redisWarnings = s.stderr.split('\n').filter((l) => l.includes('Redis connection failed'));
      assert.ok(redisWarnings.length >= 1, s.stderr);
      for (const line of redisWarnings) {
        assert.match(line, new RegExp(`127\\.0\\.0\\.1:${ports[0]}`));
        assert.doesNotMatch(line, /\bat .+\(.+:\d+:\d+\)/);
      }
    });
  });
});
