import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { type ApiClients, createApiClients, sandboxBaseUrls } from '../../src/apis/index.js';
import { HttpErrorCode } from '../../src/http/index.js';
import { RetryBudget } from '../../src/resilience/index.js';
import type { Sandbox } from '../../src/sandbox/index.js';
import { assertNoSecrets, capturingLogger, caught, dumpError, KEYS, startSandbox } from './support.js';

const ids = (n: number): string[] =>
  Array.from({ length: n }, (_, i) => `chaos${String(i).padStart(6, '0')}`);

describe('createApiClients and sandboxBaseUrls', () => {
  it('sandboxBaseUrls gives the sandbox base URLs, whatever the trailing slash', async () => {
    const sandbox = await startSandbox();
    try {
      assert.deepEqual(sandboxBaseUrls(sandbox.url), sandbox.baseUrls);
      assert.deepEqual(sandboxBaseUrls(`${sandbox.url}/`), sandbox.baseUrls);
      const apis = createApiClients({
        baseUrls: sandboxBaseUrls(sandbox.url),
        youtube: { apiKey: KEYS.youtube },
        elevenlabs: { apiKey: KEYS.elevenlabs },
      });
      assert.equal(apis.openai, undefined, 'only configured vendors are built');
      assert.equal((await apis.youtube!.getVideoInfo('dQw4w9WgXcQ')).id, 'dQw4w9WgXcQ');
      assert.ok((await apis.elevenlabs!.getAvailableVoices()).length > 0);
      await apis.close();
    } finally {
      await sandbox.close();
    }
  });
});

