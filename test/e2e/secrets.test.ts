import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { createSandbox, type Sandbox } from '../../src/sandbox/index.js';
import {
  type CliRun,
  eachLimited,
  ensureBuilt,
  freePort,
  startCli,
  startRedisWithPassword,
  stopProcess,
  stuckServer,
} from './cli-helpers.js';

/**
 * Fake secrets of every kind the project handles, each a distinctive string. Every byte a process
 * writes or serves, and every key and row it stores, is searched for each of them (raw and URL-encoded).
 */
const SECRETS = {
  YOUTUBE_API_KEY: 'AIzaFakeYtKey-7Qm2Lx9Pz4Wv',
  YOUTUBE_OAUTH_TOKEN: 'ya29.FakeOauthTok3n_Hs8Kd2Jf',
  OPENAI_API_KEY: 'sk-fakeOpenAi9Tq4Rb7Nc1Ze',
  STABILITY_API_KEY: 'sk-fakeStab1l1ty3Vw8Yh2Mk',
  ELEVENLABS_API_KEY: 'xi-fakeEleven5Gp6Dj0Ua',
  SERVICE_KEY_1: 'svc-fakeServiceOne4Lr8Qe',
  SERVICE_KEY_2: 'svc-fakeServiceTwo2Np5Ty',
  DATABASE_PASSWORD: 'PgFakePassw0rd+Kx3=Hd/q',
  REDIS_PASSWORD: 'RdFakePassw0rd!Zc7$Wb',
  REDIS_WRONG_PASSWORD: 'RdWrongPassw0rd?Fe9Ms',
  VIDEO_URL_PASSWORD: 'UrlFakePassw0rd.Jt6Gv',
} as const;
type SecretName = keyof typeof SECRETS;

const enc = encodeURIComponent;
/** The forms a secret may take in output: as is, URL-encoded, and as WHATWG URL userinfo encodes it. */
const NEEDLES: Array<{ name: SecretName; needle: string }> = Object.entries(SECRETS).flatMap(
  ([name, value]) =>
    [...new Set([value, enc(value), new URL(`http://u:${enc(value)}@h/`).password])].map((needle) => ({
      name: name as SecretName,
      needle,
    })),
);

/** Where a secret was found: `where` names the command/source and the stream, never the secret. */
const leaks: string[] = [];
function search(where: string, text: string): void {
  for (const { name, needle } of NEEDLES) {
    if (text.includes(needle)) leaks.push(`${where}: ${name}`);
  }
}

const VIDEO = 'https://youtu.be/dQw4w9WgXcQ';
const RUN_BOUND_MS = 40_000;

/** Commands that run until stopped: they get SIGTERM after a while (the others must end by themselves). */
const LONG_RUNNING = new Set(['worker', 'serve', 'sandbox']);
const TERM_AFTER_MS = 12_000;

/**
 * Runs one command to its end; a long-running one gets SIGTERM after `termAfterMs` (and every one
 * SIGKILL if it is still there much later), then both streams are searched.
 */
async function runAndSearch(
  label: string,
  args: string[],
  env: Record<string, string>,
  cwd: string,
  termAfterMs: number | undefined,
): Promise<CliRun> {
  const p = startCli(args, { env, cwd });
  const term = termAfterMs === undefined ? undefined : setTimeout(() => p.child.kill('SIGTERM'), termAfterMs);
  const kill = setTimeout(() => p.child.kill('SIGKILL'), RUN_BOUND_MS);
  try {
    const run = await p.exited;
    search(`${label} stdout`, run.stdout);
    search(`${label} stderr`, run.stderr);
    return run;
  } finally {
    clearTimeout(term);
    clearTimeout(kill);
  }
}

/**
 * A vendor API stand-in in front of a real sandbox: under `/fail-<vendor>/...` that vendor refuses the
 * key (401) or fails (500), alternately, quoting the credential it was sent as some vendors do; the
 * other vendors are passed through to the sandbox, so the pipeline gets as far as the failing one.
 * Without a `/fail-…` prefix every vendor fails.
 */
