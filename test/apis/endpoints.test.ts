import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createApiClients, type OpenAIClient } from '../../src/apis/index.js';
import { CircuitBreaker } from '../../src/resilience/index.js';
import type { Sandbox } from '../../src/sandbox/index.js';
import { FakeClock } from '../../src/testing/index.js';
import { FAST_RETRIES, KEYS, startSandbox } from './support.js';

/** Two sandboxes serve one OpenAI account: a primary that fails, and a fallback. */
describe('several endpoints per vendor (two sandboxes, one failing)', () => {
  let primary: Sandbox;
  let fallback: Sandbox;
  const closers: Array<() => Promise<void>> = [];

  before(async () => {
    [primary, fallback] = await Promise.all([startSandbox(), startSandbox()]);
  });
  beforeEach(() => {
    primary.reset();
    fallback.reset();
  });
  after(async () => {
    await Promise.all(closers.map((c) => c()));
    await Promise.all([primary.close(), fallback.close()]);
  });

  const chats = (sandbox: Sandbox): number =>
    sandbox.requests.filter({ vendor: 'openai', path: '/chat/completions' }).length;

  function openai(
    strategy: 'primary-first' | 'balanced',
    clock: FakeClock,
    urls = [primary.baseUrls.openai, fallback.baseUrls.openai],
  ): { ai: OpenAIClient; breakers: CircuitBreaker[] } {
    const breakers: CircuitBreaker[] = [];
    const clients = createApiClients({
      openai: {
        apiKey: KEYS.openai,
        ...FAST_RETRIES,
        endpointStrategy: strategy,
        endpointBreaker: ({ origin }) => {
          const b = new CircuitBreaker({ name: origin, failureThreshold: 2, halfOpenAfterMs: 30_000, clock });
          breakers.push(b);
          return b;
        },
      },
      baseUrls: { openai: urls },
    });
    closers.push(() => clients.close());
    return { ai: clients.openai!, breakers };
  }

  it('primary-first: calls move to the fallback when the primary answers 503, and come back once it heals', async () => {
    const clock = new FakeClock();
    const { ai, breakers } = openai('primary-first', clock);
    primary.config.faults.push({ vendor: 'openai', status: 503, times: 1_000 });
    for (let i = 0; i < 8; i++) {
      const out = await ai.generateText(`prompt ${i}`);
      assert.ok(out.text.length > 0);
    }
    // Two 503s opened the primary's breaker; each was retried on the fallback, which served everything.
    assert.equal(chats(primary), 2);
    assert.equal(chats(fallback), 8);
    assert.equal(breakers[0]!.state, 'OPEN');
    assert.equal(breakers[1]!.state, 'CLOSED');
    // One budget for the account, across endpoints: every answered attempt spent a request, 503s included.
    const requests = (await ai.budget.usage()).find((w) => w.name === 'requests')!;
    assert.equal(requests.used, 10);

    const metrics = await ai.getApiMetrics();
    const [a, b] = [new URL(primary.url).origin, new URL(fallback.url).origin];
    assert.deepEqual(
      { attempts: metrics.origins[a]!.attempts, failed: metrics.origins[a]!.failedAttempts },
      { attempts: 2, failed: 2 },
    );
    assert.equal(metrics.origins[a]!.breakerState, 'OPEN');
    assert.equal(metrics.origins[b]!.attempts, 8);
    assert.equal(metrics.breakerState, 'CLOSED', 'the service is reachable');
    assert.equal(metrics.successfulRequests, 8);
    assert.ok(!JSON.stringify(metrics).includes(KEYS.openai));

    // The primary heals; once its breaker half-opens, a probe goes there, succeeds, and traffic returns.
    primary.config.faults.length = 0;
    await ai.generateText('still on the fallback');
    assert.equal(chats(primary), 2);
    await clock.advance(30_000);
    await ai.generateText('probe');
    assert.equal(breakers[0]!.state, 'CLOSED');
    for (let i = 0; i < 3; i++) await ai.generateText(`back ${i}`);
    assert.equal(chats(primary), 2 + 4);
    assert.equal(chats(fallback), 9);
  });

  it('balanced: calls alternate, and all still succeed when one endpoint refuses connections', async () => {
    const clock = new FakeClock();
    const { ai, breakers } = openai('balanced', clock);
    for (let i = 0; i < 6; i++) await ai.generateText(`prompt ${i}`);
    assert.equal(chats(primary), 3);
    assert.equal(chats(fallback), 3);

    // A port that refuses: the primary's sandbox, closed. Non-replayable POSTs are retried elsewhere too,
    // since a refused connection never carried the request.
    const dead = await startSandbox();
    await dead.close();
    const { ai: ai2, breakers: breakers2 } = openai('balanced', clock, [
      dead.baseUrls.openai,
      fallback.baseUrls.openai,
    ]);
    const before = chats(fallback);
    for (let i = 0; i < 6; i++) await ai2.generateText(`refused ${i}`);
    assert.equal(chats(fallback) - before, 6);
    assert.equal(breakers2[0]!.state, 'OPEN');
    assert.equal(breakers.length, 2);
  });
});
