import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { TEST_PG_URL, uniqueName } from '../support/env.js';
import { eachLimited, ensureBuilt, ROOT, runCli, stuckServer } from './cli-helpers.js';

const COMMANDS = [
  'demo',
  'process',
  'setup',
  'videos',
  'video',
  'stats',
  'enqueue',
  'worker',
  'jobs',
  'sandbox',
  'serve',
];

async function pgSchemaTables(schema: string): Promise<{ exists: boolean; tables: number }> {
  const client = new pg.Client({ connectionString: TEST_PG_URL });
  await client.connect();
  try {
    const s = await client.query('SELECT 1 FROM information_schema.schemata WHERE schema_name = $1', [
      schema,
    ]);
    const t = await client.query(
      'SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = $1',
      [schema],
    );
    return { exists: (s.rowCount ?? 0) > 0, tables: (t.rows[0] as { n: number }).n };
  } finally {
    await client.end();
  }
}

describe('opusclip --help, -h, --version: printed, exit 0, nothing else happens', () => {
  let cwd: string;
  let dir: string;
  let redis: Awaited<ReturnType<typeof stuckServer>>;
  const schema = uniqueName('clihelp').toLowerCase();

  before(async () => {
    await ensureBuilt();
    cwd = await mkdtemp(join(tmpdir(), 'opusclip-help-cwd-'));
    dir = await mkdtemp(join(tmpdir(), 'opusclip-help-'));
    redis = await stuckServer();
  });
  after(async () => {
    await redis?.close();
    await rm(cwd, { recursive: true, force: true });
    await rm(dir, { recursive: true, force: true });
  });

  it('every command prints generated usage for --help and -h, and touches no file, table, server or connection', async () => {
    const sqlite = join(dir, 'fresh.db');
    const runs = COMMANDS.flatMap((c) => [
      { args: [c, '--help'], db: `sqlite:${sqlite}` },
      { args: [c, '-h'], db: `${TEST_PG_URL}?schema=${schema}` },
    ]);
    runs.push({ args: ['--help'], db: `sqlite:${sqlite}` }, { args: ['-h'], db: `sqlite:${sqlite}` });
    runs.push({ args: ['help', 'process'], db: `sqlite:${sqlite}` });
    await eachLimited(runs, 3, async ({ args, db }) => {
      const run = await runCli(args, {
        cwd,
        env: {
          DATABASE_URL: db,
          REDIS_URL: `redis://127.0.0.1:${redis.port}`,
          OPUSCLIP_AUTH: 'off',
          OPUSCLIP_ASSETS_DIR: join(cwd, 'assets'),
        },
      });
      const label = args.join(' ');
      assert.equal(run.code, 0, `${label}: ${run.stderr}`);
      assert.equal(run.stderr, '', `${label} writes nothing to stderr`);
      const command = args[0] === 'help' ? args[1] : args[0]?.startsWith('-') ? undefined : args[0];
      assert.match(run.stdout, new RegExp(`^Usage: opusclip${command ? ` ${command}` : ''} `), label);
      assert.match(run.stdout, /Exit status:/, `${label} documents the exit codes`);
      if (command) assert.match(run.stdout, /-h, --help/);
    });
    assert.deepEqual(await readdir(cwd), [], 'the working directory stays empty');
    assert.ok(!existsSync(sqlite), 'no SQLite file was created');
    assert.deepEqual(
      await pgSchemaTables(schema),
      { exists: false, tables: 0 },
      'no PostgreSQL schema or table',
    );
    assert.equal(redis.connections(), 0, 'nothing connected to Redis');
  });

  it('the top-level help lists every command', async () => {
    const run = await runCli(['--help'], { cwd });
    for (const c of COMMANDS) assert.match(run.stdout, new RegExp(`^  ${c} `, 'm'), c);
  });

  it("the configuration table's columns line up, whatever the variable's length", async () => {
    const run = await runCli(['serve', '--help'], { cwd });
    assert.equal(run.code, 0, run.stderr);
    const table = run.stdout
      .split('Configuration (environment variable, flag; flags win):\n')[1]!
      .split('\n\n')[0]!;
    const rows = table.split('\n');
    assert.ok(rows.length >= 20, table);
    // Each row: the variable, the flag (or blanks) and the meaning, which starts at one column for all.
    const starts = new Set(rows.map((r) => /^ {2}\S+ +(?:--\S+ +)?/.exec(r)![0].length));
    assert.equal(starts.size, 1, table);
    assert.ok(
      rows.some((r) => r.includes('OPUSCLIP_STABILITY_CREDITS_PER_MONTH  ')),
      table,
    );
  });

  it('--version and -V print the package version', async () => {
    const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const run = await runCli([flag], { cwd });
      assert.equal(run.code, 0);
      assert.equal(run.stdout.trim(), version);
    }
  });

  it('help has no colour unless asked for, and NO_COLOR wins over FORCE_COLOR', async () => {
    const ESC = '\u001b[';
    const plain = await runCli(['process', '--help'], { cwd });
    assert.ok(!plain.stdout.includes(ESC), 'a pipe gets no escape codes');
    const forced = await runCli(['process', '--help'], { cwd, env: { FORCE_COLOR: '1' } });
    assert.ok(forced.stdout.includes(ESC), 'FORCE_COLOR gives colour');
    const no = await runCli(['process', '--help'], { cwd, env: { FORCE_COLOR: '1', NO_COLOR: '1' } });
    assert.ok(!no.stdout.includes(ESC), 'NO_COLOR removes it');
  });
});

