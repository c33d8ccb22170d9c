import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createApiClients, OpenAIClient, type OpenAIClientOptions } from '../../src/apis/index.js';
import type { Sandbox } from '../../src/sandbox/index.js';
import { FAST_RETRIES, KEYS, useSandboxClients } from './support.js';

/** The vendor clients' adaptive concurrency default (docs/http.md, "Adaptive concurrency"). */
describe('vendor clients: adaptive concurrency by default', () => {
  let sandbox: Sandbox;
  const client = useSandboxClients<OpenAIClient, OpenAIClientOptions>(
    (sb, extra) =>
      new OpenAIClient({ apiKey: KEYS.openai, baseUrl: sb.baseUrls.openai, ...FAST_RETRIES, ...extra }),
    (sb) => {
      sandbox = sb;
    },
  );
  const concurrency = async (c: { getApiMetrics: OpenAIClient['getApiMetrics'] }) =>
    Object.values((await c.getApiMetrics()).origins)[0]?.concurrency;

  it('is on with the gradient algorithm, from 100 permits; false turns it off; options replace it', async () => {
    const on = client();
    await on.generateText('Say hello.', { maxTokens: 16 });
    const stats = await concurrency(on);
    assert.equal(stats?.algorithm, 'gradient');
    assert.equal(stats?.limit, 100);
    assert.equal(stats?.inFlight, 0);

    const off = client({ adaptiveConcurrency: false });
    await off.generateText('Say hello.', { maxTokens: 16 });
    assert.equal(await concurrency(off), undefined);

    const vegas = client({ adaptiveConcurrency: { algorithm: 'vegas', initialLimit: 7 } });
    await vegas.generateText('Say hello.', { maxTokens: 16 });
    assert.deepEqual(
      [(await concurrency(vegas))?.algorithm, (await concurrency(vegas))?.limit],
      ['vegas', 7],
    );
  });

  it('createApiClients passes the default on, and an explicit false through', async () => {
    const on = createApiClients({
      openai: { apiKey: KEYS.openai },
      baseUrls: { openai: sandbox.baseUrls.openai },
    });
    const off = createApiClients({
      openai: { apiKey: KEYS.openai },
      http: { adaptiveConcurrency: false },
      baseUrls: { openai: sandbox.baseUrls.openai },
    });
    try {
      await on.openai!.generateText('Say hello.', { maxTokens: 16 });
      await off.openai!.generateText('Say hello.', { maxTokens: 16 });
      assert.equal((await concurrency(on.openai!))?.limit, 100);
      assert.equal(await concurrency(off.openai!), undefined);
    } finally {
      await on.close();
      await off.close();
    }
  });
});
