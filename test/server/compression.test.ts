import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import zlib, { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { HttpClient } from '../../src/http/index.js';
import type { OpusServer } from '../../src/server/index.js';
import { API_KEY, openService, type ServiceFixture, serviceServer, youtubeUrl } from './helpers.js';

const auth = { 'x-api-key': API_KEY };

describe('response compression', () => {
  let fx: ServiceFixture;
  let server: OpusServer;

  before(async () => {
    fx = await openService();
    server = await serviceServer(fx);
    for (let i = 0; i < 30; i++) {
      await fx.store.createVideo({
        url: youtubeUrl(),
        title: `a long enough title for video ${i}`,
        status: 'completed',
      });
    }
  });
  after(async () => {
    await server?.close();
    await fx?.dispose();
  });

  it('compresses a JSON answer in the encoding the client accepts, to the same JSON', async () => {
    const url = '/api/videos?limit=100';
    const plain = await server.app.inject({ method: 'GET', url, headers: auth });
    assert.equal(plain.statusCode, 200);
    assert.equal(plain.headers['content-encoding'], undefined);
    for (const [encoding, decode] of [
      ['br', brotliDecompressSync],
      ['gzip', gunzipSync],
    ] as const) {
      const res = await server.app.inject({
        method: 'GET',
        url,
        headers: { ...auth, 'accept-encoding': encoding },
      });
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['content-encoding'], encoding);
      assert.match(String(res.headers.vary), /accept-encoding/i);
      assert.ok(res.rawPayload.length < plain.rawPayload.length / 2, `${encoding} is smaller`);
      assert.deepEqual(JSON.parse(decode(res.rawPayload).toString('utf8')), plain.json());
    }
  });

  it('leaves tiny answers as they are, and /metrics readable compressed or not', async () => {
    const health = await server.app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { 'accept-encoding': 'br' },
    });
    assert.equal(health.statusCode, 200);
    assert.equal(health.headers['content-encoding'], undefined);
    assert.equal(health.json().status, 'ok');

    const metrics = await server.app.inject({
      method: 'GET',
      url: '/metrics',
      headers: { ...auth, 'accept-encoding': 'gzip' },
    });
    assert.equal(metrics.statusCode, 200);
    assert.equal(metrics.headers['content-encoding'], 'gzip');
    assert.match(gunzipSync(metrics.rawPayload).toString('utf8'), /^# HELP /m);
    const plain = await server.app.inject({ method: 'GET', url: '/metrics', headers: auth });
    assert.match(plain.body, /^# HELP /m);
  });

  it('serves the project HttpClient compressed over a real connection', async () => {
    const base = await server.listen();
    const client = new HttpClient({ service: 'self', baseUrl: base, headers: auth });
    try {
      const res = await client.get('api/videos', { params: { limit: 100 } });
      // The client asks for zstd where the runtime decodes it (Node 24), and the service prefers it there.
      const zstd = typeof (zlib as { zstdCompressSync?: unknown }).zstdCompressSync === 'function';
      assert.equal(res.headers['content-encoding'], zstd ? 'zstd' : 'br');
      assert.equal((res.data as { items: unknown[] }).items.length >= 30, true);
    } finally {
      await client.close();
    }
  });
});
