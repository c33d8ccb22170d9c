import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { BrowserContext } from 'playwright-core';
import { type ApiClients, createApiClients, sandboxBaseUrls } from '../../src/apis/index.js';
import { Cache, redisClientOptions } from '../../src/cache/index.js';
import {
  createPipelinePorts,
  readVideoUrls,
  sharedBudgets,
  VideoPipeline,
} from '../../src/pipeline/index.js';
import { generateAudio, parseOutputFormat } from '../../src/sandbox/audio.js';
import { generateImage, imageSize } from '../../src/sandbox/images.js';
import { createSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { type OpusServer, type RunningService, serve } from '../../src/server/index.js';
import { VideoStore } from '../../src/store/index.js';
import { sparePort, startRedis, stopRedis } from '../cache/helpers.js';
import { TEST_REDIS_URL, uniqueName } from '../support/env.js';
import { type Chromium, openChromium } from './chromium.js';
import { API_KEY, openService, type ServiceFixture, serviceServer, youtubeUrl } from './helpers.js';

describe('dashboard in headless Chromium', () => {
  let fx: ServiceFixture;
  let server: OpusServer;
  let browser: BrowserContext;
  let chrome: Chromium;
  let base = '';

  before(async () => {
    fx = await openService();
    server = await serviceServer(fx, { logger: { level: 'silent' } });
    base = await server.listen();
    chrome = await openChromium();
    browser = chrome.browser;
  });

  after(async () => {
    await chrome?.close();
    await server?.close();
    await fx?.dispose();
  });

  it('shows the videos of a run, a clip thumbnail and audio, and job progress moving', async () => {
    // A finished video with clips whose assets are real files in the assets dir.
    await mkdir(join(fx.assetsDir, 'thumbs'), { recursive: true });
    const png = generateImage('png', 160, 90, 7);
    assert.equal(imageSize(png)?.width, 160);
    await writeFile(join(fx.assetsDir, 'thumbs', 'c1.png'), png);
    await writeFile(join(fx.assetsDir, 'thumbs', 'c2.png'), generateImage('png', 160, 90, 9));
    const mp3 = parseOutputFormat('mp3_44100_128');
    assert.ok(mp3);
    await writeFile(join(fx.assetsDir, 'n1.mp3'), generateAudio(mp3, 1500));
    const done = await fx.store.createVideo({
      url: youtubeUrl(),
      title: 'Dashboard demo talk',
      duration: 600,
      status: 'completed',
    });
    await fx.store.createClipRecord(done.id, {
      startTime: 30,
      endTime: 75,
      title: 'Best moment',
      thumbnailPath: 'thumbs/c1.png',
      narrationPath: join(fx.assetsDir, 'n1.mp3'),
    });
    await fx.store.createClipRecord(done.id, {
      startTime: 100,
      endTime: 130,
      title: 'Second',
      thumbnailPath: 'thumbs/c2.png',
    });
    await fx.store.createVideo({ url: youtubeUrl(), title: 'Broken upload', status: 'failed' });

    // A job whose progress the test moves through BullMQ, as a worker would.
    const { enqueued } = await fx.queue.enqueue([youtubeUrl()], { requestId: 'dash-1' });
    const jobId = enqueued[0]?.jobId;
    assert.ok(jobId);
    const job = await fx.queue.queue.getJob(jobId);
    assert.ok(job);
    await job.updateProgress(10);

    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${base}/?refreshMs=300#key=${encodeURIComponent(API_KEY)}`);

    await page.waitForSelector(`tr.video[data-id="${done.id}"]`);
    const titles = await page.locator('tr.video td:first-child').allTextContents();
    assert.ok(titles.includes('Dashboard demo talk'), titles.join(','));
    assert.ok(titles.includes('Broken upload'));

    await page.locator(`tr.video[data-id="${done.id}"]`).click();
    const thumb = page.locator('.clip img.thumb').first();
    await thumb.waitFor();
    // Browser-side code as strings: the project's TypeScript has no DOM lib.
    await page.waitForFunction(`(() => {
      const img = document.querySelector('.clip img.thumb');
      return !!img && img.complete && img.naturalWidth > 0;
    })()`);
    assert.equal(
      await thumb.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth),
      160,
    );
    assert.equal(await page.locator('.clip audio').count(), 1);
    assert.match((await page.locator('.clip audio').getAttribute('src')) ?? '', /^\/assets\/n1\.mp3$/);

    const row = page.locator(`tr.job[data-id="${jobId}"] progress`);
    await row.waitFor();
    const progressIs = (pct: number) =>
      page.waitForFunction(`document.querySelector('tr.job[data-id="${jobId}"] progress')?.value === ${pct}`);
    await progressIs(10);
    await job.updateProgress(65);
    await progressIs(65);

    // Charts render from /api/metrics/summary.
    // A flat line has no area, so wait for it to be attached rather than "visible".
    await page.waitForSelector('#chart-cache polyline', { state: 'attached' });
    const points = await page.locator('#chart-latency polyline').getAttribute('points');
    assert.ok((points ?? '').split(' ').length >= 2, `chart drawn from samples: ${points}`);
    const shot = join(tmpdir(), `opusclip-dashboard-${process.pid}.png`);
    const bytes = await page.screenshot({ path: shot, fullPage: true });
    const size = imageSize(bytes);
    assert.equal(size?.format, 'png');
    assert.ok((size?.width ?? 0) >= 1280);
    // The screenshot covers the elements checked above: each is visible in the page's layout.
    for (const sel of [
      'tr.video',
      '.clip img.thumb',
      '.clip audio',
      `tr.job[data-id="${jobId}"]`,
      '#chart-latency',
    ]) {
      assert.ok(await page.locator(sel).first().isVisible(), `${sel} visible`);
    }
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('asks for a key when none is given', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/`);
    await page.waitForSelector('#key-form:not([hidden])');
    assert.match((await page.locator('#status').textContent()) ?? '', /API key required/);
    await page.close();
  });
});

describe('serve after a real pipeline run against the sandbox, in headless Chromium', () => {
  // As a user runs it: the pipeline writes under ./assets of the working directory and `serve` serves the
  // default ./assets; the API budgets and the cache are shared through Redis, as between workers and serve.
  const previousCwd = process.cwd();
  const budgetPrefix = uniqueName('dashbudget');
  const cacheNamespace = uniqueName('dashcache');
  let workDir: string;
  let fx: ServiceFixture;
  let sandbox: Sandbox;
  let pipelineRedis: Redis;
  let pipelineCache: Cache;
  let clients: ApiClients;
  let service: RunningService;
  let browser: BrowserContext;
  let chrome: Chromium;
  let videoIds: string[] = [];

  before(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'opus-cwd-'));
    process.chdir(workDir);
    fx = await openService();
    sandbox = await createSandbox({ port: 0, host: '127.0.0.1' });
    pipelineRedis = new Redis(TEST_REDIS_URL, redisClientOptions());
    pipelineRedis.on('error', () => {});
    pipelineCache = new Cache({ namespace: cacheNamespace, redis: { client: pipelineRedis } });
    const budgets = sharedBudgets(pipelineRedis, budgetPrefix);
    clients = createApiClients({
      youtube: { apiKey: 'k', budget: budgets.youtube },
      openai: { apiKey: 'k', budget: budgets.openai },
      stability: { apiKey: 'k', budget: budgets.stability },
      elevenlabs: { apiKey: 'k', budget: budgets.elevenlabs },
      cache: pipelineCache,
      baseUrls: sandboxBaseUrls(sandbox.url),
      http: { retryDelayMs: 10 },
    });
    const pipeline = new VideoPipeline({
      store: new VideoStore(fx.db, { cache: pipelineCache }),
      ports: createPipelinePorts(clients),
      assetsDir: './assets',
      narration: true,
    });
    const summary = await pipeline.run(
      readVideoUrls(['https://www.youtube.com/watch?v=dQw4w9WgXcQ', 'https://youtu.be/9bZkp7q5f0E']),
      { concurrency: 2 },
    );
    assert.equal(summary.completed, 2, JSON.stringify(summary.outcomes));
    assert.ok(summary.clips >= 2);
    videoIds = summary.outcomes.map((o) => o.videoId).filter((id): id is string => typeof id === 'string');

    const url = await fx.target.url();
    service = await serve({
      databaseUrl: url,
      ...(fx.target.schema ? { databaseSchema: fx.target.schema } : {}),
      redisUrl: TEST_REDIS_URL,
      port: 0,
      auth: { apiKeys: [API_KEY] },
      assetsDir: './assets',
      logLevel: 'silent',
      queuePrefix: fx.prefix,
      cacheNamespace,
      budgetPrefix,
    });
    chrome = await openChromium();
    browser = chrome.browser;
  });

  after(async () => {
    await chrome?.close();
    await service?.close();
    await clients?.close();
    await pipelineCache?.close();
    pipelineRedis?.disconnect();
    await sandbox?.close();
    for (const prefix of [budgetPrefix, cacheNamespace]) {
      const keys = (await fx?.redis.keys(`${prefix}:*`)) ?? [];
      if (keys.length > 0) await fx.redis.del(...keys);
    }
    await fx?.dispose();
    process.chdir(previousCwd);
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  const get = (path: string): Promise<Response> =>
    fetch(`${service.url}${path}`, { headers: { 'x-api-key': API_KEY } });

  it('answers 200 for every thumbnail and narration the API links (paths stored relative to the cwd)', async () => {
    assert.ok(videoIds.length === 2);
    let checked = 0;
    for (const id of videoIds) {
      const clips = (await fx.store.getClipsByVideoId(id)).filter((c) => c.thumbnailPath);
      assert.ok(clips.length > 0);
      // The pipeline stores what it wrote: relative to the working directory, under ./assets.
      for (const c of clips) assert.match(c.thumbnailPath ?? '', /^assets[/\\]/);
      const res = await get(`/api/videos/${id}/clips`);
      assert.equal(res.status, 200);
      const { items } = (await res.json()) as {
        items: Array<{ thumbnailUrl: string | null; narrationUrl: string | null }>;
      };
      for (const item of items) {
        for (const [u, type] of [
          [item.thumbnailUrl, /^image\/png/],
          [item.narrationUrl, /^audio\/mpeg/],
        ] as const) {
          assert.ok(u, 'every clip of a finished run has a thumbnail and a narration URL');
          assert.match(u, /^\/assets\/[^/]+\/[^/]+$/);
          assert.doesNotMatch(u, /^\/assets\/assets\//);
          const asset = await fetch(`${service.url}${u}`);
          assert.equal(asset.status, 200, u);
          assert.match(asset.headers.get('content-type') ?? '', type);
          assert.ok((await asset.arrayBuffer()).byteLength > 0);
          checked++;
        }
      }
    }
    assert.ok(checked >= 4);
  });

  it('links absolute paths and paths relative to the assets dir too, and nothing outside it', async () => {
    const video = await fx.store.createVideo({ url: youtubeUrl(), title: 'paths', status: 'completed' });
    await mkdir('assets/extra', { recursive: true });
    await writeFile('assets/extra/abs.png', generateImage('png', 64, 36, 3));
    await writeFile('assets/extra/rel.png', generateImage('png', 64, 36, 4));
    await writeFile('outside.png', generateImage('png', 64, 36, 5));
    await fx.store.createClipRecord(video.id, {
      startTime: 0,
      endTime: 10,
      title: 'absolute',
      thumbnailPath: resolve('assets/extra/abs.png'),
    });
    await fx.store.createClipRecord(video.id, {
      startTime: 10,
      endTime: 20,
      title: 'relative to the assets dir',
      thumbnailPath: 'extra/rel.png',
    });
    await fx.store.createClipRecord(video.id, {
      startTime: 20,
      endTime: 30,
      title: 'outside',
      thumbnailPath: resolve('outside.png'),
    });
    const res = await get(`/api/videos/${video.id}/clips`);
    const { items } = (await res.json()) as { items: Array<{ title: string; thumbnailUrl: string | null }> };
    const byTitle = new Map(items.map((c) => [c.title, c.thumbnailUrl]));
    assert.equal(byTitle.get('absolute'), '/assets/extra/abs.png');
    assert.equal(byTitle.get('relative to the assets dir'), '/assets/extra/rel.png');
    assert.equal(byTitle.get('outside'), null);
    for (const u of ['/assets/extra/abs.png', '/assets/extra/rel.png']) {
      assert.equal((await fetch(`${service.url}${u}`)).status, 200, u);
    }
    const traversal = await fetch(`${service.url}/assets/%2e%2e/outside.png`);
    assert.notEqual(traversal.status, 200);
  });

  it('shows the thumbnails loaded, the narration resolving, and non-zero cache and quota charts', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${service.url}/?refreshMs=300#key=${encodeURIComponent(API_KEY)}`);
    // A video of the run (the newest one is the previous test's, without narration).
    await page.locator(`tr.video[data-id="${videoIds[0]}"]`).click();
    await page.waitForSelector('.clip audio');
    // Browser-side code as strings: the project's TypeScript has no DOM lib.
    await page.waitForFunction(`(() => {
      const imgs = [...document.querySelectorAll('.clip img.thumb')];
      return imgs.length > 0 && imgs.every((img) => img.complete && img.naturalWidth > 0);
    })()`);
    const widths = (await page.evaluate(
      `[...document.querySelectorAll('.clip img.thumb')].map((img) => img.naturalWidth)`,
    )) as number[];
    assert.ok(widths.length > 0 && widths.every((w) => w > 0), JSON.stringify(widths));
    const audio = (await page.evaluate(`Promise.all([...document.querySelectorAll('.clip audio')].map(
      (a) => fetch(a.src).then((r) => ({ src: a.getAttribute('src'), status: r.status, type: r.headers.get('content-type') })),
    ))`)) as Array<{ src: string; status: number; type: string }>;
    assert.ok(audio.length > 0);
    for (const a of audio) {
      assert.equal(a.status, 200, a.src);
      assert.match(a.type, /^audio\/mpeg/);
    }
    // The charts: the service's own store reads hit its cache; the quota the pipeline used is in Redis.
    await page.waitForFunction(`Number(document.querySelector('#chart-cache')?.dataset.max) > 0`);
    await page.waitForFunction(`Number(document.querySelector('#chart-quota')?.dataset.max) > 0`);
    const label = await page.locator('#chart-quota text').textContent();
    assert.doesNotMatch(label ?? '', /^0\.0%/);
    assert.deepEqual(errors, []);
    await page.close();

    // The same figures on /metrics, from `serve` itself.
    const text = await (await get('/metrics')).text();
    const used = [
      ...text.matchAll(/^opusclip_http_client_quota_used\{service="youtube",quota="units"\} (\S+)$/gm),
    ];
    assert.ok(Number(used[0]?.[1]) >= 1, 'the YouTube units the pipeline used, read from Redis');
    const hits = /^opusclip_cache_served_total\{kind="hit"\} (\S+)$/m.exec(text);
    assert.ok(Number(hits?.[1]) > 0);
  });
});

