import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { createSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { gatewaySandboxRoots } from '../../src/server/index.js';
import { type GatewayFixture, openGateway, SERVICE_KEYS, VENDOR_KEYS } from './gateway-helpers.js';

/** The sandbox's pause before each event: a stream of about ten events takes about half a second. */
const EVENT_DELAY_MS = 50;

describe('vendor gateway: streamed chat completions', () => {
  let sandbox: Sandbox;
  let f: GatewayFixture;

  before(async () => {
    sandbox = await createSandbox({
      keys: { openai: [VENDOR_KEYS.openai] },
      config: { openai: { streamEventDelayMs: EVENT_DELAY_MS } },
    });
    f = await openGateway({
      sandbox,
      gateway: {
        vendors: { openai: { apiKey: VENDOR_KEYS.openai, baseUrl: gatewaySandboxRoots(sandbox.url).openai } },
      },
    });
  });
  after(async () => {
    await f?.close();
    await sandbox?.close();
  });

  const client = () =>
    new OpenAI({ apiKey: SERVICE_KEYS[0]!, baseURL: `${f.url}/gateway/openai/v1`, maxRetries: 0 });

  it('passes the events through as they come (the openai SDK reads the first long before the last) and charges the final usage', async () => {
    const started = performance.now();
    const stream = await client().chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Three titles for a clip about sourdough, please' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const arrivals: number[] = [];
    let text = '';
    let total: number | undefined;
    for await (const chunk of stream) {
      arrivals.push(performance.now() - started);
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) total = chunk.usage.total_tokens;
    }
    const end = performance.now() - started;
    assert.ok(arrivals.length >= 4, `events: ${arrivals.length}`);
    assert.ok(text.length > 0, 'the content came through');
    const first = arrivals[0]!;
    // Whole, the first event would arrive with the last, after every pause.
    assert.ok(first < end / 2, `first event at ${first.toFixed(0)} ms of ${end.toFixed(0)} ms`);
    assert.ok(end >= EVENT_DELAY_MS * arrivals.length, 'the sandbox paced its events');
    assert.ok(total !== undefined && total > 0, 'the usage event came through');
    // Charged from the stream's own usage, not the estimate.
    const metrics = await f.gateway.vendors.get('openai')!.http.getApiMetrics();
    assert.equal(metrics.quota.find((q) => q.name === 'tokens')?.used, total);
    assert.equal(metrics.quota.find((q) => q.name === 'requests')?.used, 1);
    assert.ok(metrics.totalRequests >= 1, 'the call is counted in the vendor client metrics');
  });

  it('passes a vendor error of a streamed call back in its shape', async () => {
    await assert.rejects(
      client().chat.completions.create({ model: 'gpt-4o-mini', messages: [], stream: true }),
      (error: unknown) => error instanceof OpenAI.BadRequestError && /messages/.test(error.message),
    );
  });
});
