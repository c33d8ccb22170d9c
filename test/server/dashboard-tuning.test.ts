import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext } from 'playwright-core';
import { type Chromium, openChromium } from './chromium.js';
import { type GatewayFixture, openGateway, SERVICE_KEYS } from './gateway-helpers.js';

describe('dashboard: the self-tuning panel in headless Chromium', () => {
  let fx: GatewayFixture;
  let browser: BrowserContext;
  let chrome: Chromium;

  before(async () => {
    fx = await openGateway();
    chrome = await openChromium();
    browser = chrome.browser;
  });

  after(async () => {
    await chrome?.close();
    await fx?.close();
  });

  it("shows the gateway's vendor endpoints with their attempts and breaker, and the database pool", async () => {
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${fx.url}/gateway/openai/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${SERVICE_KEYS[0]}` },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `hi ${i}` }] }),
      });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    }
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${fx.url}/?refreshMs=300#key=${encodeURIComponent(SERVICE_KEYS[0]!)}`);
    const row = page.locator('tr.origin[data-service="gateway-openai"]');
    await row.waitFor();
    const cells = await row.locator('td').allTextContents();
    // API, endpoint (its origin: no key, no path), breaker, concurrency, waiting, attempts, failed.
    assert.equal(cells[0], 'gateway-openai');
    assert.equal(cells[1], new URL(fx.sandbox.url).origin);
    assert.equal(cells[2], 'CLOSED');
    // The gateway's adaptive limit (on by default, from its 100 connections): in flight / limit.
    assert.match(cells[3] ?? '', /^0 \/ \d+$/);
    assert.ok(Number(cells[3]!.split(' / ')[1]) >= 50, cells[3]);
    assert.equal(cells[5], '3');
    assert.equal(cells[6], '0');
    // Vendors configured but not called are listed with no attempts.
    assert.equal(await page.locator('tr.origin').count(), 4);
    const tiles = await page.locator('#pool-tiles .tile').allTextContents();
    assert.ok(
      tiles.some((t) => /connections open$/.test(t)),
      tiles.join(' | '),
    );
    // A static SQLite pool: its limit is its max, 1.
    assert.ok(tiles.includes('1pool limit'), tiles.join(' | '));
    assert.ok(await page.locator('#tuning-panel').isVisible());
    const html = await page.content();
    for (const secret of ['sk-vendor-KEY', 'yt-vendor-KEY']) assert.ok(!html.includes(secret), secret);
    assert.deepEqual(errors, []);
    await page.close();
  });
});
