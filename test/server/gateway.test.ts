import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { request } from 'undici';
import { type GatewayFixture, openGateway, SERVICE_KEYS, VENDOR_KEYS } from './gateway-helpers.js';
import { promtoolCheck } from './helpers.js';

const VOICE = '21m00Tcm4TlvDq8ikWAM';

/** Every vendor key, so a test can say none of them appears anywhere. */
function assertNoVendorKey(text: string, where: string): void {
  for (const key of Object.values(VENDOR_KEYS)) assert.ok(!text.includes(key), `${where} leaks a vendor key`);
}

describe('vendor gateway', () => {
  let f: GatewayFixture;
  const seen: string[] = [];

  before(async () => {
    f = await openGateway();
  });
  after(async () => {
    await f?.close();
  });

  /** A raw call to the gateway; the answer's headers and body are kept for the leak check. */
  const call = async (
    method: 'GET' | 'POST',
    path: string,
    options: { key?: string; body?: unknown; headers?: Record<string, string> } = {},
  ) => {
    const res = await request(`${f.url}${path}`, {
      method,
      headers: {
        ...(options.key === undefined ? {} : { authorization: `Bearer ${options.key}` }),
        ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...options.headers,
      },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    });
    const bytes = Buffer.from(await res.body.arrayBuffer());
    seen.push(JSON.stringify(res.headers), bytes.toString('latin1'));
    return { status: res.statusCode, headers: res.headers, bytes, json: () => JSON.parse(bytes.toString()) };
  };

  it('answers the official openai SDK pointed at it, with the vendor key swapped in', async () => {
    const client = new OpenAI({
      apiKey: SERVICE_KEYS[0]!,
      baseURL: `${f.url}/gateway/openai/v1`,
      maxRetries: 0,
    });
    const completion = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Say hello' }],
    });
    assert.equal(completion.object, 'chat.completion');
    assert.ok(completion.choices[0]?.message.content, 'a message came back');
    assert.ok((completion.usage?.total_tokens ?? 0) > 0);
    // The sandbox accepts only the vendor key: it answered 200, so the service key did not reach it.
    const forwarded = f.sandbox.requests.filter({ vendor: 'openai', method: 'POST' });
    assert.equal(forwarded.at(-1)?.status, 200);
    // The account's budget was charged the tokens the answer reports.
    const usage = await f.gateway.vendors.get('openai')!.http.getApiMetrics();
    const tokens = usage.quota.find((q) => q.name === 'tokens');
    assert.equal(tokens?.used, completion.usage?.total_tokens);
  });

  it('passes a vendor error through in its own shape (the SDK reads it)', async () => {
    const client = new OpenAI({
      apiKey: SERVICE_KEYS[1]!,
      baseURL: `${f.url}/gateway/openai/v1`,
      maxRetries: 0,
    });
    await assert.rejects(
      client.chat.completions.create({ model: 'gpt-4o-mini', messages: [] }),
      (error: unknown) => error instanceof OpenAI.BadRequestError && /messages/.test(error.message),
    );
  });

  it('keeps a binary answer (ElevenLabs audio) byte for byte, with its content type', async () => {
    const body = { text: 'Binary bytes through the gateway.', model_id: 'eleven_multilingual_v2' };
    const through = await call('POST', `/gateway/elevenlabs/v1/text-to-speech/${VOICE}`, {
      key: SERVICE_KEYS[0]!,
      body,
    });
    assert.equal(through.status, 200);
    assert.match(String(through.headers['content-type']), /^audio\/mpeg/);
    const direct = await request(`${f.sandbox.url}/elevenlabs/v1/text-to-speech/${VOICE}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'xi-api-key': VENDOR_KEYS.elevenlabs },
      body: JSON.stringify(body),
    });
    const directBytes = Buffer.from(await direct.body.arrayBuffer());
    assert.ok(directBytes.length > 1000);
    assert.ok(through.bytes.equals(directBytes), 'the same bytes as a direct call');
  });

  it('serves YouTube with the key as a query parameter, and caches a repeated list', async () => {
    const path = '/gateway/youtube/youtube/v3/videos?part=snippet&id=dQw4w9WgXcQ';
    // The googleapis clients send their key as `key=`: the service key works there too, and is not forwarded.
    const first = await call('GET', `${path}&key=${SERVICE_KEYS[2]!}`);
    assert.equal(first.status, 200, first.bytes.toString());
    assert.equal(first.json().kind, 'youtube#videoListResponse');
    assert.equal(first.headers['x-gateway-cache'], 'miss');
    const second = await call('GET', path, { key: SERVICE_KEYS[2]! });
    assert.equal(second.headers['x-gateway-cache'], 'hit');
    const calls = f.sandbox.requests.filter({ vendor: 'youtube', path: '/youtube/youtube/v3/videos' });
    assert.equal(calls.length, 1, 'the second answer came from the cache');
    assert.deepEqual(calls[0]?.query.key, '***');
  });

  it('refuses a call without a valid service key (401, the service error shape)', async () => {
    for (const key of [undefined, VENDOR_KEYS.openai]) {
      const res = await call('POST', '/gateway/openai/v1/chat/completions', {
        ...(key ? { key } : {}),
        body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] },
      });
      assert.equal(res.status, 401);
      assert.equal(res.json().code, 'ERR_SERVER_UNAUTHORIZED');
    }
  });

  it('answers 404 in the service error shape for an unknown vendor', async () => {
    const res = await call('GET', '/gateway/acme/v1/things', { key: SERVICE_KEYS[0]! });
    assert.equal(res.status, 404);
    const body = res.json();
    assert.equal(body.code, 'ERR_SERVER_NOT_FOUND');
    assert.equal(body.field, 'vendor');
    assert.equal(typeof body.requestId, 'string');
  });

  it('refuses a path that climbs out of the vendor API', async () => {
    // A path given apart is sent as written (a URL string would have its dots resolved before sending).
    for (const path of [
      '/gateway/openai/v1/%2e%2e/%2E%2E/youtube/v3/videos',
      '/gateway/openai/v1/a%2f..%2f..',
    ]) {
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const { hostname, port } = new URL(f.url);
        const req = httpRequest({
          hostname,
          port,
          path,
          headers: { authorization: `Bearer ${SERVICE_KEYS[0]!}` },
        });
        req.on('response', (res) => {
          let body = '';
          res.on('data', (d) => {
            body += String(d);
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(answer.status, 400, answer.body);
      assert.equal(JSON.parse(answer.body).field, 'url');
    }
  });

  it('counts requests per caller fingerprint, vendor and status class in /metrics', async () => {
    const res = await call('GET', '/metrics', { key: SERVICE_KEYS[0]! });
    const text = res.bytes.toString();
    assert.match(
      text,
      /opusclip_gateway_requests_total\{caller="[A-Za-z0-9_-]{12}",vendor="openai",status_class="2xx"\} 1/,
    );
    assert.match(
      text,
      /opusclip_gateway_requests_total\{caller="unauthenticated",vendor="openai",status_class="4xx"\} 2/,
    );
    assert.match(text, /vendor="unknown",status_class="4xx"/);
    for (const key of SERVICE_KEYS) assert.ok(!text.includes(key), 'no service key in a label');
    assert.match(text, /opusclip_http_client_requests_total\{[^}]*service="gateway-openai"/);
    const lint = await promtoolCheck(text);
    assert.equal(lint.output.trim(), '', lint.output);
    assert.equal(lint.code, 0, lint.output);
  });

  it('never lets a vendor key out: answers, headers, metrics or log lines', () => {
    assert.ok(seen.length > 10);
    for (const text of seen) assertNoVendorKey(text, 'an answer');
    assert.ok(f.logLines.length > 5);
    for (const line of f.logLines) assertNoVendorKey(line, 'a log line');
  });
});

describe('vendor gateway: per-caller limit', () => {
  let f: GatewayFixture;
  before(async () => {
    f = await openGateway({ gateway: { callerRequestsPerMinute: 2 } });
  });
  after(async () => {
    await f?.close();
  });

  it('answers a caller over its limit 429 with Retry-After, which the openai SDK reads as a rate limit', async () => {
    const client = new OpenAI({
      apiKey: SERVICE_KEYS[0]!,
      baseURL: `${f.url}/gateway/openai/v1`,
      maxRetries: 0,
    });
    const ask = () =>
      client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    await ask();
    await ask();
    await assert.rejects(ask(), (error: unknown) => {
      assert.ok(error instanceof OpenAI.RateLimitError);
      assert.equal(error.status, 429);
      assert.equal(error.code, 'ERR_SERVER_GATEWAY_CALLER_LIMITED');
      const retryAfter = Number(error.headers?.get('retry-after'));
      assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
      return true;
    });
    // Another caller has its own allowance.
    const other = new OpenAI({
      apiKey: SERVICE_KEYS[1]!,
      baseURL: `${f.url}/gateway/openai/v1`,
      maxRetries: 0,
    });
    const ok = await other.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(ok.object, 'chat.completion');
    assert.equal(f.sandbox.requests.filter({ vendor: 'openai', method: 'POST' }).length, 3);
  });
});