describe('opusclip usage errors: exit 2, one line with a hint, no side effect', () => {
  let cwd: string;

  before(async () => {
    await ensureBuilt();
    cwd = await mkdtemp(join(tmpdir(), 'opusclip-usage-'));
  });
  after(async () => {
    await rm(cwd, { recursive: true, force: true });
  });

  const CASES: Array<{ args: string[]; says: RegExp }> = [
    { args: ['nope'], says: /unknown command 'nope'/ },
    { args: ['process', '--bogus', 'https://youtu.be/dQw4w9WgXcQ'], says: /unknown option '--bogus'/ },
    { args: ['process'], says: /at least one URL/ },
    { args: ['enqueue'], says: /at least one URL/ },
    { args: ['video'], says: /missing required argument 'id'/ },
    { args: ['stats', 'extra'], says: /too many arguments/ },
    { args: ['videos', '--limit', '0'], says: /--limit/ },
    { args: ['videos', '--limit', 'ten'], says: /--limit/ },
    { args: ['videos', '--status', 'nope'], says: /--status/ },
    { args: ['sandbox', '--chaos', '1.5'], says: /--chaos.*0 to 1/ },
    { args: ['sandbox', '--chaos', 'lots'], says: /--chaos/ },
    { args: ['sandbox', '--port', '70000'], says: /--port.*0 to 65535/ },
    { args: ['serve', '--port', '-1'], says: /--port|unknown option/ },
    { args: ['serve', '--host', 'a b'], says: /--host/ },
    { args: ['worker', '--stalled-interval', 'soon'], says: /--stalled-interval/ },
    { args: ['worker', '--stalled-interval', '5'], says: /--stalled-interval/ },
    { args: ['worker', '--concurrency', '0'], says: /--concurrency/ },
    { args: ['worker', '--metrics-port', '99999'], says: /--metrics-port/ },
    { args: ['process', '--concurrency', '1e3', 'https://youtu.be/dQw4w9WgXcQ'], says: /--concurrency/ },
    { args: ['demo', '--log-level', 'loud'], says: /--log-level/ },
    { args: ['jobs', '--limit', '5'], says: /unknown option '--limit'/ },
    {
      args: ['process', '--file', 'missing-urls.txt'],
      says: /--file: cannot read missing-urls\.txt \(ENOENT\)/,
    },
    { args: ['enqueue', '--file', 'missing-urls.txt'], says: /--file: cannot read/ },
  ];

  it('each bad command line is refused before anything runs', async () => {
    const sqlite = join(cwd, 'never.db');
    await eachLimited(CASES, 3, async ({ args, says }) => {
      const run = await runCli(args, {
        cwd,
        env: { DATABASE_URL: `sqlite:${sqlite}`, OPUSCLIP_ASSETS_DIR: join(cwd, 'assets') },
      });
      const label = args.join(' ');
      assert.equal(run.code, 2, `${label}: ${run.stderr}`);
      assert.equal(run.stdout, '', label);
      const lines = run.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, `${label}: one line, got:\n${run.stderr}`);
      assert.match(lines[0]!, says, label);
      assert.match(lines[0]!, /--help/, `${label}: the hint says where the usage is`);
    });
    assert.deepEqual(await readdir(cwd), [], 'nothing was created');
  });

  it('no command at all prints the usage to stderr and exits 2', async () => {
    const run = await runCli([], { cwd });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^Usage: opusclip /);
  });
});
