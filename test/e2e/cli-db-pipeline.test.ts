import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { TEST_PG_URL, uniqueName } from '../support/env.js';
import { ensureBuilt, runCli, startCli, stopProcess } from './cli-helpers.js';

/** The value of an unlabelled (or first) sample of `name` in a Prometheus text exposition. */
function sample(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  assert.ok(line, `no sample ${name}${labels}`);
  return Number(line.split(' ')[1]);
}

/**
 * OPUSCLIP_DB_PIPELINE through the `opusclip` binary: `serve` on PostgreSQL pipelines its reads by
 * default, `off` gives every statement a connection of its own, and a wrong value is refused at once.
 */
describe('OPUSCLIP_DB_PIPELINE through the binary', { timeout: 120_000 }, () => {
  let cwd: string;
  const schema = uniqueName('clipipe').toLowerCase();
  const url = `${TEST_PG_URL}?schema=${schema}`;
  const running: ChildProcess[] = [];

  before(async () => {
    await ensureBuilt();
    cwd = await mkdtemp(join(tmpdir(), 'opusclip-db-pipeline-'));
    const client = new pg.Client({ connectionString: TEST_PG_URL });
    await client.connect();
    await client.query(`CREATE SCHEMA ${schema}`);
    await client.end();
    const setup = await runCli(['setup'], { cwd, env: { DATABASE_URL: url } });
    assert.equal(setup.code, 0, setup.stderr);
  });
  after(async () => {
    for (const child of running) await stopProcess(child);
    const client = new pg.Client({ connectionString: TEST_PG_URL });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.end();
    await rm(cwd, { recursive: true, force: true });
  });

  /** Starts `serve`, asks for the video list 20 times at once, returns /metrics' text. */
  async function metricsAfterReads(extra: Record<string, string>): Promise<string> {
    const p = startCli(['serve', '--port', '0'], {
      cwd,
      env: { DATABASE_URL: url, OPUSCLIP_AUTH: 'off', ...extra },
    });
    running.push(p.child);
    await p.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
    const base = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(p.stderr())![1]!;
    const answers = await Promise.all(Array.from({ length: 20 }, () => fetch(`${base}/api/videos`)));
    assert.deepEqual(
      answers.map((a) => a.status),
      answers.map(() => 200),
    );
    const text = await (await fetch(`${base}/metrics`)).text();
    p.child.kill('SIGTERM');
    const run = await p.exited;
    assert.equal(run.code, 0, run.stderr);
    return text;
  }

  it('on by default: reads are pipelined; off: none is, the pool serves every statement', async () => {
    const on = await metricsAfterReads({});
    // The service's cache folds the 20 requests into one read per status: 5 statements at least.
    const reads = sample(on, 'opusclip_db_queries_total', '{name="store.getVideosByStatus"}');
    assert.ok(reads >= 5, `${reads} reads`);
    assert.ok(sample(on, 'opusclip_db_pipeline_statements_total') >= reads, 'every read was pipelined');
    const off = await metricsAfterReads({ OPUSCLIP_DB_PIPELINE: 'off' });
    assert.equal(sample(off, 'opusclip_db_pipeline_statements_total'), 0);
    assert.equal(sample(off, 'opusclip_db_pipeline_connections'), 0);
    assert.ok(sample(off, 'opusclip_db_queries_total', '{name="store.getVideosByStatus"}') >= 5);
  });

  it('a value other than on, off or all: one line naming the variable, exit 1, nothing started', async () => {
    const run = await runCli(['serve', '--port', '0'], {
      cwd,
      env: { DATABASE_URL: url, OPUSCLIP_AUTH: 'off', OPUSCLIP_DB_PIPELINE: 'sometimes' },
      killAfterMs: 20_000,
    });
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /OPUSCLIP_DB_PIPELINE "sometimes": expected on, off or all/);
    assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
  });
});
