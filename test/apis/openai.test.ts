import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import {
  ApiErrorCode,
  type ClipCandidate,
  createApiClients,
  OpenAIClient,
  type OpenAIClientOptions,
  validateHighlights,
} from '../../src/apis/index.js';
import { HttpErrorCode } from '../../src/http/index.js';
import { type Sandbox, sandboxTranscript } from '../../src/sandbox/index.js';
import { FakeClock } from '../../src/testing/index.js';
import { caught, FAST_RETRIES, KEYS, startSandbox, useSandboxClients } from './support.js';

describe('OpenAIClient against the sandbox', () => {
  let sandbox: Sandbox;
  const client = useSandboxClients<OpenAIClient, OpenAIClientOptions>(
    (sb, extra) =>
      new OpenAIClient({ apiKey: KEYS.openai, baseUrl: sb.baseUrls.openai, ...FAST_RETRIES, ...extra }),
    (sb) => {
      sandbox = sb;
    },
  );
  const lastBody = (): Record<string, unknown> =>
    sandbox.requests.last({ vendor: 'openai', path: '/chat/completions' })!.body as Record<string, unknown>;

  it('generateText returns text and usage, sends max_completion_tokens, commits actual tokens', async () => {
    const ai = client();
    const out = await ai.generateText('Describe a sunset over the harbour.', {
      maxTokens: 200,
      temperature: 0.3,
    });
    assert.ok(out.text.length > 0);
    assert.ok(out.usage.totalTokens > 0);
    assert.equal(out.usage.totalTokens, out.usage.promptTokens + out.usage.completionTokens);
    const body = lastBody();
    assert.equal(body.max_completion_tokens, 200);
    assert.equal(body.max_tokens, undefined);
    assert.equal(body.temperature, 0.3);
    assert.equal(body.model, 'gpt-4o-mini');
    const usage = await ai.quotaUsage();
    assert.equal(
      usage.find((w) => w.name === 'tokens')!.used,
      out.usage.totalTokens,
      'actual usage replaces the estimate',
    );
    assert.equal(usage.find((w) => w.name === 'requests')!.used, 1);
  });

  it('generateCaptions uses strict structured output and returns exactly `count` captions', async () => {
    const ai = client();
    const captions = await ai.generateCaptions(
      'We tried the new ramen place downtown. The broth was incredible. The noodles were hand pulled. We will be back.',
      { count: 4, style: 'funny', language: 'en' },
    );
    assert.equal(captions.length, 4);
    assert.ok(captions.every((c) => typeof c === 'string' && c.length > 0));
    const format = lastBody().response_format as {
      type: string;
      json_schema: { strict: boolean; schema: unknown };
    };
    assert.equal(format.type, 'json_schema');
    assert.equal(format.json_schema.strict, true);
  });

  it('analyzeVideoContent returns a validated analysis', async () => {
    const analysis = await client().analyzeVideoContent(
      'How to bake sourdough bread at home',
      'A step by step guide to sourdough: starter, dough, shaping, baking.',
    );
    assert.ok(Number.isInteger(analysis.viralPotential));
    assert.ok(analysis.viralPotential >= 1 && analysis.viralPotential <= 10);
    assert.ok(analysis.hashtags.every((h) => h.startsWith('#')));
    assert.ok(analysis.targetAudience.length > 0);
    assert.ok(analysis.bestPostingTime.length > 0);
    assert.ok(Array.isArray(analysis.improvements));
    assert.equal(typeof analysis.contentType, 'string');
  });

  it('selectHighlights returns clips inside the transcript, within bounds, without overlaps, reporting drops', async () => {
    const segments = sandboxTranscript('dQw4w9WgXcQ');
    const last = segments.at(-1)!.end;
    const result = await client().selectHighlights(segments, {
      count: 3,
      minClipMs: 15_000,
      maxClipMs: 20_000,
    });
    assert.ok(result.clips.length >= 1 && result.clips.length <= 3);
    for (const clip of result.clips) {
      assert.ok(clip.start >= 0 && clip.end <= last);
      assert.ok(clip.end - clip.start >= 15 - 1e-9 && clip.end - clip.start <= 20 + 1e-9);
      assert.ok(clip.score >= 0 && clip.score <= 1);
    }
    const sorted = [...result.clips].sort((a, b) => a.start - b.start);
    for (let i = 1; i < sorted.length; i++) assert.ok(sorted[i]!.start >= sorted[i - 1]!.end, 'no overlaps');
    // The sandbox proposes 5 candidates: whatever was not kept is reported with a reason.
    assert.equal(result.clips.length + result.dropped.length, 5);
    assert.ok(result.dropped.every((d) => typeof d.reason === 'string'));
  });

  it('an invalid key is ERR_HTTP_UNAUTHORIZED; an unknown model ERR_HTTP_NOT_FOUND', async () => {
    const e401 = await caught(client({ apiKey: 'sk-wrong' }).generateText('hi'));
    assert.equal(e401.code, HttpErrorCode.Unauthorized);
    const e404 = await caught(client().generateText('hi', { model: 'gpt-nonexistent' }));
    assert.equal(e404.code, HttpErrorCode.NotFound);
  });

  it('insufficient_quota (429) is ERR_HTTP_QUOTA_EXHAUSTED and is not retried', async () => {
    sandbox.config.openai.quotaTokens = 5;
    const error = await caught(client().generateText('a prompt long enough to exceed five tokens of quota'));
    assert.equal(error.code, HttpErrorCode.QuotaExhausted);
    assert.equal(sandbox.requests.filter('openai').length, 1);
  });

  it('a truncated body is ERR_API_RESPONSE_SHAPE naming the endpoint, not a bare SyntaxError', async () => {
    Object.assign(sandbox.config.chaos, { errorRate: 1, modes: ['malformed'], vendors: ['openai'] });
    const error = await caught(client().generateText('hi', { retries: 0 }));
    assert.equal(error.code, ApiErrorCode.ResponseShape);
    assert.match(error.message, /chat\.completions/);
  });

  it('batchGenerateCaptions reports a result or a typed error per transcript, in order', async () => {
    const ai = client();
    const transcripts = [
      'First video about cats. Cats are great.',
      '',
      'Third video about dogs. Dogs are loyal.',
    ];
    // An empty transcript still gets captions from the model; an invalid count fails before sending.
    const results = await ai.batchGenerateCaptions(transcripts, { count: 2, concurrency: 2 });
    assert.equal(results.length, 3);
    assert.ok(results.every((r) => r.ok));
    const bad = await ai.batchGenerateCaptions(['x', 'y'], { count: 0 });
    assert.equal(bad.length, 2);
    assert.ok(bad.every((r) => !r.ok && r.error.code === 'ERR_INVALID_ARGUMENT'));
  });

  // The vendor clients' adaptive concurrency default (docs/http.md, "Adaptive concurrency").
  const concurrency = async (c: { getApiMetrics: OpenAIClient['getApiMetrics'] }) =>
    Object.values((await c.getApiMetrics()).origins)[0]?.concurrency;

  it('has adaptive concurrency on by default: gradient, from 100 permits; false turns it off; options replace it', async () => {
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

  it('createApiClients passes the adaptive concurrency default on, and an explicit false through', async () => {
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

describe('OpenAI 429 with Retry-After (fake clock shared with the sandbox)', () => {
  it('waits the Retry-After and then succeeds', async () => {
    const clock = new FakeClock(Date.UTC(2026, 5, 1, 12));
    const sandbox = await startSandbox({ clock, config: { openai: { requestsPerMinute: 1 } } });
    const options = {
      apiKey: KEYS.openai,
      baseUrl: sandbox.baseUrls.openai,
      clock,
      deadlineMs: 600_000,
      retryDelayMs: 5,
    };
    // Another process spent the minute's requests: this client's budget cannot know, so it meets a 429.
    const other = new OpenAIClient(options);
    const ai = new OpenAIClient(options);
    try {
      await other.generateText('first');
      let settled = false;
      const second = ai.generateText('second').finally(() => {
        settled = true;
      });
      for (let i = 0; i < 400 && !settled; i++) {
        await delay(5);
        if (sandbox.requests.filter('openai').length >= 2) await clock.advance(2_000);
      }
      assert.ok(settled, 'the call finished once the fake clock passed Retry-After');
      const out = await second;
      assert.ok(out.text.length > 0);
      const logged = sandbox.requests.filter('openai');
      assert.deepEqual(
        logged.map((r) => r.status),
        [200, 429, 200],
      );
      assert.ok(
        logged[2]!.timestamp - logged[1]!.timestamp >= 60_000,
        'the retry waited at least Retry-After',
      );
    } finally {
      await Promise.all([ai.close(), other.close()]);
      await sandbox.close();
    }
  });
});

describe('validateHighlights', () => {
  const segments = [
    { start: 0, end: 30, text: 'a' },
    { start: 30, end: 100, text: 'b' },
  ];
  const clip = (start: number, end: number, score = 0.5, title = `${start}-${end}`): ClipCandidate => ({
    start,
    end,
    title,
    caption: title,
    score,
  });
  const limits = { count: 5, minClipMs: 10_000, maxClipMs: 30_000 };

  it('keeps the better of two overlapping clips and drops the other with a reason', () => {
    const r = validateHighlights([clip(0, 20, 0.4), clip(10, 30, 0.9)], segments, limits);
    assert.deepEqual(
      r.clips.map((c) => [c.start, c.end]),
      [[10, 30]],
    );
    assert.deepEqual(
      r.dropped.map((d) => d.reason),
      ['overlaps_better_clip'],
    );
  });

  it('clamps to the transcript, shortens to max, extends to min, drops what cannot fit', () => {
    const r = validateHighlights(
      [clip(90, 120), clip(40, 90), clip(50, 52), clip(150, 160), clip(Number.NaN, 5)],
      segments,
      { count: 5, minClipMs: 10_000, maxClipMs: 30_000 },
    );
    assert.deepEqual(
      r.clips.map((c) => [c.start, c.end]),
      [
        [40, 70],
        [90, 100],
      ].sort((a, b) => a[0]! - b[0]!),
    );
    const reasons = r.adjusted.map((a) => a.reason);
    assert.ok(reasons.includes('clamped_to_transcript'));
    assert.ok(reasons.includes('shortened_to_max'));
    assert.deepEqual(r.dropped.map((d) => d.reason).sort(), [
      'not_finite',
      'outside_transcript',
      'overlaps_better_clip',
    ]);
  });

  it('drops clips beyond the requested count, lowest score first', () => {
    const r = validateHighlights([clip(0, 10, 0.1), clip(20, 30, 0.9), clip(40, 50, 0.5)], segments, {
      ...limits,
      count: 2,
    });
    assert.deepEqual(
      r.clips.map((c) => c.score),
      [0.9, 0.5],
    );
    assert.deepEqual(
      r.dropped.map((d) => [d.reason, d.candidate.score]),
      [['beyond_count', 0.1]],
    );
  });
});
