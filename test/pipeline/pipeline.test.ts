import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { createApiClients, sandboxBaseUrls } from '../../src/apis/index.js';
import { Cache, redisClientOptions } from '../../src/cache/index.js';
import { main } from '../../src/cli/main.js';
import { createDatabase, type Database } from '../../src/db/index.js';
import { createPipelinePorts, readVideoUrls, VideoPipeline } from '../../src/pipeline/index.js';
import { createSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { type StoreSchema, setupStore, VideoStore } from '../../src/store/index.js';
import { postgresTarget } from '../support/databases.js';
import { TEST_REDIS_URL, uniqueName } from '../support/env.js';

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47]);

describe('readVideoUrls', () => {
  it('accepts every YouTube form, collapses duplicates and names bad inputs', async () => {
    const inputs = [
      'https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=10s',
      'https://youtu.be/dQw4w9WgXcQ',
      'https://www.youtube.com/shorts/kJQP7kiw5Fk',
      'https://www.youtube.com/embed/9bZkp7q5f0E?start=3',
      'https://www.youtube.com/live/JGwWNGJdvx8',
      'https://m.youtube.com/watch?v=OPf0YbXqDm0',
      'https://music.youtube.com/watch?v=fJ9rUzIMcZQ&list=RD',
      '',
      '# a comment',
      'https://vimeo.com/123',
      'not a url at all',
    ];
    const out = [];
    for await (const x of readVideoUrls(inputs)) out.push(x);
    const ok = out.filter((x) => x.ok).map((x) => (x as { videoId: string }).videoId);
    assert.deepEqual(ok, [
      'dQw4w9WgXcQ',
      'kJQP7kiw5Fk',
      '9bZkp7q5f0E',
      'JGwWNGJdvx8',
      'OPf0YbXqDm0',
      'fJ9rUzIMcZQ',
    ]);
    const bad = out.filter((x) => !x.ok) as Array<{
      url: string;
      line: number;
      error: { code: string; message: string };
    }>;
    assert.deepEqual(
      bad.map((b) => [b.url, b.line, b.error.code]),
      [
        ['https://vimeo.com/123', 10, 'ERR_PIPELINE_BAD_URL'],
        ['not a url at all', 11, 'ERR_PIPELINE_BAD_URL'],
      ],
    );
    assert.match(bad[0]!.error.message, /vimeo\.com\/123/);
  });
});

describe('opusclip demo', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'opusclip-demo-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('runs the whole pipeline on SQLite with the sandbox and stores clips with their assets', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (t: string) => void out.push(t), err: (t: string) => void err.push(t) };
    const dbUrl = `sqlite:${join(dir, 'demo.db')}`;
    const assets = join(dir, 'assets');
    const code = await main(['demo', '--database-url', dbUrl, '--assets-dir', assets], io, {});
    assert.equal(code, 0, err.join('\n'));
    assert.match(err.join('\n'), /sandbox/);
    assert.match(out.join('\n'), /completed/);

    const db = await createDatabase<StoreSchema>(dbUrl);
    try {
      const store = new VideoStore(db);
      const stats = await store.stats();
      assert.equal(stats.videos.byStatus.completed, 5, 'five distinct videos (one URL was a second form)');
      const { items } = await store.getVideosByStatus('completed');
      for (const video of items) {
        assert.ok(video.title && video.duration, 'metadata stored');
        const clips = await store.getClipsByVideoId(video.id);
        assert.ok(clips.length > 0);
        for (const clip of clips) {
          assert.ok(clip.thumbnailPath && clip.narrationPath);
          const png = await readFile(clip.thumbnailPath);
          assert.ok(png.subarray(0, 4).equals(PNG), 'thumbnail is a PNG');
          const mp3 = await readFile(clip.narrationPath);
          assert.equal(mp3[0], 0xff, 'narration starts with an MPEG frame sync');
          assert.ok(clip.endTime <= (video.duration ?? Number.POSITIVE_INFINITY));
        }
      }
    } finally {
      await db.close();
    }

    // A second run finds every video completed and makes no API call but the store lookups.
    const again: string[] = [];
    const code2 = await main(
      ['demo', '--database-url', dbUrl, '--assets-dir', assets, '--json'],
      {
        out: (t) => void again.push(t),
        err: () => {},
      },
      {},
    );
    assert.equal(code2, 0);
    const summary = JSON.parse(again.join('')) as {
      skipped: number;
      completed: number;
      apiCalls: Record<string, number>;
    };
    assert.equal(summary.skipped, 5);
    assert.equal(summary.completed, 0);
    assert.deepEqual(summary.apiCalls, {});
  });

  it('reports a bad DATABASE_URL before any work, with the password hidden', async () => {
    const err: string[] = [];
    const code = await main(
      ['process', 'https://youtu.be/dQw4w9WgXcQ'],
      { out: () => {}, err: (t) => void err.push(t) },
      {
        DATABASE_URL: 'postgres://app:hunter2pw@',
      },
    );
    assert.equal(code, 1);
    assert.match(err.join('\n'), /ERR_DB_URL/);
    assert.ok(!err.join('\n').includes('hunter2pw'));
  });
});

