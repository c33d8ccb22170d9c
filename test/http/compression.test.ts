import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import zlib from 'node:zlib';
import { HttpClient } from '../../src/http/index.js';
import { TestServer } from './server.js';

type Compress = (input: Buffer) => Buffer;
const zstdCompress = (zlib as { zstdCompressSync?: Compress }).zstdCompressSync;

const ENCODERS: Record<string, Compress> = {
  gzip: (b) => zlib.gzipSync(b),
  deflate: (b) => zlib.deflateSync(b),
  br: (b) => zlib.brotliCompressSync(b),
  ...(zstdCompress ? { zstd: zstdCompress } : {}),
};

describe('HttpClient response compression', () => {
  const server = new TestServer();
  let client: HttpClient;
  const payload = { items: Array.from({ length: 200 }, (_, i) => ({ id: i, title: `clip ${i}` })) };

  before(async () => {
    // Answers in the encoding named by the path, whatever the client asked for (so each is tested).
    for (const [name, encode] of Object.entries(ENCODERS)) {
      server.route(`/${name}`, (_req, res) => {
        res
          .writeHead(200, { 'content-type': 'application/json', 'content-encoding': name })
          .end(encode(Buffer.from(JSON.stringify(payload))));
      });
    }
    client = new HttpClient({ service: 'compressed', baseUrl: await server.listen() });
  });
  after(async () => {
    await client.close();
    await server.close();
  });

  it('asks for every encoding the runtime decodes, and decodes each', async () => {
    for (const name of Object.keys(ENCODERS)) {
      const response = await client.get(name);
      assert.deepEqual(response.data, payload, name);
    }
    const asked = String(server.requests[0]!.headers['accept-encoding']);
    assert.equal(asked, zstdCompress ? 'gzip, deflate, br, zstd' : 'gzip, deflate, br');
  });
});
