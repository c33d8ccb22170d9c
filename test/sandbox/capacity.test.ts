import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { createSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { FakeClock } from '../../src/testing/index.js';
import { assertContract, type Call, call, jsonInit } from './helpers.js';

const OPENAI = { authorization: 'Bearer sk-capacity-test' };
const CHAT = jsonInit({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }, OPENAI);

/** Real time passes until `check` holds (the requests have reached the sandbox and wait on its clock). */
async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (check()) return;
    await delay(5);
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** Tracks which of several calls have answered, by index. */
function track(calls: Promise<Call>[]): { done: Set<number>; all: Promise<Call[]> } {
  const done = new Set<number>();
  calls.forEach((c, i) => void c.then(() => done.add(i)));
  return { done, all: Promise.all(calls) };
}

describe('sandbox: capacity (workers, queue, refusal for load)', () => {
  let clock: FakeClock;
  let sb: Sandbox;
  before(async () => {
    clock = new FakeClock();
    sb = await createSandbox({
      clock,
      config: {
        latency: { fixedMs: 100 },
        capacity: { concurrent: 2, queue: 1 },
        openai: { requestsPerMinute: 1e6 },
      },
    });
  });
  after(async () => {
    await sb.close();
  });

  it('serves `concurrent` at once, queues `queue` more behind them and refuses the rest with a 429', async () => {
    sb.reset();
    const calls = Array.from({ length: 4 }, () => call(sb.url, 'POST', '/openai/v1/chat/completions', CHAT));
    const { done, all } = track(calls);
    // Two in service (each sleeping its latency), one waiting for a worker, one refused at once.
    await until(() => clock.pending === 2 && done.size === 1, 'two requests in service and one refusal');
    const refused = await calls[3]!;
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.equal(refused.json.error.code, 'rate_limit_exceeded');
    assert.match(refused.json.error.message, /overloaded/);
    assertContract('openai', 'POST', '/v1/chat/completions', refused);
    assert.equal(sb.requests.filter({ vendor: 'openai' }).at(-1)?.chaos, 'overloaded');

    await clock.advance(100);
    await until(() => done.size === 3 && clock.pending === 1, 'the queued request to take a worker');
    assert.deepEqual([...done].sort(), [0, 1, 3]);
    // The queued request's latency began when it got a worker: its answer takes the wait plus its own.
    await clock.advance(99);
    await delay(20);
    assert.equal(done.has(2), false, 'the queued request is still being served');
    await clock.advance(1);
    const answers = await all;
    assert.deepEqual(
      answers.map((a) => a.status),
      [200, 200, 200, 429],
    );
  });

  it('follows runtime changes, limits only the listed vendors and answers 503 when asked', async () => {
    sb.reset();
    sb.config.capacity = { concurrent: 1, queue: 0, status: 503, retryAfterMs: 2500, vendors: ['openai'] };
    const first = call(sb.url, 'POST', '/openai/v1/chat/completions', CHAT);
    await until(() => clock.pending === 1, 'the first request in service');
    const busy = await call(sb.url, 'POST', '/openai/v1/chat/completions', CHAT);
    assert.equal(busy.status, 503);
    assert.equal(busy.headers.get('retry-after'), '3', 'Retry-After in whole seconds, rounded up');
    assert.equal(busy.json.error.type, 'server_error');
    // YouTube is not on the list: it has no limit and is served next to the busy OpenAI worker.
    const youtube = call(sb.url, 'GET', '/youtube/youtube/v3/videos?part=id&id=dQw4w9WgXcQ&key=k');
    await until(() => clock.pending === 2, 'the YouTube request in service');

    // Raising the limit at runtime lets the next request in at once.
    sb.config.capacity.concurrent = 2;
    const second = call(sb.url, 'POST', '/openai/v1/chat/completions', CHAT);
    await until(() => clock.pending === 3, 'the second OpenAI request in service');
    await clock.advance(100);
    assert.deepEqual(
      (await Promise.all([first, second, youtube])).map((r) => r.status),
      [200, 200, 200],
    );

    sb.reset();
    assert.equal(sb.config.capacity.concurrent, 2, 'reset() restores the starting capacity');
    assert.equal(sb.config.capacity.status, 429);
    assert.deepEqual(sb.config.capacity.vendors, []);
  });

  it('gives every vendor its own workers, in its own error shape', async () => {
    sb.reset();
    sb.config.capacity = { concurrent: 1, queue: 0, status: 429, retryAfterMs: 0, vendors: [] };
    const eleven = { headers: { 'xi-api-key': 'xi-test' } };
    const held = [
      call(sb.url, 'GET', '/elevenlabs/v1/voices', eleven),
      call(sb.url, 'GET', '/openai/v1/models', { headers: OPENAI }),
    ];
    await until(() => clock.pending === 2, 'one request per vendor in service');
    const refused = await call(sb.url, 'GET', '/elevenlabs/v1/voices', eleven);
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get('retry-after'), null, 'retryAfterMs 0 sends no Retry-After');
    assert.equal(refused.json.detail.status, 'system_busy');
    await clock.advance(100);
    assert.deepEqual(
      (await Promise.all(held)).map((r) => r.status),
      [200, 200],
    );
  });

  it('takes a waiting request out of the queue when its client goes away', async () => {
    sb.reset();
    sb.config.capacity = { concurrent: 1, queue: 1, status: 429, retryAfterMs: 1000, vendors: [] };
    const first = call(sb.url, 'GET', '/openai/v1/models', { headers: OPENAI });
    await until(() => clock.pending === 1, 'the first request in service');
    const gone = new AbortController();
    const abandoned = fetch(`${sb.url}/openai/v1/models`, { headers: OPENAI, signal: gone.signal });
    await until(() => sb.requests.length === 2, 'the second request to wait in the queue');
    gone.abort();
    await assert.rejects(abandoned, { name: 'AbortError' });
    // Its place in the queue is free again: the next request waits there instead of being refused.
    let third: Call | undefined;
    const waiting = call(sb.url, 'GET', '/openai/v1/models', { headers: OPENAI }).then((r) => {
      third = r;
      return r;
    });
    await until(() => sb.requests.length === 3, 'the third request to arrive');
    await delay(30);
    assert.equal(third, undefined, 'the third request waits rather than being refused');
    await clock.advance(100);
    await until(() => clock.pending === 1, 'the third request in service');
    await clock.advance(100);
    assert.equal((await first).status, 200);
    assert.equal((await waiting).status, 200);
  });
});
