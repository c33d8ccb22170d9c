import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  elevenLabsCharacterCost,
  elevenLabsWindows,
  nextPacificMidnight,
  openAiUsageCost,
  openAiWindows,
  stabilityWindows,
  youtubeCost,
  youtubeQuotaWindows,
} from '../../src/apis/index.js';
import { isOpusError } from '../../src/core/index.js';
import type { HttpResponse } from '../../src/http/index.js';
import { Budget, type QuotaExhaustedError } from '../../src/resilience/index.js';
import { FakeClock } from '../../src/testing/index.js';

describe('YouTube daily quota', () => {
  it('refuses a search.list that would pass the remaining units, and is whole again at Pacific midnight', async () => {
    // 2026-07-15 10:00 UTC = 03:00 PDT; the next Pacific midnight is 2026-07-16 07:00 UTC.
    const clock = new FakeClock(Date.UTC(2026, 6, 15, 10));
    const budget = new Budget({ name: 'youtube', windows: youtubeQuotaWindows(250), clock });
    await (await budget.reserve(youtubeCost('search.list'))).commit();
    await (await budget.reserve(youtubeCost('search.list'))).commit();
    await (await budget.reserve(youtubeCost('captions.list'))).commit();
    await assert.rejects(
      budget.reserve(youtubeCost('search.list'), { deadline: clock.now() + 60_000 }),
      (e) => {
        assert.ok(isOpusError(e, 'ERR_QUOTA_EXHAUSTED'));
        assert.equal((e as QuotaExhaustedError).retryAt, Date.UTC(2026, 6, 16, 7));
        return true;
      },
    );
    await clock.setTime(Date.UTC(2026, 6, 16, 7));
    assert.equal((await budget.usage())[0]!.remaining, 250);
    await budget.reserve(youtubeCost('search.list'));
  });

  it('computes the next Pacific midnight across daylight-saving changes', () => {
    // Evening before DST starts (PST, -8) and the morning after (PDT, -7).
    assert.equal(nextPacificMidnight(Date.UTC(2026, 2, 8, 5)), Date.UTC(2026, 2, 8, 8));
    assert.equal(nextPacificMidnight(Date.UTC(2026, 2, 8, 12)), Date.UTC(2026, 2, 9, 7));
    // DST ends on 2026-11-01: 23:00 PDT the evening before, then a 25-hour day.
    assert.equal(nextPacificMidnight(Date.UTC(2026, 10, 1, 6)), Date.UTC(2026, 10, 1, 7));
    assert.equal(nextPacificMidnight(Date.UTC(2026, 10, 1, 7)), Date.UTC(2026, 10, 2, 8));
    assert.equal(nextPacificMidnight(Date.UTC(2026, 0, 1, 7, 59, 59)), Date.UTC(2026, 0, 1, 8));
  });
});

function response(data: unknown, headers: HttpResponse['headers'] = {}): HttpResponse {
  return {
    status: 200,
    headers,
    data,
    requestId: undefined,
    timing: { totalMs: 0, attempts: 1 },
    fromCache: false,
    stale: false,
  };
}

describe('OpenAI, Stability and ElevenLabs budget rules', () => {
  it('OpenAI: requests and tokens per minute; the actual cost read from a parsed or a text body', () => {
    assert.deepEqual(openAiWindows(500, 200_000), [
      { name: 'requests', limit: 500, windowMs: 60_000 },
      { name: 'tokens', limit: 200_000, windowMs: 60_000 },
    ]);
    assert.deepEqual(openAiUsageCost(response({ usage: { total_tokens: 120 } })), {
      requests: 1,
      tokens: 120,
    });
    assert.deepEqual(openAiUsageCost(response('{"usage":{"total_tokens":7}}')), { requests: 1, tokens: 7 });
    assert.equal(openAiUsageCost(response('{"usage":')), undefined, 'a body cut short has no usage');
    assert.equal(openAiUsageCost(response(null)), undefined);
    assert.equal(openAiUsageCost(response({ usage: {} })), undefined);
  });

  it('Stability: 150 requests per 10 s unless told otherwise', () => {
    assert.deepEqual(stabilityWindows(), [{ name: 'requests', limit: 150, windowMs: 10_000 }]);
    assert.deepEqual(stabilityWindows(10), [{ name: 'requests', limit: 10, windowMs: 10_000 }]);
  });

  it('ElevenLabs: a characters window only with a limit, reset on the first of next month (UTC) by default', () => {
    assert.deepEqual(elevenLabsWindows({ concurrent: 5 }), [
      { name: 'concurrent', kind: 'concurrent', limit: 5 },
    ]);
    const [characters, concurrent] = elevenLabsWindows({ characters: 1_000, concurrent: 2 });
    assert.equal(concurrent?.kind, 'concurrent');
    assert.ok(characters?.kind === 'calendar');
    assert.equal(characters.limit, 1_000);
    assert.equal(characters.nextReset(Date.UTC(2026, 11, 31, 23)), Date.UTC(2027, 0, 1));
    const [custom] = elevenLabsWindows({ characters: 10, nextReset: (now) => now + 5, concurrent: 1 });
    assert.ok(custom?.kind === 'calendar');
    assert.equal(custom.nextReset(100), 105);
  });

  it('ElevenLabs: the actual character cost from the character-cost header', () => {
    assert.deepEqual(elevenLabsCharacterCost(response(undefined, { 'character-cost': '42' })), {
      characters: 42,
    });
    assert.deepEqual(elevenLabsCharacterCost(response(undefined, { 'character-cost': ['7', '8'] })), {
      characters: 7,
    });
    assert.equal(elevenLabsCharacterCost(response(undefined, {})), undefined);
    assert.equal(elevenLabsCharacterCost(response(undefined, { 'character-cost': 'n/a' })), undefined);
    assert.equal(elevenLabsCharacterCost(response(undefined, { 'character-cost': '-1' })), undefined);
  });
});
