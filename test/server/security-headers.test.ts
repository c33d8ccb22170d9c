import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { generateImage } from '../../src/sandbox/images.js';
import type { OpusServer } from '../../src/server/index.js';
import { type Chromium, openChromium } from './chromium.js';
import { API_KEY, openService, type ServiceFixture, serviceServer, youtubeUrl } from './helpers.js';

/** Collects what the browser reports against the page: CSP refusals, script errors, failed loads. */
function watch(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (m) => {
    const text = m.text();
    // A failed load is reported with its URL by the response listener below.
    if (/Failed to load resource/.test(text)) return;
    if (/Content Security Policy|Refused to/i.test(text) || m.type() === 'error') problems.push(text);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`requestfailed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
  page.on('response', (r) => {
    // The browser asks for /favicon.ico on its own; the pages declare none.
    if (r.status() >= 400 && !r.url().endsWith('/favicon.ico'))
      problems.push(`HTTP ${r.status()} ${r.url()}`);
  });
  return problems;
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('security headers', () => {
  let fx: ServiceFixture;
  let server: OpusServer;
  let base = '';

  before(async () => {
    fx = await openService();
    server = await serviceServer(fx, { logger: { level: 'silent' } });
    base = await server.listen();
    await mkdir(join(fx.assetsDir, 'thumbs'), { recursive: true });
    await writeFile(join(fx.assetsDir, 'thumbs', 'h.png'), generateImage('png', 120, 68, 3));
  });

  after(async () => {
    await server?.close();
    await fx?.dispose();
  });

  it('sends helmet headers and the Content-Security-Policy on every kind of answer', async () => {
    const answers: Array<[string, Response]> = [];
    for (const [path, key] of [
      ['/api/stats', true],
      ['/api/stats', false],
      ['/api/nope', true],
      ['/healthz', false],
      ['/', false],
      ['/dashboard.js', false],
      ['/docs/', false],
      ['/docs/json', false],
      ['/assets/thumbs/h.png', false],
      ['/assets/missing.png', false],
    ] as Array<[string, boolean]>) {
      answers.push([path, await fetch(`${base}${path}`, key ? { headers: { 'x-api-key': API_KEY } } : {})]);
    }
    for (const [path, res] of answers) {
      const h = res.headers;
      const csp = h.get('content-security-policy') ?? '';
      assert.match(csp, /default-src 'self'/, `${path} CSP: ${csp} ${JSON.stringify([...h])}`);
      assert.match(csp, /script-src 'self'(;|$)/, `${path} scripts only from the service`);
      assert.match(csp, /object-src 'none'/, path);
      assert.match(csp, /frame-ancestors 'none'/, path);
      assert.doesNotMatch(csp, /unsafe-eval/, path);
      assert.equal(h.get('x-content-type-options'), 'nosniff', path);
      assert.equal(h.get('x-frame-options'), 'DENY', path);
      assert.equal(h.get('referrer-policy'), 'no-referrer', path);
      assert.equal(h.get('cross-origin-opener-policy'), 'same-origin', path);
      assert.equal(h.get('x-dns-prefetch-control'), 'off', path);
      assert.equal(h.get('x-powered-by'), null, path);
      await res.arrayBuffer();
    }
  });

  describe('pages under the policy in headless Chromium', () => {
    let browser: BrowserContext;
    let chrome: Chromium;

    before(async () => {
      chrome = await openChromium({ enforceCsp: true });
      browser = chrome.browser;
    });

    after(async () => {
      await chrome?.close();
    });

    it('the dashboard loads its script, data, thumbnails and charts with no CSP refusal', async () => {
      const video = await fx.store.createVideo({
        url: youtubeUrl(),
        title: 'CSP check',
        status: 'completed',
      });
      await fx.store.createClipRecord(video.id, { startTime: 1, endTime: 9, thumbnailPath: 'thumbs/h.png' });
      const page = await browser.newPage();
      const problems = watch(page);
      await page.goto(`${base}/?refreshMs=300#key=${encodeURIComponent(API_KEY)}`);
      const row = page.locator(`tr.video[data-id="${video.id}"]`);
      await row.waitFor();
      await row.click();
      const thumb = page.locator('.clip img.thumb').first();
      await thumb.waitFor();
      await until(
        async () =>
          (await thumb.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)) === 120,
        'the thumbnail to load',
      );
      await page.locator('#chart-latency polyline').waitFor({ state: 'attached' });
      assert.deepEqual(problems, []);
      await page.close();
    });

    it('the Swagger UI docs page renders every operation with no CSP refusal', async () => {
      const page = await browser.newPage();
      const problems = watch(page);
      await page.goto(`${base}/docs/`);
      await page.locator('.swagger-ui .opblock').first().waitFor();
      const operations = await page.locator('.swagger-ui .opblock').count();
      assert.ok(operations >= 11, `operations rendered: ${operations}`);
      assert.equal(await page.locator('.swagger-ui .info .title').first().isVisible(), true);
      assert.deepEqual(problems, []);
      await page.close();
    });
  });
});