describe('chaos, batches and secrets', () => {
  let sandbox: Sandbox;
  let apis: ApiClients;
  const logger = capturingLogger();
  const build = (extra: Parameters<typeof createApiClients>[0]['http'] = {}): ApiClients =>
    createApiClients({
      baseUrls: sandboxBaseUrls(sandbox.url),
      http: { retryDelayMs: 5, maxRetryDelayMs: 50, attemptTimeoutMs: 1_500, logger, ...extra },
      youtube: { apiKey: KEYS.youtube, retryBudget: new RetryBudget({ minRetries: 1_000 }) },
      openai: { apiKey: KEYS.openai, retryBudget: new RetryBudget({ minRetries: 1_000 }) },
      stability: { apiKey: KEYS.stability, retryBudget: new RetryBudget({ minRetries: 1_000 }) },
      elevenlabs: { apiKey: KEYS.elevenlabs, retryBudget: new RetryBudget({ minRetries: 1_000 }) },
    });

  before(async () => {
    sandbox = await startSandbox({
      config: { elevenlabs: { msPerCharacter: 1 }, chaos: { slowBodyMs: 100 } },
    });
  });
  beforeEach(async () => {
    sandbox.reset();
    await apis?.close();
    apis = build();
  });
  after(async () => {
    await apis.close();
    await sandbox.close();
  });

  it('a chaos run with 20 % failures (errors, resets, hangs, truncated and slow bodies) completes through retries', async () => {
    await apis.close();
    apis = build({ attemptTimeoutMs: 400, maxRetries: 6 });
    Object.assign(sandbox.config.chaos, { errorRate: 0.2, seed: 42 });
    sandbox.config.chaos.vendors = ['youtube', 'openai', 'stability'];
    const yt = apis.youtube!;
    const videos = await yt.getVideosInfo(ids(120));
    assert.ok(videos.every((r) => r.ok));
    for (const id of ids(12)) assert.equal((await yt.getVideoInfo(id)).id, id);
    let pages = 0;
    for await (const _page of yt.searchVideoPages('chaos test', { maxResults: 10, maxPages: 3 })) pages++;
    assert.equal(pages, 3);
    for (let i = 0; i < 8; i++) assert.ok((await apis.openai!.generateText(`question ${i}`)).text.length > 0);
    for (let i = 0; i < 4; i++) {
      const image = await apis.stability!.generateImage(`picture ${i}`);
      assert.equal(image.image.subarray(-8).toString('hex'), '49454e44ae426082', 'a complete PNG');
    }
    // Audio cannot be checked for truncation, so ElevenLabs gets the transport faults only.
    sandbox.config.chaos.vendors = ['elevenlabs'];
    sandbox.config.chaos.modes = ['error', 'reset', 'timeout'];
    for (let i = 0; i < 6; i++)
      assert.ok((await apis.elevenlabs!.textToSpeech(`line ${i}.`)).audio.length > 0);
    const log = sandbox.requests.all();
    const hit = log.filter((r) => r.chaos !== undefined);
    assert.ok(hit.length >= 8, `${hit.length} of ${log.length} requests met chaos`);
    const kinds = new Set(hit.map((r) => r.chaos));
    assert.ok(kinds.size >= 3, `several kinds of fault were met: ${[...kinds].join(', ')} (${hit.length})`);
    assertNoSecrets(logger.lines.join('\n'));
  });

  it('truncated and slow bodies (half of all answers) are retried until whole', async () => {
    Object.assign(sandbox.config.chaos, { errorRate: 0.5, seed: 7, modes: ['malformed', 'slow'] });
    sandbox.config.chaos.vendors = ['youtube', 'openai', 'stability'];
    for (const id of ids(6)) assert.equal((await apis.youtube!.getVideoInfo(id)).id, id);
    for (let i = 0; i < 4; i++) assert.ok((await apis.openai!.generateText(`q ${i}`)).text.length > 0);
    for (let i = 0; i < 3; i++) {
      const image = await apis.stability!.generateImage(`p ${i}`);
      assert.equal(image.image.subarray(-8).toString('hex'), '49454e44ae426082', 'a complete PNG');
    }
    const hit = sandbox.requests.all().filter((r) => r.chaos !== undefined);
    assert.ok(hit.filter((r) => r.chaos === 'malformed').length >= 2, 'truncated bodies were met');
    assert.ok(
      hit.some((r) => r.chaos === 'slow'),
      'slow bodies were met',
    );
  });

  it('batchGetVideoInfo reports a typed error per id when a later chunk fails, never a shorter list', async () => {
    sandbox.config.youtube.dailyQuotaUnits = 1;
    const wanted = ids(80);
    wanted[3] = 'missing0003';
    const results = await apis.youtube!.batchGetVideoInfo(wanted, { concurrency: 1 });
    assert.equal(results.length, 80);
    results.slice(0, 50).forEach((r, i) => {
      assert.equal(r.ok, i !== 3, `index ${i}`);
    });
    const first = results[3]!;
    assert.ok(!first.ok && first.error.code === 'ERR_API_NOT_FOUND');
    for (const r of results.slice(50)) {
      assert.ok(!r.ok);
      assert.equal(r.error.code, HttpErrorCode.QuotaExhausted);
    }
  });

  it('batchGenerateCaptions reports results and typed errors per transcript, in order', async () => {
    const transcript = 'We walked the cliffs at dawn. The sea was calm. Gulls followed us home.';
    // Measure one call's tokens, then give the account room for exactly two.
    await apis.openai!.generateCaptions(transcript, { count: 2 });
    const tokens = (await apis.openai!.quotaUsage()).find((w) => w.name === 'tokens')!.used;
    sandbox.reset();
    await apis.close();
    apis = build();
    sandbox.config.openai.quotaTokens = 2 * tokens;
    const results = await apis.openai!.batchGenerateCaptions(
      [transcript, transcript, transcript, transcript],
      {
        count: 2,
        concurrency: 1,
      },
    );
    assert.deepEqual(
      results.map((r) => (r.ok ? 'ok' : r.error.code)),
      ['ok', 'ok', HttpErrorCode.QuotaExhausted, HttpErrorCode.QuotaExhausted],
    );
    assert.equal(
      sandbox.requests.filter('openai').length,
      3,
      'the fourth was refused locally (budget paused)',
    );
    const first = results[0]!;
    assert.ok(first.ok && first.value.length === 2);
  });

  it('no API key appears in errors, logs or metrics, whatever fails', async () => {
    const bad = createApiClients({
      baseUrls: sandboxBaseUrls(sandbox.url),
      http: { retryDelayMs: 5, maxRetryDelayMs: 20, logger, maxRetries: 1 },
      youtube: { apiKey: `${KEYS.youtube}-x`, keyIn: 'query', oauthToken: `${KEYS.youtubeOAuth}-x` },
      openai: { apiKey: `${KEYS.openai}-x` },
      stability: { apiKey: `${KEYS.stability}-x` },
      elevenlabs: { apiKey: `${KEYS.elevenlabs}-x` },
    });
    try {
      const errors = [
        await caught(bad.youtube!.getVideoInfo('dQw4w9WgXcQ')),
        await caught(bad.youtube!.listCaptions('dQw4w9WgXcQ')),
        await caught(bad.openai!.generateText('x')),
        await caught(bad.stability!.generateImage('x')),
        await caught(bad.elevenlabs!.textToSpeech('x')),
      ];
      Object.assign(sandbox.config.chaos, { errorRate: 1, modes: ['error', 'reset'] });
      errors.push(await caught(apis.youtube!.getVideoInfo('dQw4w9WgXcQ')));
      errors.push(await caught(apis.openai!.generateText('x', { retries: 1 })));
      assert.deepEqual(
        errors.slice(0, 5).map((e) => e.code),
        [
          HttpErrorCode.BadRequest,
          HttpErrorCode.Unauthorized,
          HttpErrorCode.Unauthorized,
          HttpErrorCode.Unauthorized,
          HttpErrorCode.Unauthorized,
        ],
      );
      for (const e of errors) assertNoSecrets(dumpError(e));
      assertNoSecrets(logger.lines.join('\n'));
      const metrics = await Promise.all([
        apis.youtube!.getApiMetrics(),
        apis.openai!.getApiMetrics(),
        bad.stability!.getApiMetrics(),
        bad.elevenlabs!.getApiMetrics(),
      ]);
      assertNoSecrets(JSON.stringify(metrics));
      assert.ok(metrics[0].failedRequests >= 1);
    } finally {
      await bad.close();
    }
  });
});