describe('pipeline on PostgreSQL with the Redis cache', () => {
  const target = postgresTarget();
  let db: Database<StoreSchema>;
  let sandbox: Sandbox;
  let redis: Redis;
  let cache: Cache;
  let store: VideoStore;
  let assets: string;
  let clients: ReturnType<typeof createApiClients>;
  let pipeline: VideoPipeline;

  before(async () => {
    db = await target.open<StoreSchema>({ max: 8 });
    await setupStore(db);
    redis = new Redis(TEST_REDIS_URL, redisClientOptions());
    cache = new Cache({ namespace: uniqueName('pipe'), redis: { client: redis } });
    db.useCache(cache);
    store = new VideoStore(db, { cache });
    sandbox = await createSandbox();
    assets = await mkdtemp(join(tmpdir(), 'opusclip-assets-'));
    clients = createApiClients({
      youtube: { apiKey: 'k' },
      openai: { apiKey: 'k' },
      stability: { apiKey: 'k' },
      elevenlabs: { apiKey: 'k' },
      cache,
      baseUrls: sandboxBaseUrls(sandbox.url),
      http: { retryDelayMs: 10 },
    });
    pipeline = new VideoPipeline({
      store,
      ports: createPipelinePorts(clients),
      assetsDir: assets,
      narration: false,
    });
  });

  after(async () => {
    await clients?.close();
    await sandbox?.close();
    await cache?.close();
    await redis?.quit();
    await db?.close();
    await target.dispose();
    await rm(assets, { recursive: true, force: true });
  });

  it('processes good URLs, reports bad ones and unknown videos, in one metadata call per 50 ids', async () => {
    const summary = await pipeline.run(
      readVideoUrls([
        'https://youtu.be/dQw4w9WgXcQ',
        'ftp://example.com/video',
        'https://www.youtube.com/watch?v=kJQP7kiw5Fk',
        'https://www.youtube.com/watch?v=missingAAAA',
        'https://youtu.be/9bZkp7q5f0E',
        'https://example.com/not-youtube',
      ]),
      { concurrency: 3 },
    );
    assert.equal(summary.completed, 3);
    assert.equal(summary.failed, 1);
    assert.equal(summary.badInputs.length, 2);
    const failed = summary.outcomes.find((o) => o.status === 'failed')!;
    assert.equal(failed.youtubeId, 'missingAAAA');
    assert.match(failed.reason ?? '', /missingAAAA|not found/i);
    const stored = await store.findVideoByUrl('https://youtu.be/missingAAAA');
    assert.equal(stored?.status, 'failed');
    assert.ok(stored?.statusReason);
    const videoLists = sandbox.requests
      .filter({ vendor: 'youtube' })
      .filter((r) => r.path.endsWith('/videos'));
    assert.equal(videoLists.length, 1, 'the four ids went in one videos.list call');
    assert.ok(cache.metrics().cacheHitRate >= 0);
  });

  it('resumes after a failure without redoing finished stages or duplicating clips', async () => {
    const url = 'https://www.youtube.com/watch?v=JGwWNGJdvx8';
    sandbox.config.chaos.errorRate = 1;
    sandbox.config.chaos.modes = ['error'];
    sandbox.config.chaos.vendors = ['stability'];
    const first = await pipeline.run(readVideoUrls([url]), { concurrency: 1 });
    assert.equal(first.failed, 1, JSON.stringify(first.outcomes));
    const video = await store.findVideoByUrl(url);
    assert.equal(video?.status, 'failed');
    const stages = await store.getStages(video!.id);
    assert.ok(
      stages.has('transcript') && stages.has('highlights'),
      'stages before the failure were recorded',
    );
    const clipsBefore = await store.getClipsByVideoId(video!.id);
    assert.ok(clipsBefore.length > 0);

    sandbox.config.chaos.errorRate = 0;
    const openaiBefore = sandbox.requests.filter({ vendor: 'openai' }).length;
    const second = await pipeline.run(readVideoUrls([url]), { concurrency: 1 });
    assert.equal(second.completed, 1, JSON.stringify(second.outcomes));
    const outcome = second.outcomes[0]!;
    assert.ok(!outcome.stagesRun.includes('transcript') && !outcome.stagesRun.includes('highlights'));
    assert.ok(outcome.stagesRun.includes('thumbnails'));
    assert.equal(
      sandbox.requests.filter({ vendor: 'openai' }).length,
      openaiBefore,
      'no new highlights call',
    );
    const clipsAfter = await store.getClipsByVideoId(video!.id);
    assert.deepEqual(
      clipsAfter.map((c) => c.id),
      clipsBefore.map((c) => c.id),
      'the same clips, none added',
    );
    assert.ok(clipsAfter.every((c) => c.thumbnailPath));
  });
});
