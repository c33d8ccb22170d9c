import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { STABILITY_CREDIT_COSTS } from '../../src/apis/index.js';
import { createSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { gatewaySandboxRoots } from '../../src/server/index.js';
import { type GatewayFixture, openGateway, SERVICE_KEYS, VENDOR_KEYS } from './gateway-helpers.js';

/** A month's allowance that fits three `core` images (3 credits each) and not a fourth. */
const CREDITS_PER_MONTH = 10;

describe('vendor gateway: Stability credits', () => {
  let sandbox: Sandbox;
  let f: GatewayFixture;

  before(async () => {
    sandbox = await createSandbox({ keys: { stability: [VENDOR_KEYS.stability] } });
    f = await openGateway({
      sandbox,
      gateway: {
        vendors: {
          stability: {
            apiKey: VENDOR_KEYS.stability,
            baseUrl: gatewaySandboxRoots(sandbox.url).stability,
            creditsPerMonth: CREDITS_PER_MONTH,
          },
        },
      },
    });
  });
  after(async () => {
    await f?.close();
    await sandbox?.close();
  });

  const generate = async (model: 'core' | 'sd3', fields: Record<string, string>) => {
    const form = new FormData();
    for (const [name, value] of Object.entries(fields)) form.set(name, value);
    const res = await fetch(`${f.url}/gateway/stability/v2beta/stable-image/generate/${model}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${SERVICE_KEYS[0]}`, accept: 'image/*' },
      body: form,
    });
    return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
  };
  const creditsUsed = async (): Promise<number | undefined> => {
    const metrics = await f.gateway.vendors.get('stability')!.http.getApiMetrics();
    return metrics.quota.find((q) => q.name === 'credits')?.used;
  };

  it('charges each generation its model price in credits, keeps none for a failed one, and refuses past the allowance', async () => {
    assert.equal(await creditsUsed(), 0);
    const sd3 = await generate('sd3', { prompt: 'a lighthouse', model: 'sd3.5-medium' });
    assert.equal(sd3.status, 200, sd3.body.toString());
    assert.equal(await creditsUsed(), STABILITY_CREDIT_COSTS['sd3.5-medium']);
    // Stability does not charge a refused generation: the reservation is given back.
    const moderated = await generate('core', { prompt: 'a lighthouse [moderated]' });
    assert.equal(moderated.status, 403);
    assert.equal(await creditsUsed(), STABILITY_CREDIT_COSTS['sd3.5-medium']);
    const core = await generate('core', { prompt: 'a harbour' });
    assert.equal(core.status, 200);
    assert.equal(await creditsUsed(), 3.5 + 3);
    // 6.5 used of 10: another core (3) fits, then the one after does not.
    assert.equal((await generate('core', { prompt: 'a boat' })).status, 200);
    const reachedBefore = f.sandbox.requests.filter({ vendor: 'stability', method: 'POST' }).length;
    const refused = await generate('core', { prompt: 'one more' });
    assert.equal(refused.status, 429);
    assert.ok(Number(refused.headers.get('retry-after')) >= 1, 'Retry-After until the next month');
    const error = JSON.parse(refused.body.toString()) as { name: string; errors: string[] };
    // Stability's own error shape, with the gateway's code where Stability puts its name.
    assert.equal(error.name, 'ERR_SERVER_GATEWAY_BUDGET_EXHAUSTED');
    assert.match(error.errors[0] ?? '', /credits/);
    assert.equal(f.sandbox.requests.filter({ vendor: 'stability', method: 'POST' }).length, reachedBefore);
    assert.equal(await creditsUsed(), 9.5);
    // A cheaper call that still fits goes through: SDXL on v1 costs 0.9 (9.5 + 0.9 > 10 does not fit).
    const v1 = await fetch(
      `${f.url}/gateway/stability/v1/generation/stable-diffusion-xl-1024-v1-0/text-to-image`,
      {
        method: 'POST',
        headers: { authorization: `Bearer ${SERVICE_KEYS[1]}`, 'content-type': 'application/json' },
        body: JSON.stringify({ text_prompts: [{ text: 'a gull' }], steps: 15 }),
      },
    );
    await v1.arrayBuffer();
    assert.equal(v1.status, 429, 'an SDXL image at 0.9 credits does not fit in the 0.5 left');
    // The balance the sandbox keeps agrees with what the gateway counted.
    const balance = await fetch(`${gatewaySandboxRoots(f.sandbox.url).stability}v1/user/balance`, {
      headers: { authorization: `Bearer ${VENDOR_KEYS.stability}` },
    });
    const { credits } = (await balance.json()) as { credits: number };
    assert.equal(f.sandbox.config.stability.credits - credits, 9.5);
  });
});
