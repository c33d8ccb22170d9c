import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { request } from 'undici';
import { youtubeQuotaWindows } from '../../src/apis/index.js';
import { Budget, RedisBudgetBackend } from '../../src/resilience/index.js';
import { createSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { gatewaySandboxRoots } from '../../src/server/index.js';
import { TEST_REDIS_URL, uniqueName } from '../support/env.js';
import { type GatewayFixture, openGateway, SERVICE_KEYS, VENDOR_KEYS } from './gateway-helpers.js';

const QUOTA_UNITS = 100;
const CALLERS = 20;
const CALLS_EACH = 8;

describe('vendor gateway: one YouTube quota shared by many callers and two service processes', () => {
  let sandbox: Sandbox;
  let redis: Redis;
  let key: string;
  const gateways: GatewayFixture[] = [];

  before(async () => {
    sandbox = await createSandbox({
      keys: { youtube: [VENDOR_KEYS.youtube] },
      config: { youtube: { dailyQuotaUnits: QUOTA_UNITS } },
    });
    redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
    key = uniqueName('gwbudget');
    const windows = youtubeQuotaWindows(QUOTA_UNITS);
    // Two gateways (as two `serve` processes would), each with its own Budget over one Redis key.
    for (let i = 0; i < 2; i++) {
      const budget = new Budget({
        name: 'youtube',
        windows,
        backend: new RedisBudgetBackend({ redis, key, windows }),
      });
      gateways.push(
        await openGateway({
          sandbox,
          gateway: {
            callerRequestsPerMinute: 0,
            vendors: {
              youtube: {
                apiKey: VENDOR_KEYS.youtube,
                baseUrl: gatewaySandboxRoots(sandbox.url).youtube,
                budget,
              },
            },
          },
        }),
      );
    }
  });

  after(async () => {
    for (const g of gateways) await g.close();
    const keys = await redis.keys(`${key}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await sandbox?.close();
  });

  it('never spends more units than the quota: the excess callers get 429 with Retry-After', async () => {
    const statuses: number[] = [];
    const refusals: Array<{ retryAfter: string | undefined; reason: unknown }> = [];
    await Promise.all(
      Array.from({ length: CALLERS }, async (_, caller) => {
        const gateway = gateways[caller % 2]!;
        for (let n = 0; n < CALLS_EACH; n++) {
          // Distinct ids: no answer comes from the cache, every call would cost a unit.
          const id = `c${caller}n${n}`.padEnd(11, 'x');
          const res = await request(
            `${gateway.url}/gateway/youtube/youtube/v3/videos?part=snippet&id=${id}`,
            {
              headers: { 'x-api-key': SERVICE_KEYS[caller % SERVICE_KEYS.length]! },
            },
          );
          const body = (await res.body.json()) as { error?: { errors?: Array<{ reason?: string }> } };
          statuses.push(res.statusCode);
          if (res.statusCode === 429) {
            refusals.push({
              retryAfter: res.headers['retry-after'] as string | undefined,
              reason: body.error?.errors?.[0]?.reason,
            });
          }
        }
      }),
    );
    const ok = statuses.filter((s) => s === 200).length;
    assert.equal(statuses.length, CALLERS * CALLS_EACH);
    assert.ok(ok <= QUOTA_UNITS, `${ok} calls answered, the quota is ${QUOTA_UNITS}`);
    assert.ok(ok >= QUOTA_UNITS - 5, `the quota was used (${ok} answered)`);
    assert.equal(refusals.length, CALLERS * CALLS_EACH - ok, `only 200 or 429: ${[...new Set(statuses)]}`);
    for (const r of refusals) {
      assert.equal(r.reason, 'ERR_SERVER_GATEWAY_BUDGET_EXHAUSTED');
      assert.ok(Number(r.retryAfter) >= 1, 'Retry-After in seconds');
    }
    // The sandbox's own count: it answered every call it got, and never had to refuse one for quota.
    const reached = sandbox.requests.filter({ vendor: 'youtube', path: '/youtube/youtube/v3/videos' });
    assert.equal(reached.length, ok);
    assert.ok(reached.every((r) => r.status === 200));
    const used = await redis.keys(`${key}*`);
    assert.ok(used.length > 0, 'the budget lives in Redis');
  });
});
