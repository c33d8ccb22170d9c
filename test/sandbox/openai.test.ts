import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { createSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { goDuration } from '../../src/sandbox/openai-routes.js';
import { FakeClock } from '../../src/testing/index.js';
import { assertContract, type Call, call, jsonInit } from './helpers.js';

const CHAT = '/openai/v1/chat/completions';
const AUTH = { authorization: 'Bearer sk-sandbox-1234' };

const TRANSCRIPT = [
  '[0.0-4.5] Welcome back to the kitchen.',
  '[4.5-12.0] Today we bake sourdough bread from scratch.',
  '[12.0-21.5] The starter needs to be bubbly and active.',
  '[21.5-33.0] Fold the dough every thirty minutes.',
  '[33.0-47.0] Bake at a high temperature with steam.',
  '[47.0-60.0] Let it cool before slicing the bread.',
].join('\n');

const HIGHLIGHTS_SCHEMA = {
  type: 'object',
  properties: {
    highlights: {
      type: 'array',
      minItems: 2,
      maxItems: 3,
      items: {
        type: 'object',
        properties: {
          start: { type: 'number', minimum: 0 },
          end: { type: 'number', minimum: 0 },
          title: { type: 'string', maxLength: 60 },
          reason: { type: 'string' },
          score: { type: 'integer', minimum: 1, maximum: 10 },
          kind: { type: 'string', enum: ['funny', 'insightful', 'emotional'] },
        },
        required: ['start', 'end', 'title', 'reason', 'score', 'kind'],
        additionalProperties: false,
      },
    },
  },
  required: ['highlights'],
  additionalProperties: false,
};

describe('sandbox: OpenAI chat completions', () => {
  let sb: Sandbox;
  const chat = async (body: unknown, headers: Record<string, string> = AUTH): Promise<Call> => {
    const res = await call(sb.url, 'POST', CHAT, jsonInit(body, headers));
    if (!res.contentType.startsWith('text/event-stream')) assertContract('openai', 'POST', CHAT, res);
    return res;
  };

  before(async () => {
    sb = await createSandbox({ keys: { openai: ['sk-sandbox-1234'] } });
  });
  after(async () => {
    await sb.close();
  });

  it('lists models per the spec', async () => {
    const res = await call(sb.url, 'GET', '/openai/v1/models', { headers: AUTH });
    assertContract('openai', 'GET', '/openai/v1/models', res);
    assert.ok(res.json.data.some((m: { id: string }) => m.id === 'gpt-4o-mini'));
  });

  it('honours a json_schema response_format with highlights taken from prompt timestamps', async () => {
    const res = await chat({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'You pick highlights.' },
        { role: 'user', content: `Transcript:\n${TRANSCRIPT}` },
      ],
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'highlights', strict: true, schema: HIGHLIGHTS_SCHEMA },
      },
    });
    assert.equal(res.status, 200);
    const choice = res.json.choices[0];
    assert.equal(choice.finish_reason, 'stop');
    assert.equal(choice.logprobs, null);
    assert.equal(choice.message.refusal, null);
    const parsed = JSON.parse(choice.message.content) as {
      highlights: Array<{ start: number; end: number }>;
    };
    const validate = new Ajv2020({ strict: false }).compile(HIGHLIGHTS_SCHEMA);
    assert.ok(validate(parsed as unknown), JSON.stringify(validate.errors));
    const starts = [0, 4.5, 12, 21.5, 33, 47];
    const ends = [4.5, 12, 21.5, 33, 47, 60];
    for (const h of parsed.highlights) {
      assert.ok(starts.includes(h.start), `start ${h.start} comes from the prompt`);
      assert.ok(ends.includes(h.end), `end ${h.end} comes from the prompt`);
      assert.ok(h.end > h.start);
    }
    assert.ok(res.json.usage.prompt_tokens >= Math.floor(TRANSCRIPT.length / 4));
    assert.equal(res.json.usage.completion_tokens, Math.ceil(choice.message.content.length / 4));
    assert.equal(
      res.json.usage.total_tokens,
      res.json.usage.prompt_tokens + res.json.usage.completion_tokens,
    );
  });

  it('fills caption-like string arrays from the prompt and point timestamps', async () => {
    const schema = {
      type: 'object',
      properties: { captions: { type: 'array', items: { type: 'string' }, minItems: 4, maxItems: 4 } },
      required: ['captions'],
      additionalProperties: false,
    };
    const res = await chat({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'user', content: '[00:01] First line here.\n[00:04] Second line there.\n[00:09] Third.' },
      ],
      response_format: { type: 'json_schema', json_schema: { name: 'captions', schema } },
    });
    const parsed = JSON.parse(res.json.choices[0].message.content);
    assert.equal(parsed.captions.length, 4);
    assert.ok(parsed.captions.includes('First line here.'));
  });

  it('returns a JSON object for json_object and plain text otherwise', async () => {
    const obj = await chat({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Summarise as JSON: the river meets the sea.' }],
      response_format: { type: 'json_object' },
    });
    const parsed = JSON.parse(obj.json.choices[0].message.content);
    assert.equal(typeof parsed, 'object');
    const noJsonWord = await chat({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Summarise.' }],
      response_format: { type: 'json_object' },
    });
    assert.equal(noJsonWord.status, 400);
    assert.equal(noJsonWord.json.error.param, 'messages');
    assert.ok(!Array.isArray(parsed));
    const text = await chat({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Hello there' }],
      n: 2,
    });
    assert.equal(text.json.choices.length, 2);
    assert.equal(typeof text.json.choices[1].message.content, 'string');
    assert.throws(() => JSON.parse(text.json.choices[0].message.content));
  });

  it('cuts the content at max_completion_tokens with finish_reason length', async () => {
    const res = await chat({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Write a long story about harbors and lighthouses.' }],
      max_completion_tokens: 3,
    });
    assert.equal(res.json.choices[0].finish_reason, 'length');
    assert.equal(res.json.choices[0].message.content.length, 12);
    assert.equal(res.json.usage.completion_tokens, 3);
  });

  it('streams chunks as server-sent events ending in [DONE]', async () => {
    const res = await chat({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Tell me something about lighthouses and harbors.' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    assert.match(res.contentType, /^text\/event-stream/);
    const events = res.bytes.toString('utf8').trim().split('\n\n');
    assert.equal(events.at(-1), 'data: [DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.replace(/^data: /, '')));
    assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk'));
    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
    assert.ok(text.length > 10);
    assert.ok(chunks.at(-1).usage.total_tokens > 0);
  });

  it('rejects a missing model, missing key and wrong key with the real error bodies', async () => {
    const noModel = await chat({ messages: [{ role: 'user', content: 'x' }] });
    assert.equal(noModel.status, 400);
    assert.equal(noModel.json.error.type, 'invalid_request_error');
    const noKey = await chat({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] }, {});
    assert.equal(noKey.status, 401);
    assert.match(noKey.json.error.message, /You didn't provide an API key/);
    assert.equal(noKey.json.error.code, null);
    const wrong = await chat(
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] },
      { authorization: 'Bearer sk-wrong-9999' },
    );
    assert.equal(wrong.status, 401);
    assert.equal(wrong.json.error.code, 'invalid_api_key');
    assert.ok(!JSON.stringify(wrong.json).includes('sk-wrong-9999'));
    const unknownModel = await chat({ model: 'gpt-0', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(unknownModel.status, 404);
    assert.equal(unknownModel.json.error.code, 'model_not_found');
    const bad = await call(sb.url, 'POST', CHAT, {
      headers: { ...AUTH, 'content-type': 'application/json' },
      body: '{"model":',
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.type, 'invalid_request_error');
    assert.equal(sb.requests.last('openai')?.status, 400, 'unparseable bodies are logged too');
  });

  it('answers 429 rate_limit_exceeded with Retry-After and x-ratelimit headers, then recovers', async () => {
    const clock = new FakeClock();
    const limited = await createSandbox({ clock, config: { openai: { requestsPerMinute: 2 } } });
    try {
      const send = (): Promise<Call> =>
        call(
          limited.url,
          'POST',
          CHAT,
          jsonInit({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }, AUTH),
        );
      const first = await send();
      assert.equal(first.headers.get('x-ratelimit-limit-requests'), '2');
      assert.equal(first.headers.get('x-ratelimit-remaining-requests'), '1');
      assert.equal(first.headers.get('x-ratelimit-reset-requests'), '1m0s');
      await clock.advance(6_000);
      assert.equal((await send()).status, 200);
      const third = await send();
      assert.equal(third.status, 429);
      assertContract('openai', 'POST', CHAT, third);
      assert.equal(third.json.error.code, 'rate_limit_exceeded');
      assert.equal(third.headers.get('retry-after'), '54');
      assert.equal(third.headers.get('x-should-retry'), 'true');
      assert.equal(third.headers.get('x-ratelimit-reset-requests'), '54s');
      assert.equal(third.headers.get('x-ratelimit-remaining-requests'), '0');
      await clock.advance(54_000);
      assert.equal((await send()).status, 200);
    } finally {
      await limited.close();
    }
  });

  it('answers 429 insufficient_quota without Retry-After once the token budget is spent', async () => {
    const poor = await createSandbox({ config: { openai: { quotaTokens: 30 } } });
    try {
      const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'a'.repeat(80) }] };
      assert.equal((await call(poor.url, 'POST', CHAT, jsonInit(body, AUTH))).status, 200);
      const broke = await call(poor.url, 'POST', CHAT, jsonInit(body, AUTH));
      assert.equal(broke.status, 429);
      assert.equal(broke.json.error.code, 'insufficient_quota');
      assert.equal(broke.json.error.type, 'insufficient_quota');
      assert.equal(broke.headers.get('retry-after'), null);
    } finally {
      await poor.close();
    }
  });

  it('formats durations like the real x-ratelimit-reset headers', () => {
    assert.equal(goDuration(12), '12ms');
    assert.equal(goDuration(1000), '1s');
    assert.equal(goDuration(360_000), '6m0s');
    assert.equal(goDuration(1500), '1.5s');
    assert.equal(goDuration(3_723_000), '1h2m3s');
  });
});
