import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { bodyMode, decodeBody, parseBody, parseErrorBody } from '../../src/http/decode-body.js';

describe('decodeBody', () => {
  it('decodes a plain body synchronously, as text or as a copy of its bytes', () => {
    const chunks = [Buffer.from('\uFEFF{"a":'), Buffer.from('1}')];
    assert.equal(decodeBody(chunks, undefined, 'json'), '{"a":1}');
    const bytes = decodeBody(chunks, undefined, 'bytes');
    assert.ok(Buffer.isBuffer(bytes));
    assert.notEqual(bytes, chunks[0]);
  });

  it('undoes gzip, deflate and br, and refuses an unknown encoding', async () => {
    const text = 'hello '.repeat(50);
    for (const [encoding, packed] of [
      ['gzip', gzipSync(text)],
      ['deflate', deflateSync(text)],
      ['br', brotliCompressSync(text)],
      ['identity', Buffer.from(text)],
    ] as const) {
      assert.equal(await decodeBody([packed], encoding, 'text'), text, encoding);
    }
    await assert.rejects(async () => decodeBody([Buffer.from('x')], 'zstd', 'text'), /zstd/);
  });

  it('chooses the mode from the content type, and parses accordingly', () => {
    assert.equal(bodyMode({ 'content-type': 'application/problem+json' }, 'auto'), 'json');
    assert.equal(bodyMode({ 'content-type': 'text/vtt' }, 'auto'), 'text');
    assert.equal(bodyMode({ 'content-type': 'audio/mpeg' }, 'auto'), 'bytes');
    assert.equal(bodyMode({ 'content-type': 'audio/mpeg' }, 'json'), 'json');
    assert.deepEqual(parseBody('{"a":1}', 'json'), { a: 1 });
    assert.equal(parseBody('', 'json'), undefined);
    assert.throws(() => parseBody('{', 'json'), SyntaxError);
    assert.equal(parseErrorBody('not json'), 'not json');
  });
});
