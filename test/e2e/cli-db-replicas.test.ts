import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { TEST_PG_URL, uniqueName } from '../support/env.js';
import { ensurePgReplica, replicaCaughtUp, TEST_PG_REPLICA_URL } from '../support/pg-replica.js';
import { ensureBuilt, freePort, runCli, startCli, stopProcess } from './cli-helpers.js';

const SECRET = 'e2e-replica-secret-771';

/** The value of the sample `name{labels}` in a Prometheus text exposition. */
function sample(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  assert.ok(line, `no sample ${name}${labels}`);
  return Number(line.split(' ')[1]);
}

/**
 * DATABASE_REPLICA_URLS through the `opusclip` binary: `serve` reads from the streaming replica on
 * 127.0.0.1:5433 (scripts/start-pg-replica.sh), skips one that cannot be reached, reports both in
 * /metrics by host:port, and never shows a replica's password.
 */
describe('DATABASE_REPLICA_URLS through the binary', { timeout: 180_000 }, () => {
  let cwd: string;
  const schema = uniqueName('clirepl').toLowerCase();
  const url = `${TEST_PG_URL}?schema=${schema}`;
  const running: ChildProcess[] = [];

  const admin = async (sql: string): Promise<void> => {
    const client = new pg.Client({ connectionString: TEST_PG_URL });
    await client.connect();
    await client.query(sql);
    await client.end();
  };

  before(async () => {
    await Promise.all([ensureBuilt(), ensurePgReplica()]);
    cwd = await mkdtemp(join(tmpdir(), 'opusclip-db-replicas-'));
    await admin(`CREATE SCHEMA ${schema}`);
    const setup = await runCli(['setup'], { cwd, env: { DATABASE_URL: url } });
    assert.equal(setup.code, 0, setup.stderr);
    await replicaCaughtUp();
  });
  after(async () => {
    for (const child of running) await stopProcess(child);
    await admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await rm(cwd, { recursive: true, force: true });
  });

  it('serve reads from the replica, skips an unreachable one, and /metrics names both without a password', async () => {
    const dead = `postgres://postgres:${SECRET}@127.0.0.1:${await freePort()}/test`;
    // The replica's URL has no ?schema=: it takes the primary's.
    const p = startCli(['serve', '--port', '0'], {
      cwd,
      env: {
        DATABASE_URL: url,
        DATABASE_REPLICA_URLS: `${TEST_PG_REPLICA_URL}, ${dead}`,
        OPUSCLIP_AUTH: 'off',
      },
    });
    running.push(p.child);
    await p.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
    const base = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(p.stderr())![1]!;
    for (const path of ['/api/videos', '/api/stats']) {
      const answer = await fetch(`${base}${path}`);
      assert.equal(answer.status, 200, await answer.text());
    }
    const text = await (await fetch(`${base}/metrics`)).text();
    p.child.kill('SIGTERM');
    const run = await p.exited;
    assert.equal(run.code, 0, run.stderr);

    assert.ok(
      sample(text, 'opusclip_db_reads_total', '{target="replica"}') >= 1,
      'reads went to the replica',
    );
    assert.ok(sample(text, 'opusclip_db_replica_reads_total', '{replica="127.0.0.1:5433"}') >= 1);
    assert.equal(sample(text, 'opusclip_db_replica_state', '{replica="127.0.0.1:5433",state="ok"}'), 1);
    const deadName = new URL(dead).host;
    assert.equal(sample(text, 'opusclip_db_replica_state', `{replica="${deadName}",state="unreachable"}`), 1);
    assert.ok(
      sample(text, 'opusclip_db_replica_skips_total', `{replica="${deadName}",reason="unreachable"}`) >= 1,
    );
    assert.ok(text.includes('opusclip_db_replica_lag_seconds{replica="127.0.0.1:5433"}'));
    assert.ok(!text.includes(SECRET), 'no password in /metrics');
    assert.ok(!run.stderr.includes(SECRET), 'no password in the logs');
    assert.match(
      run.stderr,
      new RegExp(`read replica ${deadName.replace('.', '\\.')}`),
      'the dead replica is logged',
    );
  });

  it('a replica URL that is not postgres://: one line naming the variable, without its password, exit 1', async () => {
    const run = await runCli(['serve', '--port', '0'], {
      cwd,
      env: {
        DATABASE_URL: url,
        DATABASE_REPLICA_URLS: `mysql://root:${SECRET}@127.0.0.1:3306/test`,
        OPUSCLIP_AUTH: 'off',
      },
      killAfterMs: 20_000,
    });
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /DATABASE_REPLICA_URLS/);
    assert.ok(!run.stderr.includes(SECRET), run.stderr);
    assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
  });
});
