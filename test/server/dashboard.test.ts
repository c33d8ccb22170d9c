import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BrowserContext, chromium } from 'playwright-core';
import { generateAudio, generateImage, imageSize, parseOutputFormat } from '../../src/sandbox/index.js';
import type { OpusServer } from '../../src/server/index.js';
import { API_KEY, openService, type ServiceFixture, serviceServer, youtubeUrl } from './helpers.js';

describe('dashboard in headless Chromium', () => {
  let fx: ServiceFixture;
  let server: OpusServer;
  let browser: BrowserContext;
  let userDataDir: string;
  let base = '';

  before(async () => {
    fx = await openService();
    server = await serviceServer(fx, { logger: { level: 'silent' } });
    base = await server.listen();
    userDataDir = await mkdtemp(join(tmpdir(), 'opus-chromium-'));
    // A fresh profile per run: Playwright passes it as --user-data-dir.
    browser = await chromium.launchPersistentContext(userDataDir, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      viewport: { width: 1280, height: 900 },
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await fx?.dispose();
    if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
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