async function failingApi(sandboxUrl: string): Promise<{
  url: string;
  failures: () => Set<string>;
  close(): Promise<void>;
}> {
  let count = 0;
  const failed = new Set<string>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const prefix = /^\/fail-([a-z]+)(\/.*)$/.exec(url.pathname);
      const path = prefix ? prefix[2]! : url.pathname;
      const vendor = path.split('/')[1] ?? '';
      if (prefix && prefix[1] !== vendor) {
        const headers = Object.fromEntries(
          Object.entries(req.headers).filter(
            (e): e is [string, string] => typeof e[1] === 'string' && !['host', 'connection'].includes(e[0]),
          ),
        );
        const body = chunks.length > 0 ? Buffer.concat(chunks) : undefined;
        fetch(`${sandboxUrl}${path}${url.search}`, {
          method: req.method ?? 'GET',
          headers,
          ...(body ? { body } : {}),
        })
          .then(async (answer) => {
            const bytes = Buffer.from(await answer.arrayBuffer());
            res.writeHead(answer.status, {
              'content-type': answer.headers.get('content-type') ?? 'application/octet-stream',
            });
            res.end(bytes);
          })
          .catch(() => {
            res.writeHead(502);
            res.end();
          });
        return;
      }
      count++;
      failed.add(vendor);
      const status = count % 2 === 0 ? 500 : 401;
      const sent =
        url.searchParams.get('key') ?? req.headers.authorization ?? String(req.headers['xi-api-key'] ?? '');
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          error: { message: status === 401 ? `invalid api key: ${sent}` : `internal error for ${sent}` },
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    failures: () => failed,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('no secret reaches any output, answer or stored byte (LOG_LEVEL=trace)', () => {
  let cwd: string;
  let closedPort: number;
  let stuck: Awaited<ReturnType<typeof stuckServer>>;
  let api: Awaited<ReturnType<typeof failingApi>>;
  let sandbox: Sandbox;
  let redisPort: number;
  let redis: ChildProcess;

  before(async () => {
    await ensureBuilt();
    cwd = await mkdtemp(join(tmpdir(), 'opusclip-secrets-'));
    closedPort = await freePort();
    stuck = await stuckServer();
    sandbox = await createSandbox({ port: 0, host: '127.0.0.1' });
    api = await failingApi(sandbox.url);
    redisPort = await freePort();
    redis = await startRedisWithPassword(redisPort, SECRETS.REDIS_PASSWORD);
  });
  after(async () => {
    if (redis) await stopProcess(redis);
    await stuck?.close();
    await api?.close();
    await sandbox?.close();
    await rm(cwd, { recursive: true, force: true });
  });

  const baseEnv = (extra: Record<string, string>): Record<string, string> => ({
    YOUTUBE_API_KEY: SECRETS.YOUTUBE_API_KEY,
    YOUTUBE_OAUTH_TOKEN: SECRETS.YOUTUBE_OAUTH_TOKEN,
    OPENAI_API_KEY: SECRETS.OPENAI_API_KEY,
    STABILITY_API_KEY: SECRETS.STABILITY_API_KEY,
    ELEVENLABS_API_KEY: SECRETS.ELEVENLABS_API_KEY,
    OPUSCLIP_API_KEYS: `${SECRETS.SERVICE_KEY_1},${SECRETS.SERVICE_KEY_2}`,
    // The keys go to a local server only: the sandbox switch sends every vendor call to OPUSCLIP_SANDBOX_URL.
    OPUSCLIP_SANDBOX: 'true',
    OPUSCLIP_SANDBOX_URL: api.url,
    OPUSCLIP_ASSETS_DIR: join(cwd, 'assets'),
    OPUSCLIP_SHUTDOWN_TIMEOUT_MS: '1500',
    LOG_LEVEL: 'trace',
    DATABASE_URL: `sqlite:${join(cwd, 'deps.db')}`,
    ...extra,
  });

  const DB_COMMANDS: string[][] = [
    ['demo', '--no-narration', '--concurrency', '1'],
    ['process', VIDEO],
    ['setup'],
    ['videos'],
    ['video', '1'],
    ['stats'],
    ['enqueue', VIDEO],
    ['worker'],
    ['jobs'],
    ['serve', '--port', '0'],
  ];
  const REDIS_COMMANDS: string[][] = [
    ['process', VIDEO],
    ['enqueue', VIDEO],
    ['jobs'],
    ['worker'],
    ['serve', '--port', '0'],
  ];

  it('every command against failing dependencies prints no secret', async () => {
    leaks.length = 0;
    const pw = enc(SECRETS.DATABASE_PASSWORD);
    const badDbUrls: Record<string, string> = {
      'postgres unreachable': `postgres://opus:${pw}@127.0.0.1:${closedPort}/db`,
      'postgres stuck': `postgres://opus:${pw}@127.0.0.1:${stuck.port}/db`,
      'postgres no scheme slashes': `postgres//opus:${SECRETS.DATABASE_PASSWORD}@127.0.0.1/db`,
      'mysql no slashes': `mysql:opus:${SECRETS.DATABASE_PASSWORD}@127.0.0.1`,
    };
    const runs: Array<{ label: string; args: string[]; env: Record<string, string> }> = [];
    for (const [what, url] of Object.entries(badDbUrls)) {
      const commands = what.startsWith('postgres unreachable')
        ? DB_COMMANDS
        : [['process', VIDEO], ['setup'], ['stats'], ['serve', '--port', '0']];
      for (const args of commands) {
        // demo takes its database from the flag only.
        const withUrl = args[0] === 'demo' ? [...args, '--database-url', url] : args;
        runs.push({ label: `${args[0]} (${what})`, args: withUrl, env: baseEnv({ DATABASE_URL: url }) });
      }
    }
    const redisUrls: Record<string, string> = {
      'redis wrong password': `redis://:${enc(SECRETS.REDIS_WRONG_PASSWORD)}@127.0.0.1:${redisPort}`,
      'redis unreachable': `redis://default:${enc(SECRETS.REDIS_PASSWORD)}@127.0.0.1:${closedPort}`,
      'redis malformed': `redis//:${SECRETS.REDIS_PASSWORD}@127.0.0.1:${redisPort}`,
    };
    for (const [what, url] of Object.entries(redisUrls)) {
      for (const args of REDIS_COMMANDS) {
        runs.push({ label: `${args[0]} (${what})`, args, env: baseEnv({ REDIS_URL: url }) });
      }
    }
    // Each vendor in turn refuses the key or fails, the ones before it answering: every key is sent.
    for (const vendor of ['youtube', 'openai', 'stability', 'elevenlabs']) {
      runs.push({
        label: `process (${vendor} API 401/500)`,
        args: ['process', VIDEO, 'https://www.youtube.com/watch?v=9bZkp7q19f0'],
        env: baseEnv({
          DATABASE_URL: `sqlite:${join(cwd, `vendor-${vendor}.db`)}`,
          OPUSCLIP_SANDBOX_URL: `${api.url}/fail-${vendor}`,
        }),
      });
    }
    runs.push({
      label: 'process (vendor APIs stuck)',
      args: ['process', VIDEO],
      env: baseEnv({
        DATABASE_URL: `sqlite:${join(cwd, 'stuck-vendors.db')}`,
        OPUSCLIP_SANDBOX_URL: `http://127.0.0.1:${stuck.port}`,
      }),
    });

    const results: string[] = [];
    const forced: string[] = [];
    await eachLimited(runs, 5, async ({ label, args, env }) => {
      const long = LONG_RUNNING.has(args[0]!) || / API/.test(label);
      const run = await runAndSearch(label, args, env, cwd, long ? TERM_AFTER_MS : undefined);
      results.push(`${label}: ${run.code ?? run.signal}`);
      if (run.signal === 'SIGKILL') forced.push(label);
    });
    if (process.env.SECRETS_DEBUG) console.log(results.sort().join('\n'));
    assert.equal(results.length, runs.length);
    assert.deepEqual(forced, [], 'every command ended by itself or on SIGTERM');
    assert.deepEqual(
      [...api.failures()].sort(),
      ['elevenlabs', 'openai', 'stability', 'youtube'],
      'every vendor was called with its key and failed',
    );

    // The sandbox command, called with every vendor's key in the places each vendor takes it.
    const port = await freePort();
    const emulator = startCli(['sandbox', '--port', String(port)], { env: baseEnv({}), cwd });
    const kill = setTimeout(() => emulator.child.kill('SIGKILL'), RUN_BOUND_MS);
    try {
      await emulator.waitFor(/listening on/, 30_000);
      const base = `http://127.0.0.1:${port}`;
      const calls: Array<[string, Record<string, string>]> = [
        [`/youtube/youtube/v3/videos?part=snippet&id=dQw4w9WgXcQ&key=${SECRETS.YOUTUBE_API_KEY}`, {}],
        [
          '/youtube/youtube/v3/captions?videoId=dQw4w9WgXcQ',
          { authorization: `Bearer ${SECRETS.YOUTUBE_OAUTH_TOKEN}` },
        ],
        ['/openai/v1/models', { authorization: `Bearer ${SECRETS.OPENAI_API_KEY}` }],
        ['/stability/v1/user/account', { authorization: `Bearer ${SECRETS.STABILITY_API_KEY}` }],
        ['/elevenlabs/v1/voices', { 'xi-api-key': SECRETS.ELEVENLABS_API_KEY }],
      ];
      for (const [path, headers] of calls) {
        const answer = await fetch(`${base}${path}`, { headers });
        search(`sandbox HTTP ${path.split('?')[0]} headers`, [...answer.headers].join('\n'));
        search(`sandbox HTTP ${path.split('?')[0]} body`, await answer.text());
      }
    } finally {
      emulator.child.kill('SIGTERM');
      const run = await emulator.exited;
      clearTimeout(kill);
      search('sandbox stdout', run.stdout);
      search('sandbox stderr', run.stderr);
      assert.equal(run.code, 0, `sandbox stops cleanly on SIGTERM:\n${run.stderr.slice(-500)}`);
    }
    assert.deepEqual(leaks, [], `secrets found in:\n${leaks.join('\n')}`);
  });

  it('serve: no secret in any HTTP answer, log line, Redis key or value, or database row', async () => {
    leaks.length = 0;
    const dbFile = join(cwd, 'serve.db');
    const port = await freePort();
    const env = baseEnv({
      DATABASE_URL: `sqlite:${dbFile}`,
      REDIS_URL: `redis://:${enc(SECRETS.REDIS_PASSWORD)}@127.0.0.1:${redisPort}`,
    });
    const serve = startCli(['serve', '--port', String(port)], { env, cwd });
    const kill = setTimeout(() => serve.child.kill('SIGKILL'), 90_000);
    const base = `http://127.0.0.1:${port}`;
    const answers: string[] = [];
    // Requests carry only secrets this process holds (a process cannot blank out a string it does not
    // know is secret), plus passwords in URL user info, which are recognised by their shape.
    try {
      await serve.waitFor(/listening on/, 60_000);
      const call = async (
        path: string,
        init: { method?: string; key?: string | null; body?: unknown; bearer?: boolean } = {},
      ): Promise<number> => {
        const key = init.key === undefined ? SECRETS.SERVICE_KEY_1 : init.key;
        const headers: Record<string, string> = {};
        if (key !== null) {
          if (init.bearer) headers.authorization = `Bearer ${key}`;
          else headers['x-api-key'] = key;
        }
        if (init.body !== undefined) headers['content-type'] = 'application/json';
        const res = await fetch(`${base}${path}`, {
          method: init.method ?? 'GET',
          headers,
          ...(init.body !== undefined
            ? { body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body) }
            : {}),
        });
        const text = await res.text();
        const head = [...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n');
        search(`serve HTTP ${init.method ?? 'GET'} ${path} headers`, head);
        search(`serve HTTP ${init.method ?? 'GET'} ${path} body`, text);
        answers.push(`${res.status} ${init.method ?? 'GET'} ${path}`);
        return res.status;
      };
      const credUrl = `https://opus:${SECRETS.VIDEO_URL_PASSWORD}@www.youtube.com/watch?v=dQw4w9WgXcQ`;
      const created = await call('/api/videos', { method: 'POST', body: { url: credUrl } });
      assert.ok(created < 500, `POST /api/videos answered ${created}`);
      await call('/api/videos', {
        method: 'POST',
        body: {
          url: `https://opus:${SECRETS.VIDEO_URL_PASSWORD}@example.com/x?key=${SECRETS.OPENAI_API_KEY}`,
        },
      });
      await call('/api/videos', { method: 'POST', body: `{"url": "${SECRETS.REDIS_PASSWORD}` });
      await call('/api/videos', { method: 'POST', body: { url: 42, token: SECRETS.YOUTUBE_OAUTH_TOKEN } });
      await call('/api/videos', {
        method: 'POST',
        body: { url: credUrl },
        bearer: true,
        key: SECRETS.SERVICE_KEY_2,
      });
      await call('/api/videos');
      await call('/api/videos/1');
      await call('/api/videos/1/clips');
      await call(`/api/videos/${enc(SECRETS.STABILITY_API_KEY)}`);
      await call(`/api/videos/${enc(SECRETS.YOUTUBE_OAUTH_TOKEN)}/clips`);
      await call(`/api/jobs/${enc(SECRETS.REDIS_PASSWORD)}`);
      await call('/api/stats');
      await call('/api/metrics/summary');
      await call('/api/jobs');
      await call('/api/jobs/1');
      await call('/metrics');
      await call('/metrics', { key: null });
      await call('/docs/json');
      await call('/readyz');
      await call('/healthz');
      assert.equal(await call('/api/videos', { key: `${SECRETS.SERVICE_KEY_1}x` }), 401);
      assert.equal(await call('/api/videos', { key: SECRETS.ELEVENLABS_API_KEY, bearer: true }), 401);
      await call(`/api/videos?key=${enc(SECRETS.YOUTUBE_API_KEY)}&token=${enc(SECRETS.OPENAI_API_KEY)}`);
      await call(`/nowhere?access_token=${enc(SECRETS.YOUTUBE_OAUTH_TOKEN)}`);
      assert.ok(answers.length >= 20, answers.join('\n'));
    } finally {
      serve.child.kill('SIGTERM');
      const run = await serve.exited;
      clearTimeout(kill);
      search('serve (working deps) stdout', run.stdout);
      search('serve (working deps) stderr', run.stderr);
      assert.match(run.stderr, /"level":10|trace|TRACE|"level":20/i, 'trace-level logs were written');
    }

    // Every key and value of the private Redis.
    const admin = new Redis({ port: redisPort, password: SECRETS.REDIS_PASSWORD, lazyConnect: true });
    admin.on('error', () => {});
    await admin.connect();
    try {
      const keys = await admin.keys('*');
      assert.ok(keys.length > 0, 'serve stored something in Redis (the queued job)');
      for (const key of keys) {
        search(`redis key name`, key);
        const type = await admin.type(key);
        let value: string;
        if (type === 'string') value = (await admin.get(key)) ?? '';
        else if (type === 'hash') value = JSON.stringify(await admin.hgetall(key));
        else if (type === 'list') value = JSON.stringify(await admin.lrange(key, 0, -1));
        else if (type === 'set') value = JSON.stringify(await admin.smembers(key));
        else if (type === 'zset') value = JSON.stringify(await admin.zrange(key, 0, -1, 'WITHSCORES'));
        else if (type === 'stream') value = JSON.stringify(await admin.xrange(key, '-', '+'));
        else value = '';
        const dump = await admin.dumpBuffer(key);
        search(`redis ${type} ${key}`, value);
        search(`redis ${type} ${key} (DUMP)`, dump ? dump.toString('latin1') : '');
      }
    } finally {
      admin.disconnect();
    }

    // Every row of every table of the SQLite database.
    const sqlite = new Database(dbFile, { readonly: true });
    try {
      const tables = sqlite.prepare("select name from sqlite_master where type = 'table'").all() as Array<{
        name: string;
      }>;
      assert.ok(tables.length > 0, 'the database has tables');
      let rows = 0;
      for (const { name } of tables) {
        for (const row of sqlite.prepare(`select * from "${name}"`).all()) {
          rows++;
          search(
            `sqlite ${name}`,
            JSON.stringify(row, (_k, v) => (Buffer.isBuffer(v) ? v.toString('latin1') : v)),
          );
        }
      }
      assert.ok(rows > 0, 'the database has rows (the video posted)');
    } finally {
      sqlite.close();
    }
    assert.deepEqual(leaks, [], `secrets found in:\n${leaks.join('\n')}`);
  });
});