describe('`opusclip demo` then `opusclip serve`, as a user runs them', () => {
  // The CLI in child processes, in one working directory, with the default settings: SQLite file, assets
  // in ./assets. serve gets a Redis of its own (its cache and budget keys use the default names).
  const CLI = new URL('../pipeline/fixtures/opusclip-cli.ts', import.meta.url).pathname;
  // Resolved here: the children run in another directory, where `tsx` would not resolve.
  const TSX = import.meta.resolve('tsx');
  let dir: string;
  let redis: ChildProcess | undefined;
  let serveProcess: ChildProcess | undefined;
  let base = '';
  let browser: BrowserContext;
  let chrome: Chromium;

  const childEnv = (extra: Record<string, string>): NodeJS.ProcessEnv => {
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...extra };
    for (const name of ['DATABASE_URL', 'REDIS_URL', 'OPUSCLIP_ASSETS_DIR', 'OPUSCLIP_SANDBOX_URL']) {
      if (!(name in extra)) delete env[name];
    }
    return env;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'opus-demo-serve-'));
    const demo = spawn(process.execPath, ['--import', TSX, CLI, 'demo'], {
      cwd: dir,
      env: childEnv({}),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let demoErr = '';
    demo.stderr?.on('data', (d: Buffer) => {
      demoErr += d.toString();
    });
    demo.stdout?.resume();
    const code = await new Promise<number | null>((resolve) => demo.once('exit', resolve));
    assert.equal(code, 0, demoErr);

    const redisPort = await sparePort();
    redis = await startRedis(redisPort);
    const port = await sparePort();
    serveProcess = spawn(process.execPath, ['--import', TSX, CLI, 'serve', '--port', String(port)], {
      cwd: dir,
      env: childEnv({
        DATABASE_URL: 'sqlite:./opusclip-demo.db',
        REDIS_URL: `redis://127.0.0.1:${redisPort}`,
        OPUSCLIP_API_KEYS: API_KEY,
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    serveProcess.stdout?.resume();
    base = await new Promise<string>((resolve, reject) => {
      let err = '';
      serveProcess!.stderr?.on('data', (d: Buffer) => {
        err += d.toString();
        const m = /listening on (http:\/\/\S+)/.exec(err);
        if (m?.[1]) resolve(m[1].replace('0.0.0.0', '127.0.0.1'));
      });
      serveProcess!.once('exit', (c) => reject(new Error(`serve exited ${c}: ${err}`)));
    });
    chrome = await openChromium();
    browser = chrome.browser;
  });

  after(async () => {
    await chrome?.close();
    if (serveProcess && serveProcess.exitCode === null) {
      const exited = new Promise((resolve) => serveProcess!.once('exit', resolve));
      serveProcess.kill('SIGTERM');
      await exited;
    }
    if (redis) await stopRedis(redis);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('serves every thumbnail and narration of the demo (200) and the dashboard shows them', async () => {
    const headers = { 'x-api-key': API_KEY };
    const videos = (await (
      await fetch(`${base}/api/videos?status=completed&limit=50`, { headers })
    ).json()) as {
      items: Array<{ id: string }>;
    };
    assert.ok(videos.items.length >= 5, JSON.stringify(videos));
    let assets = 0;
    for (const v of videos.items) {
      const { items } = (await (await fetch(`${base}/api/videos/${v.id}/clips`, { headers })).json()) as {
        items: Array<{ thumbnailUrl: string | null; narrationUrl: string | null }>;
      };
      for (const c of items) {
        for (const u of [c.thumbnailUrl, c.narrationUrl]) {
          assert.ok(u);
          assert.doesNotMatch(u, /^\/assets\/assets\//);
          assert.equal((await fetch(`${base}${u}`)).status, 200, u);
          assets++;
        }
      }
    }
    assert.ok(assets >= 20, `${assets} assets`);

    const page = await browser.newPage();
    await page.goto(`${base}/?refreshMs=300#key=${encodeURIComponent(API_KEY)}`);
    await page.waitForSelector('.clip audio');
    await page.waitForFunction(`(() => {
      const imgs = [...document.querySelectorAll('.clip img.thumb')];
      return imgs.length > 0 && imgs.every((img) => img.complete && img.naturalWidth > 0);
    })()`);
    const status = (await page.evaluate(
      `fetch(document.querySelector('.clip audio').src).then((r) => r.status)`,
    )) as number;
    assert.equal(status, 200);
    // The service's store reads go through its cache: the polls hit it.
    await page.waitForFunction(`Number(document.querySelector('#chart-cache')?.dataset.max) > 0`);
    await page.close();
  });
});
