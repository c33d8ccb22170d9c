import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import pg from 'pg';
import { createDatabase } from '../../src/db/index.js';
import { type StoreSchema, VideoStore } from '../../src/store/index.js';
import { connect } from '../cache/helpers.js';
import { openChromium } from '../server/chromium.js';
import { TEST_PG_URL, uniqueName } from '../support/env.js';
import { ensureBuilt, runCli, startCli, stopProcess } from './cli-helpers.js';

/** A Redis database no other suite uses: `serve`'s cache namespace ('opusclip') is not configurable. */
const REDIS_URL = 'redis://127.0.0.1:6379/11';

/** The value of the sample `name{labels}` in a Prometheus text exposition (0 when absent). */
function sample(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

/**
 * Cache warming through the `opusclip` binary: a first `serve` records the videos it reads as hot keys
 * in Redis; a second one, started against the same Redis and PostgreSQL, holds them in L1 before it
 * listens, so its first reads of them are L1 hits.
 */
describe('cache warming at `serve` start', { timeout: 180_000 }, () => {
  let cwd: string;
  let redis: Redis;
  const schema = uniqueName('cliwarm').toLowerCase();
  const url = `${TEST_PG_URL}?schema=${schema}`;
  const running: ChildProcess[] = [];
  const ids: string[] = [];

  const admin = async (sql: string): Promise<void> => {
    const client = new pg.Client({ connectionString: TEST_PG_URL });
    await client.connect();
    await client.query(sql);
    await client.end();
  };
  const dropCache = async (): Promise<void> => {
    const keys = await redis.keys('{opusclip}:*');
    if (keys.length > 0) await redis.del(...keys);
  };

  before(async () => {
    await ensureBuilt();
    cwd = await mkdtemp(join(tmpdir(), 'opusclip-cache-warm-'));
    redis = await connect(REDIS_URL);
    await dropCache();
    await admin(`CREATE SCHEMA ${schema}`);
    const setup = await runCli(['setup'], { cwd, env: { DATABASE_URL: url } });
    assert.equal(setup.code, 0, setup.stderr);
    const db = await createDatabase<StoreSchema>({ url });
    const store = new VideoStore(db);
    for (let i = 0; i < 4; i++) {
      ids.push(
        await store.createVideoRecord({ url: `https://www.youtube.com/watch?v=warm${schema.slice(-6)}${i}` }),
      );
    }
    await db.close();
  });
  after(async () => {
    for (const child of running) await stopProcess(child);
    await dropCache();
    redis?.disconnect();
    await admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await rm(cwd, { recursive: true, force: true });
  });

  const start = async (): Promise<{ base: string; stop: () => Promise<string> }> => {
    const p = startCli(['serve', '--port', '0'], {
      cwd,
      env: { DATABASE_URL: url, REDIS_URL, OPUSCLIP_AUTH: 'off', LOG_LEVEL: 'info' },
    });
    running.push(p.child);
    await p.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
    const base = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(p.stderr())![1]!;
    return {
      base,
      async stop() {
        p.child.kill('SIGTERM');
        const run = await p.exited;
        assert.equal(run.code, 0, run.stderr);
        return run.stderr;
      },
    };
  };

  const metrics = async (base: string): Promise<string> => (await fetch(`${base}/metrics`)).text();
  const read = async (base: string, id: string): Promise<void> => {
    const answer = await fetch(`${base}/api/videos/${id}`);
    const body = await answer.text();
    assert.equal(answer.status, 200, body);
  };

  it('a restarted serve has the previous run’s hot videos in L1 before it listens', async () => {
    const hot = ids.slice(0, 3);
    const cold = ids[3]!;
    const first = await start();
    // Sampled one read in 16: 48 reads of each hot video are three samples each.
    for (let i = 0; i < 48; i++) for (const id of hot) await read(first.base, id);
    await first.stop(); // close() sends the samples still pending

    const recorded = (await redis.keys('{opusclip}:hot:*')).length;
    assert.ok(recorded >= 1, 'a hot-key window in Redis');
    const members = new Set<string>();
    for (const key of await redis.keys('{opusclip}:hot:*')) {
      for (const m of await redis.zrange(key, 0, -1)) members.add(m);
    }
    for (const id of hot) assert.ok(members.has(`video:${id}`), `video:${id} recorded`);
    assert.equal(members.has(`video:${cold}`), false);

    // L2 is emptied too: what the second run holds was loaded by its warm-up, from PostgreSQL.
    for (const key of await redis.keys('{opusclip}:k:*')) await redis.del(key);

    const second = await start();
    const before = await metrics(second.base);
    assert.ok(sample(before, 'opusclip_cache_warmed_keys_total') >= hot.length, before);
    const l1Hits = sample(before, 'opusclip_cache_requests_total', '{level="l1",result="hit"}');
    const misses = sample(before, 'opusclip_cache_served_total', '{kind="miss"}');
    for (const id of hot) await read(second.base, id);
    const afterHot = await metrics(second.base);
    assert.equal(
      sample(afterHot, 'opusclip_cache_requests_total', '{level="l1",result="hit"}') - l1Hits,
      hot.length,
      'every first read of a hot video is an L1 hit',
    );
    assert.equal(sample(afterHot, 'opusclip_cache_served_total', '{kind="miss"}'), misses);
    await read(second.base, cold);
    assert.equal(
      sample(await metrics(second.base), 'opusclip_cache_served_total', '{kind="miss"}'),
      misses + 1,
      'a video nobody read before is still a miss',
    );
    // The dashboard's self-tuning panel shows the warm-up.
    const chrome = await openChromium();
    try {
      const page = await chrome.browser.newPage();
      await page.goto(`${second.base}/?refreshMs=300`);
      const warmed = page.locator('#cache-tiles .tile', { hasText: 'keys warmed at start' });
      await warmed.waitFor();
      const figure = Number(await warmed.locator('b').textContent());
      assert.ok(figure >= hot.length, `keys warmed at start: ${figure}`);
      await page.close();
    } finally {
      await chrome.close();
    }
    const log = await second.stop();
    assert.match(log, /cache warmed/);
  });

  it('OPUSCLIP_CACHE_WARM_MS=off: no warm-up and no hot keys recorded; a bad value is refused', async () => {
    await dropCache();
    const p = startCli(['serve', '--port', '0'], {
      cwd,
      env: { DATABASE_URL: url, REDIS_URL, OPUSCLIP_AUTH: 'off', OPUSCLIP_CACHE_WARM_MS: 'off' },
    });
    running.push(p.child);
    await p.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
    const base = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(p.stderr())![1]!;
    for (let i = 0; i < 32; i++) await read(base, ids[0]!);
    p.child.kill('SIGTERM');
    assert.equal((await p.exited).code, 0);
    assert.deepEqual(await redis.keys('{opusclip}:hot:*'), []);

    const bad = await runCli(['serve', '--port', '0'], {
      cwd,
      env: { DATABASE_URL: url, OPUSCLIP_AUTH: 'off', OPUSCLIP_CACHE_WARM_MS: 'soon' },
      killAfterMs: 20_000,
    });
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, /OPUSCLIP_CACHE_WARM_MS "soon": expected whole milliseconds/);
  });
});
