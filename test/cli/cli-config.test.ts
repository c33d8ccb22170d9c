import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/cli/cli-config.js';
import { main } from '../../src/cli/main.js';

describe('CLI configuration', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'opusclip-config-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads OPENAI_BASE_URLS as a list, and names a bad entry without printing it', () => {
    const config = loadConfig(
      {},
      { OPENAI_BASE_URLS: ' https://a.example/v1 , https://b.example/openai/v1 ' },
    );
    assert.deepEqual(config.openaiBaseUrls, ['https://a.example/v1', 'https://b.example/openai/v1']);
    assert.equal(loadConfig({}, {}).openaiBaseUrls, undefined);
    assert.throws(
      () => loadConfig({}, { OPENAI_BASE_URLS: 'https://a.example/v1,ftp://user:SECRET-PW@b.example' }),
      (error: Error & { code?: string }) =>
        error.code === 'ERR_CONFIG' && /entry 2/.test(error.message) && !error.message.includes('SECRET-PW'),
    );
  });

  it('reads a config file; variables win over it and flags over both', async () => {
    const file = join(dir, 'ok.json');
    await writeFile(
      file,
      JSON.stringify({
        DATABASE_URL: 'sqlite:/tmp/from-file.db',
        OPUSCLIP_ASSETS_DIR: '/srv/assets',
        LOG_LEVEL: 'debug',
      }),
    );
    const fromFile = loadConfig({ config: file }, {});
    assert.equal(fromFile.databaseUrl, 'sqlite:/tmp/from-file.db');
    assert.equal(fromFile.assetsDir, '/srv/assets');
    const envWins = loadConfig({}, { OPUSCLIP_CONFIG: file, DATABASE_URL: 'sqlite::memory:' });
    assert.equal(envWins.databaseUrl, 'sqlite::memory:');
    assert.equal(envWins.logLevel, 'debug');
    const flagWins = loadConfig(
      { config: file, 'database-url': 'sqlite:/tmp/flag.db' },
      { DATABASE_URL: 'sqlite::memory:' },
    );
    assert.equal(flagWins.databaseUrl, 'sqlite:/tmp/flag.db');
  });

  it('OPUSCLIP_DB_PIPELINE: on leaves the dialect its default, off and all are createDatabase options', () => {
    assert.equal(loadConfig({}, {}).databasePipeline, undefined);
    assert.equal(loadConfig({}, { OPUSCLIP_DB_PIPELINE: 'on' }).databasePipeline, undefined);
    assert.equal(loadConfig({}, { OPUSCLIP_DB_PIPELINE: 'off' }).databasePipeline, false);
    assert.deepEqual(loadConfig({}, { OPUSCLIP_DB_PIPELINE: 'all' }).databasePipeline, { statements: 'all' });
    for (const bad of ['true', 'OFF', 'toString', 'constructor']) {
      assert.throws(() => loadConfig({}, { OPUSCLIP_DB_PIPELINE: bad }), {
        code: 'ERR_CONFIG',
        message: new RegExp(`Invalid OPUSCLIP_DB_PIPELINE "${bad}": expected on, off or all`),
      });
    }
  });

  it('OPUSCLIP_DB_POOL: adaptive by default, static turns adaptivePool off', () => {
    assert.equal(loadConfig({}, {}).databaseAdaptivePool, true);
    assert.equal(loadConfig({}, { OPUSCLIP_DB_POOL: 'static' }).databaseAdaptivePool, false);
    assert.equal(loadConfig({}, { OPUSCLIP_DB_POOL: 'adaptive' }).databaseAdaptivePool, true);
    for (const bad of ['on', 'Adaptive', 'dynamic']) {
      assert.throws(() => loadConfig({}, { OPUSCLIP_DB_POOL: bad }), {
        code: 'ERR_CONFIG',
        message: new RegExp(`Invalid OPUSCLIP_DB_POOL "${bad}": expected static or adaptive`),
      });
    }
  });

  it('OPUSCLIP_STABILITY_CREDITS_PER_MONTH: not limited by default, else a positive number', () => {
    assert.equal(loadConfig({}, {}).stabilityCreditsPerMonth, undefined);
    assert.equal(
      loadConfig({}, { OPUSCLIP_STABILITY_CREDITS_PER_MONTH: '2500' }).stabilityCreditsPerMonth,
      2500,
    );
    for (const bad of ['0', '-5', 'lots', 'Infinity']) {
      assert.throws(() => loadConfig({}, { OPUSCLIP_STABILITY_CREDITS_PER_MONTH: bad }), {
        code: 'ERR_CONFIG',
        message: new RegExp(`Invalid OPUSCLIP_STABILITY_CREDITS_PER_MONTH "${bad}"`),
      });
    }
  });

  it('OPUSCLIP_SLOW_QUERY_MS: 200 by default, whole milliseconds, or off', () => {
    assert.equal(loadConfig({}, {}).slowQueryMs, 200);
    assert.equal(loadConfig({}, { OPUSCLIP_SLOW_QUERY_MS: '0' }).slowQueryMs, 0);
    assert.equal(loadConfig({}, { OPUSCLIP_SLOW_QUERY_MS: '1500' }).slowQueryMs, 1500);
    assert.equal(loadConfig({}, { OPUSCLIP_SLOW_QUERY_MS: 'off' }).slowQueryMs, false);
    for (const bad of ['-1', '2.5', 'fast', 'Infinity']) {
      assert.throws(() => loadConfig({}, { OPUSCLIP_SLOW_QUERY_MS: bad }), {
        code: 'ERR_CONFIG',
        message: new RegExp(`Invalid OPUSCLIP_SLOW_QUERY_MS "${bad}"`),
      });
    }
  });

  it('DATABASE_REPLICA_URLS: comma-separated postgres:// URLs with a postgres:// DATABASE_URL; passwords hidden', () => {
    const pgUrl = 'postgres://app@primary:5432/clips';
    assert.deepEqual(loadConfig({}, { DATABASE_URL: pgUrl }).databaseReplicaUrls, []);
    assert.deepEqual(
      loadConfig(
        {},
        {
          DATABASE_URL: pgUrl,
          DATABASE_REPLICA_URLS: ' postgres://a@r1/clips, ,postgres://a:pw@r2:6432/clips ',
        },
      ).databaseReplicaUrls,
      ['postgres://a@r1/clips', 'postgres://a:pw@r2:6432/clips'],
    );
    const secret = 'replica-pw-1234';
    for (const [env, message] of [
      [
        { DATABASE_URL: pgUrl, DATABASE_REPLICA_URLS: `mysql://root:${secret}@r1/clips` },
        /read replicas are postgres/,
      ],
      [{ DATABASE_URL: pgUrl, DATABASE_REPLICA_URLS: `postgres://u:${secret}@r1` }, /no database name/],
      [
        { DATABASE_URL: 'sqlite::memory:', DATABASE_REPLICA_URLS: `postgres://u:${secret}@r1/clips` },
        /needs a postgres:\/\/ DATABASE_URL/,
      ],
    ] as const) {
      assert.throws(
        () => loadConfig({}, env),
        (error: Error) => {
          assert.equal((error as { code?: string }).code, 'ERR_CONFIG');
          assert.match(error.message, /DATABASE_REPLICA_URLS/);
          assert.match(error.message, message);
          assert.ok(!error.message.includes(secret), error.message);
          return true;
        },
      );
    }
  });

  it('refuses unknown settings, bad files and bad URLs with typed errors that hide passwords', async () => {
    const unknown = join(dir, 'unknown.json');
    await writeFile(unknown, JSON.stringify({ DATABSE_URL: 'sqlite::memory:' }));
    assert.throws(() => loadConfig({ config: unknown }, {}), {
      code: 'ERR_CONFIG',
      message: /Unknown setting "DATABSE_URL"/,
    });
    assert.throws(() => loadConfig({ config: join(dir, 'missing.json') }, {}), { code: 'ERR_CONFIG' });
    assert.throws(
      () => loadConfig({}, { REDIS_URL: 'http://u:s3cretpw@host' }),
      (error: Error & { code: string }) => {
        assert.equal(error.code, 'ERR_CONFIG');
        assert.ok(!error.message.includes('s3cretpw'));
        return true;
      },
    );
    const err: string[] = [];
    const code = await main(
      ['stats'],
      { out: () => {}, err: (t) => void err.push(t) },
      { DATABASE_URL: 'mysql://root:s3cretpw@/x' },
    );
    assert.equal(code, 1);
    assert.match(err.join(''), /ERR_DB_URL/);
    assert.ok(!err.join('').includes('s3cretpw'));
  });

  it('a key missing for a stage that is switched on is reported before any work', async () => {
    const err: string[] = [];
    const code = await main(
      ['process', 'https://youtu.be/dQw4w9WgXcQ', '--database-url', `sqlite:${join(dir, 'k.db')}`],
      { out: () => {}, err: (t) => void err.push(t) },
      { YOUTUBE_API_KEY: 'AIza-only-youtube' },
    );
    assert.equal(code, 1);
    assert.match(err.join('\n'), /OPENAI_API_KEY/);
    assert.match(err.join('\n'), /STABILITY_API_KEY/);
    assert.ok(!err.join('\n').includes('AIza-only-youtube'));
  });
});
