import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';

export interface Chromium {
  readonly browser: BrowserContext;
  /** Closes the browser and removes its profile. */
  close(): Promise<void>;
}

/**
 * Debian's headless chromium (scripts/ensure-chromium.sh) with a fresh profile. `enforceCsp: false`
 * (the default) lets tests use string `waitForFunction()`, which the service's CSP forbids; the policy
 * itself is checked with it enforced in security-headers.test.ts.
 */
export async function openChromium(options: { enforceCsp?: boolean } = {}): Promise<Chromium> {
  const userDataDir = await mkdtemp(join(tmpdir(), 'opus-chromium-'));
  const browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    bypassCSP: options.enforceCsp !== true,
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
  return {
    browser,
    async close() {
      await browser.close();
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}
