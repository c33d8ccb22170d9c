import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { StabilityClient } from '../../src/apis/index.js';
import { sharedBudgets } from '../../src/pipeline/index.js';
import { createSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { gatewaySandboxRoots } from '../../src/server/index.js';
import { TEST_REDIS_URL, uniqueName } from '../support/env.js';
import { type GatewayFixture, generateThroughGateway, openGateway, VENDOR_KEYS } from './gateway-helpers.js';

/** Three `core` images (3 credits each) fit in the month; a fourth does not. */
const CREDITS_PER_MONTH = 10;

describe('Stability credits: one monthly allowance for the workers and the gateway, through Redis', () => {
  const prefix = uniqueName('credits');
  let sandbox: Sandbox;
  let workerRedis: Redis;
  let serviceRedis: Redis;
  let worker: StabilityClient;
  let f: GatewayFixture;

  before(async () => {
    sandbox = await createSandbox({ keys: { stability: [VENDOR_KEYS.stability] } });
    // Two processes' connections: a worker's and the service's.
    workerRedis = new Redis(TEST_REDIS_URL);
    serviceRedis = new Redis(TEST_REDIS_URL);
    const options = { stabilityCreditsPerMonth: CREDITS_PER_MONTH };
    worker = new StabilityClient({
      apiKey: VENDOR_KEYS.stability,
      baseUrl: sandbox.baseUrls.stability,
      budget: sharedBudgets(workerRedis, prefix, options).stability,
      maxRetries: 0,
    });
    f = await openGateway({
      sandbox,
      gateway: {
        vendors: {
          stability: {
            apiKey: VENDOR_KEYS.stability,
            baseUrl: gatewaySandboxRoots(sandbox.url).stability,
            budget: sharedBudgets(serviceRedis, prefix, options).stability,
          },
        },
      },
    });
  });
  after(async () => {
    await f?.close();
    await worker?.close();
    for (const r of [workerRedis, serviceRedis]) {
      if (!r) continue;
      const keys = await r.keys(`${prefix}*`);
      if (keys.length > 0) await r.del(...keys);
      r.disconnect();
    }
    await sandbox?.close();
  });

  const throughGateway = (prompt: string) => generateThroughGateway(f.url, 'core', { prompt });
  const generations = () =>
    sandbox.requests.all().filter((r) => r.vendor === 'stability' && r.path.includes('/generate/')).length;
  const creditsUsed = async () =>
    (await worker.budget.usage()).find((w) => w.name === 'credits')?.used ?? Number.NaN;

  it('charges both sides to one allowance, keeps nothing for a refused generation, and refuses past it', async () => {
    await worker.generateImage('a harbour at dawn');
    assert.equal(await creditsUsed(), 3);
    const first = await throughGateway('a lighthouse');
    assert.equal(first.status, 200, first.body.toString());
    assert.equal(await creditsUsed(), 6);
    // Stability charges nothing for a moderated prompt: the worker's hold is given back.
    await assert.rejects(worker.generateImage('a fox [moderated]'));
    assert.equal(await creditsUsed(), 6);
    await worker.generateImage('a fox');
    assert.equal(await creditsUsed(), 9);
    const sent = generations();

    // One credit left: neither side sends a 3-credit generation.
    const refused = await throughGateway('one more');
    assert.equal(refused.status, 429, refused.body.toString());
    assert.ok(Number(refused.headers.get('retry-after')) > 0);
    const error = (await worker.generateImage('and another').then(
      () => assert.fail('past the allowance'),
      (e: unknown) => e,
    )) as { code?: string; transient?: boolean; retryAt?: number };
    assert.equal(error.code, 'ERR_QUOTA_EXHAUSTED');
    // A worker's job waits for the month's reset rather than failing.
    assert.equal(error.transient, true);
    const now = new Date();
    const nextMonth = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
    // The Redis backend keeps windows in whole milliseconds of the time left: within a second of it.
    assert.ok(Math.abs((error.retryAt ?? 0) - nextMonth) < 1_000, `retryAt ${error.retryAt} vs ${nextMonth}`);
    assert.equal(generations(), sent, 'nothing sent past the allowance');
    assert.equal(await creditsUsed(), 9);
  });
});
