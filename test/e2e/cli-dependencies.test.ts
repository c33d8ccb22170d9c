import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { storeMigrations } from '../../src/store/store-migrations.js';
import { TEST_PG_URL, uniqueName } from '../support/env.js';
import {
  type CliRun,
  eachLimited,
  ensureBuilt,
  freePort,
  runCli,
  stackLines,
  startRedisWithPassword,
  stopProcess,
  stuckServer,
} from './cli-helpers.js';

const SECRET = 'pw-Sup3rS3cret';
const URL_ARG = 'https://youtu.be/dQw4w9WgXcQ';
/**
 * Every dependency failure ends within this (the bound the CLI promises), plus room for a loaded CI
 * machine where node alone takes seconds to start.
 */
const BOUND_MS = 10_000;
const SLACK_MS = 6_000;

function assertOneLine(run: CliRun, label: string, pattern: RegExp): void {
  assert.equal(run.code, 1, `${label}: exit 1\n${run.stderr}`);
  const lines = run.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `${label}: one line, got:\n${run.stderr}`);
  assert.match(lines[0]!, pattern, label);
  assert.deepEqual(stackLines(run.stderr), [], `${label}: no stack trace`);
  assert.ok(!`${run.stdout}${run.stderr}`.includes(SECRET), `${label}: the password is never printed`);
  assert.ok(run.ms < BOUND_MS + SLACK_MS, `${label}: ended in ${run.ms} ms`);
}

describe('opusclip with a dependency that is down, stuck or refuses the password', () => {
  let cwd: string;
  let closedPort: number;
  let stuck: Awaited<ReturnType<typeof stuckServer>>;
  let redisPort: number;
  let redis: ChildProcess;

  before(async () => {
    await ensureBuilt();
    cwd = await mkdtemp(join(tmpdir(), 'opusclip-deps-'));
    closedPort = await freePort();
    stuck = await stuckServer();
    redisPort = await freePort();
    redis = await startRedisWithPassword(redisPort, 'the-right-one');
  });
  after(async () => {
    if (redis) await stopProcess(redis);
    await stuck?.close();
    await rm(cwd, { recursive: true, force: true });
  });

  const env = (extra: Record<string, string>): Record<string, string> => ({
    DATABASE_URL: `sqlite:${join(cwd, 'run.db')}`,
    OPUSCLIP_ASSETS_DIR: join(cwd, 'assets'),
    OPUSCLIP_AUTH: 'off',
    ...extra,
  });

  const REDIS_COMMANDS = [
    ['jobs'],
    ['enqueue', URL_ARG],
    ['process', URL_ARG, '--no-narration'],
    ['worker'],
    ['serve', '--port', '0'],
  ];

  it('an unreachable Redis: one line naming host and port, exit 1, within the bound', async () => {
    await eachLimited(REDIS_COMMANDS, 3, async (args) => {
      const run = await runCli(args, {
        cwd,
        env: env({ REDIS_URL: `redis://:${SECRET}@127.0.0.1:${closedPort}/0` }),
        killAfterMs: 30_000,
      });
      assertOneLine(
        run,
        `${args[0]} (refused)`,
        new RegExp(
          `ERR_CLI_UNREACHABLE: cannot reach Redis at 127\\.0\\.0\\.1:${closedPort}: connection refused`,
        ),
      );
    });
  });

  it('a Redis that accepts connections but never answers: the same, after the connect timeout', async () => {
    await eachLimited([['jobs'], ['enqueue', URL_ARG]], 2, async (args) => {
      const run = await runCli(args, {
        cwd,
        env: env({ REDIS_URL: `redis://:${SECRET}@127.0.0.1:${stuck.port}` }),
        killAfterMs: 30_000,
      });
      assertOneLine(
        run,
        `${args[0]} (stuck)`,
        new RegExp(`cannot reach Redis at 127\\.0\\.0\\.1:${stuck.port}`),
      );
    });
  });

  it('a wrong Redis password ends the command at once, and the password is never printed', async () => {
    await eachLimited(REDIS_COMMANDS, 3, async (args) => {
      const run = await runCli(args, {
        cwd,
        env: env({ REDIS_URL: `redis://:${SECRET}@127.0.0.1:${redisPort}` }),
        killAfterMs: 30_000,
      });
      assertOneLine(
        run,
        `${args[0]} (wrong password)`,
        new RegExp(`ERR_CLI_AUTH_FAILED: Redis at 127\\.0\\.0\\.1:${redisPort} refused the credentials`),
      );
    });
  });

  it('an unreachable PostgreSQL or MariaDB: one line naming host and port, password hidden', async () => {
    const urls = [
      `postgres://app:${SECRET}@127.0.0.1:${closedPort}/db`,
      `mysql://app:${SECRET}@127.0.0.1:${closedPort}/db`,
    ];
    const commands = [['stats'], ['videos'], ['setup'], ['process', URL_ARG, '--no-narration']];
    const runs = urls.flatMap((url) => commands.map((args) => ({ url, args })));
    await eachLimited(runs, 3, async ({ url, args }) => {
      const run = await runCli(args, { cwd, env: env({ DATABASE_URL: url }), killAfterMs: 30_000 });
      assertOneLine(run, `${args[0]} ${url.split(':')[0]}`, new RegExp(`127\\.0\\.0\\.1:${closedPort}`));
      assert.match(run.stderr, /app:\*\*\*@/);
    });
  });

  it('malformed DATABASE_URL and REDIS_URL are reported without the password', async () => {
    const runs = [
      { args: ['stats'], extra: { DATABASE_URL: `postgres//u:${SECRET}@h/db` } },
      { args: ['setup'], extra: { DATABASE_URL: `mysql:u:${SECRET}@h` } },
      { args: ['jobs'], extra: { REDIS_URL: `redis//:${SECRET}@h:6379` } },
      { args: ['jobs'], extra: { REDIS_URL: `redis:${SECRET}@h` } },
    ];
    await eachLimited(runs, 2, async ({ args, extra }) => {
      const run = await runCli(args, { cwd, env: env(extra), killAfterMs: 30_000 });
      assertOneLine(
        run,
        `${args[0]} ${Object.values(extra)[0]!.replace(SECRET, '<pw>')}`,
        /ERR_DB_URL|ERR_CONFIG/,
      );
    });
  });

  it('the process ended by these failures created nothing but what it was told to', async () => {
    const left = await readdir(cwd);
    assert.ok(!left.includes('assets'), `no assets directory: ${left.join(', ')}`);
  });
});

