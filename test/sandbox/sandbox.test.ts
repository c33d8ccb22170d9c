import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { createSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { fakeFromSchema, parseTimedCues } from '../../src/sandbox/schema-faker.js';
import { FakeClock } from '../../src/testing/index.js';
import { call, jsonInit } from './helpers.js';

const OPENAI = { authorization: 'Bearer sk-live-secret-abcdef' };

/** Resolves to true if the promise settles within a few event-loop turns. */
async function settlesSoon(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  await delay(50);
  return done;
}

describe('sandbox: chaos, latency, log and control', () => {
  let sb: Sandbox;
  before(async () => {
    sb = await createSandbox({ keys: { openai: ['sk-live-secret-abcdef'], youtube: ['AIzaSecretKey123'] } });
  });
  after(async () => {
    await sb.close();
  });

  it('records requests with secrets redacted and bodies parsed', async () => {
    sb.reset();
    await call(sb.url, 'GET', '/youtube/youtube/v3/videos?part=id&id=dQw4w9WgXcQ&key=AIzaSecretKey123');
    await call(
      sb.url,
      'POST',
      '/openai/v1/chat/completions',
      jsonInit({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }, OPENAI),
    );
    const fd = new FormData();
    fd.set('prompt', 'a cat');
    fd.set('image', new Blob([new Uint8Array(10)], { type: 'image/png' }), 'in.png');
    await call(sb.url, 'POST', '/stability/v2beta/stable-image/generate/ultra', {
      headers: { authorization: 'Bearer sk-stab-secret' },
      body: fd,
    });
    await call(sb.url, 'GET', '/elevenlabs/v1/voices', {
      headers: { 'xi-api-key': 'xi-secret-key', 'x-debug': 'copy of AIzaSecretKey123' },
    });
    assert.equal(sb.requests.length, 4);
    const yt = sb.requests.last('youtube')!;
    assert.equal(yt.query.key, '***');
    assert.equal(yt.status, 200);
    assert.equal(yt.path, '/youtube/youtube/v3/videos');
    const oa = sb.requests.filter({ vendor: 'openai', method: 'post' })[0]!;
    assert.equal(oa.headers.authorization, 'Bearer ***');
    assert.deepEqual(oa.body, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    const st = sb.requests.last({ path: /generate\/ultra$/ })!;
    assert.equal(st.vendor, 'stability');
    assert.deepEqual(st.body, {
      prompt: 'a cat',
      image: { filename: 'in.png', type: 'image/png', size: 10 },
    });
    assert.equal(sb.requests.last('elevenlabs')!.headers['xi-api-key'], '***');
    assert.equal(sb.requests.last('elevenlabs')!.headers['x-debug'], 'copy of ***');
    const dump = JSON.stringify(sb.requests.all());
    for (const secret of ['AIzaSecretKey123', 'sk-live-secret-abcdef', 'sk-stab-secret', 'xi-secret-key']) {
      assert.ok(!dump.includes(secret), `${secret} must not be logged`);
    }
  });

  it('produces 5xx errors at roughly the configured rate, reproducibly for a seed', async () => {
    sb.reset();
    sb.config.chaos.errorRate = 0.3;
    sb.config.chaos.modes = ['error'];
    const run = async (): Promise<number[]> => {
      const statuses: number[] = [];
      for (let i = 0; i < 120; i++) {
        statuses.push((await call(sb.url, 'GET', '/openai/v1/models', { headers: OPENAI })).status);
      }
      return statuses;
    };
    const first = await run();
    const errors = first.filter((s) => s >= 500).length;
    assert.ok(errors >= 22 && errors <= 50, `${errors} of 120 with rate 0.3`);
    assert.ok(first.every((s) => s === 200 || s === 500 || s === 503));
    const failed = await call(sb.url, 'GET', '/openai/v1/models', { headers: OPENAI });
    if (failed.status >= 500) assert.equal(failed.json.error.type, 'server_error');
    sb.reset();
    sb.config.chaos.errorRate = 0.3;
    sb.config.chaos.modes = ['error'];
    assert.deepEqual(await run(), first, 'same seed, same outcomes');
    sb.reset();
    assert.equal(sb.config.chaos.errorRate, 0);
  });

  it('resets connections, hangs until the client gives up, and sends malformed JSON', async () => {
    sb.reset();
    sb.config.chaos.errorRate = 1;
    sb.config.chaos.modes = ['reset'];
    await assert.rejects(fetch(`${sb.url}/openai/v1/models`, { headers: OPENAI }));
    assert.equal(sb.requests.last()!.chaos, 'reset');

    sb.config.chaos.modes = ['timeout'];
    await assert.rejects(
      fetch(`${sb.url}/openai/v1/models`, { headers: OPENAI, signal: AbortSignal.timeout(200) }),
      (error: Error) => error.name === 'TimeoutError',
    );

    sb.config.chaos.modes = ['malformed'];
    const res = await fetch(`${sb.url}/openai/v1/models`, { headers: OPENAI });
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.ok(text.startsWith('{"object":"list"'));
    assert.throws(() => JSON.parse(text));

    sb.config.chaos.vendors = ['youtube'];
    const spared = await call(sb.url, 'GET', '/openai/v1/models', { headers: OPENAI });
    assert.equal(spared.status, 200, 'chaos limited to other vendors');
    sb.reset();
  });

  it('trickles slow bodies and delays responses on the injected clock', async () => {
    const clock = new FakeClock();
    const slow = await createSandbox({
      clock,
      config: { chaos: { errorRate: 1, modes: ['slow'], slowBodyMs: 800 } },
    });
    try {
      const res = await fetch(`${slow.url}/openai/v1/models`, { headers: OPENAI });
      assert.equal(res.status, 200);
      const body = res.text();
      assert.equal(await settlesSoon(body), false, 'body waits for the clock');
      await clock.advance(1000);
      assert.equal(JSON.parse(await body).object, 'list');

      slow.config.chaos.errorRate = 0;
      slow.config.latency = { fixedMs: 300, jitterMs: 0 };
      const pending = fetch(`${slow.url}/openai/v1/models`, { headers: OPENAI });
      assert.equal(await settlesSoon(pending), false, 'response waits for the latency');
      await clock.advance(300);
      assert.equal((await pending).status, 200);
    } finally {
      await slow.close();
    }
  });

  it('answers unknown routes with a vendor-shaped 404 and reset() restores config and counters', async () => {
    const missing = await call(sb.url, 'GET', '/openai/v1/nope', { headers: OPENAI });
    assert.equal(missing.status, 404);
    assert.equal(typeof missing.json.error.message, 'string');
    sb.config.youtube.dailyQuotaUnits = 1;
    const q = (): Promise<number> =>
      call(sb.url, 'GET', '/youtube/youtube/v3/videos?part=id&id=dQw4w9WgXcQ&key=AIzaSecretKey123').then(
        (r) => r.status,
      );
    assert.equal(await q(), 200);
    assert.equal(await q(), 403);
    sb.reset();
    assert.equal(sb.config.youtube.dailyQuotaUnits, 10_000);
    assert.equal(sb.requests.length, 0);
    assert.equal(await q(), 200);
    assert.match(sb.baseUrls.openai, /\/openai\/v1$/);
  });
});

describe('schema faker', () => {
  it('parses range and point timestamps from prompt text', () => {
    assert.deepEqual(parseTimedCues('[1.5-3] a\n[00:01:02 - 00:01:05.5] b\nplain'), [
      { start: 1.5, end: 3, text: 'a' },
      { start: 62, end: 65.5, text: 'b' },
    ]);
    assert.deepEqual(
      parseTimedCues('[00:10] x\n[00:12] y').map((c) => [c.start, c.end]),
      [
        [10, 12],
        [12, 17],
      ],
    );
  });

  it('respects bounds, enums, lengths, nested refs and nullable unions', () => {
    const schema = {
      type: 'object',
      $defs: { Tag: { type: 'string', enum: ['a', 'b'] } },
      properties: {
        n: { type: 'integer', minimum: 3, maximum: 4 },
        x: { type: 'number', exclusiveMaximum: 0 },
        s: { type: 'string', minLength: 50, maxLength: 60 },
        tags: { type: 'array', items: { $ref: '#/$defs/Tag' }, minItems: 5 },
        maybe: { anyOf: [{ type: 'null' }, { type: 'boolean' }] },
        sentiment: { type: 'string', enum: ['positive', 'neutral', 'negative'] },
      },
    };
    const value = fakeFromSchema(schema, 'A prompt about rivers and rivers.') as Record<string, unknown>;
    assert.ok(value.n === 3 || value.n === 4);
    assert.ok((value.x as number) < 0);
    const s = value.s as string;
    assert.ok(s.length >= 50 && s.length <= 60);
    assert.equal((value.tags as string[]).length, 5);
    assert.ok((value.tags as string[]).every((t) => t === 'a' || t === 'b'));
    assert.equal(typeof value.maybe, 'boolean');
    assert.ok(['positive', 'neutral', 'negative'].includes(value.sentiment as string));
  });
});
