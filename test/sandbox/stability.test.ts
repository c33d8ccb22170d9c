import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { imageSize } from '../../src/sandbox/images.js';
import { createSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { FakeClock } from '../../src/testing/index.js';
import { assertContract, type Call, call, jsonInit } from './helpers.js';

const AUTH = { authorization: 'Bearer sk-stab-1234' };
const V2 = '/stability/v2beta/stable-image/generate';
const V1_SDXL = '/stability/v1/generation/stable-diffusion-xl-1024-v1-0/text-to-image';

function form(fields: Record<string, string>): FormData {
  const fd = new FormData();
  for (const [k, v] of Object.entries(fields)) fd.set(k, v);
  return fd;
}

describe('sandbox: Stability AI', () => {
  let sb: Sandbox;
  const generate = async (
    endpoint: string,
    fields: Record<string, string>,
    accept = 'image/*',
  ): Promise<Call> => {
    const res = await call(sb.url, 'POST', `${V2}/${endpoint}`, {
      headers: { ...AUTH, accept },
      body: form(fields),
    });
    assertContract('stability', 'POST', `${V2}/${endpoint}`, res);
    return res;
  };

  before(async () => {
    sb = await createSandbox({ keys: { stability: ['sk-stab-1234'] } });
  });
  after(async () => {
    await sb.close();
  });

  it('generates PNG, JPEG and WebP images whose decoded size has the requested aspect ratio', async () => {
    const cases: Array<[string, string, string]> = [
      ['core', 'png', '16:9'],
      ['core', 'jpeg', '9:16'],
      ['core', 'webp', '21:9'],
      ['ultra', 'webp', '4:5'],
      ['ultra', 'jpeg', '3:2'],
      ['sd3', 'png', '1:1'],
      ['sd3', 'jpeg', '2:3'],
    ];
    for (const [endpoint, format, ratio] of cases) {
      const res = await generate(endpoint, {
        prompt: 'a lighthouse',
        output_format: format,
        aspect_ratio: ratio,
      });
      assert.equal(res.status, 200, `${endpoint} ${format}`);
      assert.equal(res.contentType, `image/${format}`);
      const size = imageSize(res.bytes);
      assert.ok(size, `${endpoint} ${format} decodes`);
      assert.equal(size.format, format);
      const [a, b] = ratio.split(':').map(Number) as [number, number];
      assert.equal(size.width * b, size.height * a, `${size.width}x${size.height} is ${ratio}`);
      assert.ok(Math.max(size.width, size.height) <= 128 && Math.max(size.width, size.height) >= 64);
      assert.equal(res.headers.get('finish-reason'), 'SUCCESS');
      assert.match(res.headers.get('seed') ?? '', /^\d+$/);
      assert.ok(res.headers.get('x-request-id'));
    }
  });

  it('answers accept: application/json with base64 JSON and a typed content type', async () => {
    const res = await generate(
      'core',
      { prompt: 'a fox', seed: '42', output_format: 'jpeg' },
      'application/json',
    );
    assert.equal(res.contentType, 'application/json; type=image/jpeg');
    assert.equal(res.json.seed, 42);
    assert.equal(res.json.finish_reason, 'SUCCESS');
    assert.equal(imageSize(Buffer.from(res.json.image, 'base64'))?.format, 'jpeg');
    assert.equal(res.headers.get('finish-reason'), null);
    const filtered = await generate('core', { prompt: 'a fox [filtered]' }, 'application/json');
    assert.equal(filtered.json.finish_reason, 'CONTENT_FILTERED');
  });

  it('rejects bad parameters, moderated prompts and missing or wrong keys with the real bodies', async () => {
    const noPrompt = await generate('core', { aspect_ratio: '1:1' });
    assert.equal(noPrompt.status, 400);
    assert.equal(noPrompt.json.name, 'bad_request');
    const sd3Webp = await generate('sd3', { prompt: 'x', output_format: 'webp' });
    assert.equal(sd3Webp.status, 400);
    const moderated = await generate('ultra', { prompt: '[moderated]' });
    assert.equal(moderated.status, 403);
    assert.equal(moderated.json.name, 'content_moderation');
    const noKey = await call(sb.url, 'POST', `${V2}/core`, { body: form({ prompt: 'x' }) });
    assert.equal(noKey.status, 401);
    assertContract('stability', 'POST', `${V2}/core`, noKey);
    const wrong = await call(sb.url, 'GET', '/stability/v1/user/balance', {
      headers: { authorization: 'Bearer sk-nope' },
    });
    assert.equal(wrong.status, 401);
    assertContract('stability', 'GET', '/stability/v1/user/balance', wrong);
    assert.equal(wrong.json.name, 'unauthorized');
  });

  it('runs v1 text-to-image: SDXL dimension rule, JSON artifacts, PNG bytes and balance', async () => {
    const before = await call(sb.url, 'GET', '/stability/v1/user/balance', { headers: AUTH });
    assertContract('stability', 'GET', '/stability/v1/user/balance', before);
    const bad = await call(
      sb.url,
      'POST',
      V1_SDXL,
      jsonInit({ text_prompts: [{ text: 'x' }], width: 512, height: 512 }, AUTH),
    );
    assert.equal(bad.status, 400);
    assert.equal(bad.json.name, 'invalid_height_or_width');
    assertContract('stability', 'POST', V1_SDXL, bad);
    const ok = await call(
      sb.url,
      'POST',
      V1_SDXL,
      jsonInit({ text_prompts: [{ text: 'a boat' }], width: 1344, height: 768, samples: 2, steps: 30 }, AUTH),
    );
    assert.equal(ok.status, 200);
    assertContract('stability', 'POST', V1_SDXL, ok);
    assert.equal(ok.json.artifacts.length, 2);
    const size = imageSize(Buffer.from(ok.json.artifacts[0].base64, 'base64'));
    assert.equal(size!.width * 768, size!.height * 1344);
    const png = await call(
      sb.url,
      'POST',
      V1_SDXL,
      jsonInit({ text_prompts: [{ text: 'x' }] }, { ...AUTH, accept: 'image/png' }),
    );
    assert.equal(png.contentType, 'image/png');
    assert.equal(imageSize(png.bytes)?.format, 'png');
    const after = await call(sb.url, 'GET', '/stability/v1/user/balance', { headers: AUTH });
    assert.ok(
      Math.abs(before.json.credits - after.json.credits - 2.7) < 1e-9,
      `${before.json.credits} → ${after.json.credits}`,
    );
  });

  it('answers 429 after 150 requests in 10 s', async () => {
    // A FakeClock keeps the 10 s window open however slow the machine is.
    const clock = new FakeClock();
    const limited = await createSandbox({ clock });
    try {
      const statuses: number[] = [];
      for (let batch = 0; batch < 151; batch += 30) {
        const size = Math.min(30, 151 - batch);
        const results = await Promise.all(
          Array.from({ length: size }, () =>
            call(limited.url, 'POST', `${V2}/core`, { headers: AUTH, body: form({}) }),
          ),
        );
        statuses.push(...results.map((r) => r.status));
        const last = results.at(-1)!;
        if (last.status === 429) {
          assert.equal(last.json.name, 'rate_limit_exceeded');
          assertContract('stability', 'POST', `${V2}/core`, last);
        }
      }
      assert.equal(statuses.filter((s) => s === 400).length, 150);
      assert.deepEqual(statuses.slice(150), [429]);
      // Timed out: still 429 after the window has rolled over, until the 60 s timeout ends.
      await clock.advance(30_000);
      const again = await call(limited.url, 'POST', `${V2}/core`, { headers: AUTH, body: form({}) });
      assert.equal(again.status, 429);
      await clock.advance(31_000);
      assert.equal(
        (await call(limited.url, 'POST', `${V2}/core`, { headers: AUTH, body: form({}) })).status,
        400,
      );
    } finally {
      await limited.close();
    }
  });
});
