import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cleanText } from '../../src/pipeline/clean-text.js';
import { validate } from '../../src/store/validation.js';

describe('cleanText: vendor text the store can keep on every dialect', () => {
  it('drops NUL, replaces unpaired surrogates, keeps pairs', () => {
    assert.equal(cleanText('a\u0000b'), 'ab');
    assert.equal(cleanText('x\uD800y'), 'x\uFFFDy');
    assert.equal(cleanText('x\uDC00'), 'x\uFFFD');
    assert.equal(cleanText('smile 😀'), 'smile 😀');
  });

  it('cuts at a code point boundary', () => {
    const text = `${'a'.repeat(999)}😀tail`;
    const cut = cleanText(text, 1000);
    assert.equal(cut, 'a'.repeat(999));
    assert.equal(cleanText('abc', 2), 'ab');
  });

  it('what it returns passes the store validation that refuses the raw text', () => {
    const raw = `title\u0000 with \uD83D lone ${'😀'.repeat(10)}`;
    assert.throws(() => validate.videoPatch({ title: raw }), { code: 'ERR_STORE_INVALID_INPUT' });
    assert.doesNotThrow(() => validate.videoPatch({ title: cleanText(raw) }));
  });
});