describe('read commands on an empty database say to run setup and create nothing', () => {
  let cwd: string;
  const schema = uniqueName('cliempty').toLowerCase();
  let client: pg.Client;

  before(async () => {
    await ensureBuilt();
    cwd = await mkdtemp(join(tmpdir(), 'opusclip-empty-'));
    client = new pg.Client({ connectionString: TEST_PG_URL });
    await client.connect();
    await client.query(`CREATE SCHEMA ${schema}`);
  });
  after(async () => {
    await client?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client?.end();
    await rm(cwd, { recursive: true, force: true });
  });

  const READS = [
    ['videos'],
    ['video', '0190d6f2-0000-7000-8000-000000000000'],
    ['stats'],
    ['stats', '--json'],
  ];

  it('SQLite: the file is not created', async () => {
    const file = join(cwd, 'fresh.db');
    await eachLimited(READS, 2, async (args) => {
      const run = await runCli(args, { cwd, env: { DATABASE_URL: `sqlite:${file}` } });
      assert.equal(run.code, 1, run.stderr);
      assert.equal(run.stdout, '');
      assert.equal(run.stderr.trimEnd().split('\n').length, 1, run.stderr);
      assert.match(run.stderr, /ERR_CLI_NOT_SET_UP: .*run `opusclip setup`/);
    });
    assert.ok(!existsSync(file), 'no SQLite file');
    assert.deepEqual(await readdir(cwd), []);
  });

  it('PostgreSQL: an empty schema gets no table; after setup the same commands work', async () => {
    const url = `${TEST_PG_URL}?schema=${schema}`;
    await eachLimited(READS, 2, async (args) => {
      const run = await runCli(args, { cwd, env: { DATABASE_URL: url } });
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, /ERR_CLI_NOT_SET_UP: .*run `opusclip setup`/);
    });
    const tables = await client.query(
      'SELECT table_name FROM information_schema.tables WHERE table_schema = $1',
      [schema],
    );
    assert.equal(tables.rowCount, 0, 'no table was created');

    const setup = await runCli(['setup'], { cwd, env: { DATABASE_URL: url } });
    assert.equal(setup.code, 0, setup.stderr);
    assert.match(setup.stdout, /applied migrations: store_0001_schema, store_0002_video_stages/);
    const stats = await runCli(['stats', '--json'], { cwd, env: { DATABASE_URL: url } });
    assert.equal(stats.code, 0, stats.stderr);
    assert.equal(
      (JSON.parse(stats.stdout) as { stats: { videos: { total: number } } }).stats.videos.total,
      0,
    );
    const again = await runCli(['setup'], { cwd, env: { DATABASE_URL: url } });
    const migrations = Object.keys(storeMigrations('postgres')).length;
    assert.match(again.stdout, new RegExp(`up to date \\(${migrations} migrations already applied\\)`));
  });
});
