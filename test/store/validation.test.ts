import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isOpusError } from '../../src/core/index.js';
import { validate } from '../../src/store/validation.js';

/**
 * Clips, videos and statuses are checked by hand first (zod only explains a failure): these cases pin
 * the hand-written rules to the documented ones, on both sides of each bound.
 */
function outcome(fn: () => unknown): 'ok' | string {
  try {
    fn();
    return 'ok';
  } catch (error) {
    assert.ok(isOpusError(error), `not a typed error: ${String(error)}`);
    assert.equal(error.code, 'ERR_STORE_INVALID_INPUT');
    return error.message;
  }
}

describe('store input validation', () => {
  it('clips: accepts what the rules allow and refuses the rest with a message naming the field', () => {
    const ok = { startTime: 0, endTime: 5 };
    const cases: Array<[unknown, 'ok' | RegExp]> = [
      [ok, 'ok'],
      [{ ...ok, startTime: 1.5, endTime: 1.5000001 }, 'ok'],
      [{ ...ok, title: 'x'.repeat(1000), caption: null, score: -3, effects: { any: ['json', 1] } }, 'ok'],
      [{ ...ok, filePath: 'a'.repeat(4096), thumbnailPath: null, narrationPath: undefined }, 'ok'],
      [{ ...ok, startTime: -0.001 }, /startTime/],
      [{ ...ok, endTime: 0 }, /endTime must be greater than startTime/],
      [{ ...ok, startTime: 5, endTime: 5 }, /endTime must be greater/],
      [{ ...ok, startTime: Number.NaN }, /startTime/],
      [{ ...ok, endTime: Number.POSITIVE_INFINITY }, /endTime/],
      [{ ...ok, score: Number.NaN }, /score/],
      [{ ...ok, score: '1' }, /score/],
      [{ ...ok, title: 'x'.repeat(1001) }, /title/],
      [{ ...ok, caption: 'a\0b' }, /caption.*NUL/],
      [{ ...ok, filePath: 'a'.repeat(4097) }, /filePath/],
      [{ ...ok, narrationPath: 7 }, /narrationPath/],
      [{ ...ok, extra: 1 }, /extra|Unrecognized/i],
      [{ startTime: 0 }, /endTime/],
      [[0, 5], /Invalid clip/],
      [null, /Invalid clip/],
    ];
    for (const [input, expected] of cases) {
      const got = outcome(() => validate.clip(input));
      if (expected === 'ok') assert.equal(got, 'ok', `${JSON.stringify(input)?.slice(0, 80)}: ${got}`);
      else assert.match(got, expected, JSON.stringify(input)?.slice(0, 80));
    }
  });

  it('videos and statuses: the same, at the bounds', () => {
    const cases: Array<[unknown, 'ok' | RegExp]> = [
      [{ url: 'https://youtu.be/x', duration: 0, viewCount: 0, publishedAt: new Date(0) }, 'ok'],
      [{ url: 'u', channelId: 'c'.repeat(128), status: 'failed' }, 'ok'],
      [{ url: 'u', channelId: 'c'.repeat(129) }, /channelId/],
      [{ url: 'u', duration: -1 }, /duration/],
      [{ url: 'u', viewCount: 1.5 }, /viewCount/],
      [{ url: 'u', publishedAt: new Date(Number.NaN) }, /publishedAt/],
      [{ url: 'u', status: 'archived' }, /status/],
      [{ url: 'u'.repeat(8193) }, /url/],
      [{ title: 't' }, /url/],
    ];
    for (const [input, expected] of cases) {
      const got = outcome(() => validate.video(input));
      if (expected === 'ok') assert.equal(got, 'ok', got);
      else assert.match(got, expected);
    }
    assert.equal(validate.videoStatus('processing'), 'processing');
    for (const bad of ['Processing', 'archived', '', null, 3]) {
      assert.match(
        outcome(() => validate.videoStatus(bad)),
        /Invalid video status/,
      );
    }
  });
});
