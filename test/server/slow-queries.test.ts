import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Database } from '../../src/db/index.js';
import { createServer, type OpusServer } from '../../src/server/index.js';
import { type StoreSchema, setupStore } from '../../src/store/index.js';
import { postgresTarget } from '../support/databases.js';
import { type Chromium, openChromium } from './chromium.js';
import { API_KEY, promtoolCheck } from './helpers.js';

const SECRET = 'sk_live_Zq9xW3vB7nM2kL5pR8tY';

interface Item {
  name: string;
  sql: string;
  count: number;
  maxMs: number;
  planStatus: string;
  plan?: unknown;
  lastSeenAt: string;
  findings: Array<{ kind: string; message: string }>;
}

describe('/api/slow-queries, /metrics and the dashboard panel (PostgreSQL)', () => {
  const target = postgresTarget();
  let db: Database<StoreSchema>;
  let server: OpusServer;
  let base = '';
  let chrome: Chromium | undefined;

  const get = (path: string, key = API_KEY) =>
    fetch(`${base}${path}`, { headers: key ? { 'x-api-key': key } : {} });

  /** The API's item for `name`, once its plan is settled. */
  async function item(name: string): Promise<{ item: Item; body: string }> {
    for (let i = 0; i < 200; i++) {
      const body = await (await get('/api/slow-queries')).text();
      const found = (JSON.parse(body) as { items: Item[] }).items.find((x) => x.name === name);
      if (found && found.planStatus !== 'pending' && found.planStatus !== 'not-planned')
        return { item: found, body };
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`no settled item ${name}`);
  }

  before(async () => {
    // Threshold 0: every statement counts as slow, so nothing depends on the machine's speed.
    db = await target.open({ max: 4, slowQueries: { thresholdMs: 0, largeTableRows: 5000 } });
    await setupStore(db);
    await db.executeQuery(
      'CREATE TABLE sq_events (id INT PRIMARY KEY, owner TEXT NOT NULL, token TEXT NOT NULL)',
      [],
      {
        queryType: 'ddl',
      },
    );
    await db.executeQuery(
      "INSERT INTO sq_events SELECT g, 'owner' || (g % 100), 'tok' || g FROM generate_series(1, 20000) g",
      [],
      { queryType: 'insert' },
    );
    await db.executeQuery('ANALYZE sq_events', [], { queryType: 'ddl' });
    server = await createServer({ db, auth: { apiKeys: [API_KEY] }, logger: { level: 'silent' } });
    base = await server.listen();
  });

  after(async () => {
    await chrome?.close();
    await server?.close();
    await db?.close();
    await target.dispose();
  });

  it('needs the API key', async () => {
    const res = await get('/api/slow-queries', '');
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as { code: string }).code, 'ERR_SERVER_UNAUTHORIZED');
  });

  it('lists a slow read with its plan and findings, and never a parameter value', async () => {
    await db.executeQuery('SELECT id FROM sq_events WHERE token = ? ORDER BY owner', [SECRET], {
      name: 'events.byToken',
    });
    await db.executeQuery('UPDATE sq_events SET owner = ? WHERE token = ?', ['x', SECRET], {
      queryType: 'update',
      name: 'events.rename',
    });
    const { item: read, body } = await item('events.byToken');
    assert.equal(read.planStatus, 'planned');
    assert.equal(read.sql, 'SELECT id FROM sq_events WHERE token = $1 ORDER BY owner');
    assert.match(read.lastSeenAt, /^\d{4}-\d\d-\d\dT/);
    assert.deepEqual(
      read.findings.map((f) => f.message),
      [
        'full scan of sq_events (~20000 rows)',
        'sort without index on owner',
        'an index on sq_events(token, owner)',
      ],
    );
    const write = (JSON.parse(body) as { items: Item[] }).items.find((x) => x.name === 'events.rename');
    assert.equal(write?.planStatus, 'not-a-read');
    assert.equal(write?.plan, undefined);
    assert.ok(!body.includes(SECRET), 'the parameter is not in the answer');
    assert.ok(!body.includes('Zq9xW3'));
    const limited = (await (await get('/api/slow-queries?limit=1')).json()) as { items: Item[] };
    assert.equal(limited.items.length, 1);
    assert.equal((await get('/api/slow-queries?limit=0')).status, 400);
  });

  it('counts slow statements on /metrics by name, and the exposition passes promtool', async () => {
    const text = await (await get('/metrics')).text();
    const m = /^opusclip_db_slow_queries_total\{name="events\.byToken"\} (\d+)$/m.exec(text);
    assert.ok(Number(m?.[1]) >= 1, 'counted');
    assert.ok(!text.includes(SECRET));
    const lint = await promtoolCheck(text);
    assert.equal(lint.output.trim(), '', lint.output);
    assert.equal(lint.code, 0);
  });

  it('documents the route in the OpenAPI document', async () => {
    const doc = (await (await get('/docs/json')).json()) as {
      paths: Record<string, { get?: { operationId?: string; summary?: string; description?: string } }>;
    };
    const op = doc.paths['/api/slow-queries']?.get;
    assert.equal(op?.operationId, 'listSlowQueries');
    assert.ok(op?.summary && op.description);
  });

  it('shows the panel in headless Chromium: name, count, max ms, findings, the plan folded out', async () => {
    await db.executeQuery('SELECT owner FROM sq_events WHERE owner = ?', ['owner7'], {
      name: 'events.byOwner',
    });
    await item('events.byOwner');
    chrome = await openChromium();
    const browser = chrome.browser;
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${base}/?refreshMs=300#key=${encodeURIComponent(API_KEY)}`);
    const row = page.locator('tr.slow-query[data-name="events.byOwner"]');
    await row.waitFor();
    assert.match(
      (await row.locator('td').nth(0).textContent()) ?? '',
      /SELECT owner FROM sq_events WHERE owner = \$1/,
    );
    assert.match((await row.locator('td').nth(1).textContent()) ?? '', /^\d+$/);
    assert.match((await row.locator('td').nth(2).textContent()) ?? '', /^\d+$/);
    const findings = await row.locator('.findings li').allTextContents();
    assert.deepEqual(findings, ['full scan of sq_events (~20000 rows)', 'an index on sq_events(owner)']);
    const pre = row.locator('details.plan pre');
    assert.equal(await pre.isVisible(), false, 'the plan starts folded');
    await row.locator('details.plan summary').click();
    await pre.waitFor({ state: 'visible' });
    assert.match((await pre.textContent()) ?? '', /"Node Type": "Seq Scan"/);
    // Still open after the next polls redraw the table.
    const ticks = Number(await page.evaluate('document.body.dataset.ticks'));
    await page.waitForFunction(`Number(document.body.dataset.ticks) >= ${ticks + 2}`);
    assert.equal(await row.locator('details.plan pre').isVisible(), true);
    assert.ok(await row.isVisible());
    const html = await page.content();
    assert.ok(!html.includes(SECRET));
    assert.deepEqual(errors, []);
    await page.close();
  });
});
