import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeParams } from '../../src/http/params.js';

describe('encodeParams', () => {
  it('passes plain ids through, sorts keys and leaves out null and undefined', () => {
    assert.equal(
      encodeParams({ part: 'snippet', id: 'dQw4w9WgXcQ', a: null, b: undefined }),
      'id=dQw4w9WgXcQ&part=snippet',
    );
  });

  it('form-encodes everything else the way URLSearchParams decodes it back', () => {
    const params = { q: 'cats & dogs = 100%?', näme: 'ünïcødé 🎬', path: '/a/b#c', plus: 'a+b' };
    const encoded = encodeParams(params);
    assert.ok(!encoded.includes(' '), encoded);
    assert.ok(encoded.includes('q=cats+%26+dogs+%3D+100%25%3F'), encoded);
    const back = new URLSearchParams(encoded);
    for (const [k, v] of Object.entries(params)) assert.equal(back.get(k), v);
  });

  it('repeats or comma-joins arrays, and writes dates as ISO strings', () => {
    const at = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));
    assert.equal(encodeParams({ id: ['a', 'b c', null], at }), 'at=2026-01-02T03%3A04%3A05.000Z&id=a&id=b+c');
    assert.equal(encodeParams({ id: ['a', 'b'] }, 'comma'), 'id=a%2Cb');
    assert.equal(encodeParams({ id: [] }), '');
  });
});
