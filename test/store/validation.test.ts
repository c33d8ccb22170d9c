import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isOpusError } from '../../src/core/index.js';
import { STORE_LIMITS, toJsonText, validate } from '../../src/store/validation.js';

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

  it('text and dates every dialect stores alike; the error names the field in details.field', () => {
    const cases: Array<[unknown, 'ok' | string]> = [
      [{ url: 'u', title: 'a😀b' }, 'ok'],
      [{ url: 'u', title: 'a\uD800b' }, 'title'],
      [{ url: 'u', description: '\uDC00' }, 'description'],
      [{ url: 'u\uDBFF' }, 'url'],
      [{ url: 'u', channelTitle: 'x\0' }, 'channelTitle'],
      [{ url: 'u', publishedAt: new Date(STORE_LIMITS.minDate) }, 'ok'],
      [{ url: 'u', publishedAt: new Date(STORE_LIMITS.maxDate) }, 'ok'],
      [{ url: 'u', publishedAt: new Date(STORE_LIMITS.minDate - 1) }, 'publishedAt'],
      [{ url: 'u', publishedAt: new Date(STORE_LIMITS.maxDate + 1) }, 'publishedAt'],
      [{ url: 'u', viewCount: 2 ** 53 }, 'viewCount'],
      [{ url: 'u', bogus: 1 }, 'bogus'],
    ];
    for (const [input, expected] of cases) {
      let field: unknown = 'ok';
      try {
        validate.video(input);
      } catch (error) {
        assert.ok(isOpusError(error, 'ERR_STORE_INVALID_INPUT'), String(error));
        field = error.details.field;
      }
      assert.equal(field, expected, JSON.stringify(input));
    }
    assert.equal(validate.text('w1 ', 'worker id', 255, 'workerId'), 'w1 ');
    assert.throws(
      () => validate.text('w\uD800', 'worker id', 255, 'workerId'),
      (e: unknown) => isOpusError(e) && e.details.field === 'workerId' && /worker id/.test(e.message),
    );
    assert.throws(
      () => validate.date(new Date(-62135596800000), 'runAfter'),
      (e: unknown) => isOpusError(e) && e.details.field === 'runAfter' && /1000-01-01/.test(e.message),
    );
  });

  it('JSON: escapes are read as JSON.stringify writes them, nesting and size are bounded', () => {
    const json = (v: unknown): string => {
      try {
        return toJsonText(v, 'clip #1 effects', 'effects') ?? 'null';
      } catch (error) {
        assert.ok(isOpusError(error, 'ERR_STORE_INVALID_INPUT'));
        assert.equal(error.details.field, 'effects');
        assert.match(error.message, /^Invalid clip #1 effects: /);
        return `refused: ${error.message}`;
      }
    };
    const nest = (n: number): unknown => (n === 0 ? 0 : [nest(n - 1)]);
    // A backslash before "u0000" in the text is an escaped backslash, not an escape.
    assert.equal(json({ a: '\\u0000' }), '{"a":"\\\\u0000"}');
    assert.equal(json(['\\ud800', '😀']), '["\\\\ud800","😀"]');
    assert.match(json({ a: '\\\0' }), /NUL/);
    assert.match(json({ a: '\uD800' }), /unpaired/);
    assert.match(json({ '\uDFFF': 1 }), /unpaired/);
    assert.equal(json(nest(STORE_LIMITS.jsonDepth)), JSON.stringify(nest(STORE_LIMITS.jsonDepth)));
    assert.match(json(nest(STORE_LIMITS.jsonDepth + 1)), /deeper than 31/);
    // Brackets inside strings do not count.
    assert.equal(json('['.repeat(100)), JSON.stringify('['.repeat(100)));
    assert.match(json('x'.repeat(STORE_LIMITS.jsonBytes)), /at most 4194304 bytes/);
    assert.match(json(10n), /not JSON-serialisable/);
    assert.match(
      json(() => 1),
      /not JSON-serialisable/,
    );
    assert.equal(json(undefined), 'null');
    assert.equal(json(-0), '0');
  });
});
