import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import zlib, { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { ACCEPT_ENCODING } from '../../src/http/content-encodings.js';
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
      ['deflate', deflateRawSync(text)],
      ['br', brotliCompressSync(text)],
      ['identity', Buffer.from(text)],
    ] as const) {
      assert.equal(await decodeBody([packed], encoding, 'text'), text, encoding);
    }
    await assert.rejects(async () => decodeBody([Buffer.from('x')], 'compress', 'text'), /compress/);
  });

  it('decodes zstd and asks for it exactly where the runtime has it', async () => {
    const compress = (zlib as { zstdCompressSync?: (b: Buffer) => Buffer }).zstdCompressSync;
    const text = 'zstd '.repeat(40);
    if (compress) {
      assert.equal(ACCEPT_ENCODING, 'gzip, deflate, br, zstd');
      assert.equal(await decodeBody([compress(Buffer.from(text))], 'zstd', 'text'), text);
    } else {
      assert.equal(ACCEPT_ENCODING, 'gzip, deflate, br');
      await assert.rejects(async () => decodeBody([Buffer.from('x')], 'zstd', 'text'), /zstd/);
    }
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
