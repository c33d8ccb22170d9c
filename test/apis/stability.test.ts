import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ApiErrorCode,
  CreditLedger,
  StabilityClient,
  type StabilityClientOptions,
} from '../../src/apis/index.js';
import { HttpErrorCode } from '../../src/http/index.js';
import type { Sandbox } from '../../src/sandbox/index.js';
import { caught, FAST_RETRIES, KEYS, useSandboxClients } from './support.js';

const PNG_MAGIC = '89504e470d0a1a0a';

describe('StabilityClient against the sandbox', () => {
  let sandbox: Sandbox;
  const client = useSandboxClients<StabilityClient, StabilityClientOptions>(
    (sb, extra) =>
      new StabilityClient({
        apiKey: KEYS.stability,
        baseUrl: sb.baseUrls.stability,
        ...FAST_RETRIES,
        ...extra,
      }),
    (sb) => {
      sandbox = sb;
    },
  );

  it('generateImage (core) posts multipart with accept image/* and returns bytes, seed and finish reason', async () => {
    const st = client();
    const out = await st.generateImage('a lighthouse at dawn', {
      seed: 1234,
      aspectRatio: '1:1',
      negativePrompt: 'fog',
    });
    assert.equal(out.image.subarray(0, 8).toString('hex'), PNG_MAGIC);
    assert.equal(out.contentType, 'image/png');
    assert.equal(out.seed, 1234);
    assert.equal(out.finishReason, 'SUCCESS');
    assert.equal(out.credits, 3);
    assert.equal(out.width, out.height);
    const sent = sandbox.requests.last('stability')!;
    assert.match(sent.headers['content-type']!, /^multipart\/form-data; boundary=/);
    assert.equal(sent.headers.accept, 'image/*');
    assert.deepEqual(sent.body, {
      prompt: 'a lighthouse at dawn',
      output_format: 'png',
      aspect_ratio: '1:1',
      seed: '1234',
      negative_prompt: 'fog',
    });
    assert.equal(st.credits.spent, 3);
  });

  it('ultra and sd3 are priced per model and tracked by model', async () => {
    const st = client();
    const ultra = await st.generateImage('a fox', { model: 'ultra', outputFormat: 'jpeg' });
    assert.equal(ultra.contentType, 'image/jpeg');
    const sd3 = await st.generateImage('a fox', { model: 'sd3', sd3Model: 'sd3.5-medium' });
    assert.equal(sd3.model, 'sd3.5-medium');
    assert.equal((sandbox.requests.last('stability')!.body as Record<string, string>).model, 'sd3.5-medium');
    assert.deepEqual(st.credits.byModel(), { ultra: 8, 'sd3.5-medium': 3.5 });
    assert.equal(st.credits.spent, 11.5);
    const webp = await caught(st.generateImage('x', { model: 'sd3', outputFormat: 'webp' }));
    assert.equal(webp.code, ApiErrorCode.InvalidRequest);
  });

  it('a credit limit refuses the generation that would pass it, before sending', async () => {
    const st = client({ credits: { limit: 10 } });
    await st.generateImage('one', { model: 'ultra' });
    const error = await caught(st.generateImage('two', { model: 'core' }));
    assert.equal(error.code, ApiErrorCode.CreditsExhausted);
    assert.equal(sandbox.requests.filter('stability').length, 1);
    assert.equal(st.credits.remaining, 2);
  });

  it('generateVideoThumbnail returns a 16:9 image with its metadata', async () => {
    const thumb = await client().generateVideoThumbnail(
      'Ten tips for faster code',
      'Profiling, caching and more.',
    );
    assert.equal(thumb.aspectRatio, '16:9');
    assert.ok(thumb.width! > thumb.height!, 'landscape');
    assert.ok(Math.abs(thumb.width! / thumb.height! - 16 / 9) < 0.1);
    assert.match(thumb.prompt, /Ten tips for faster code/);
    assert.equal((sandbox.requests.last('stability')!.body as Record<string, string>).aspect_ratio, '16:9');
  });

  it('v1 SDXL text-to-image works at an allowed size and refuses 1280x720 before sending', async () => {
    const st = client();
    const [image] = await st.generateImageV1('a castle', { width: 1344, height: 768, seed: 7 });
    assert.equal(image!.image.subarray(0, 8).toString('hex'), PNG_MAGIC);
    assert.equal(image!.seed, 7);
    assert.equal(sandbox.requests.filter('stability').length, 1);
    const error = await caught(st.generateImageV1('a castle', { width: 1280, height: 720 }));
    assert.equal(error.code, ApiErrorCode.InvalidRequest);
    assert.equal(sandbox.requests.filter('stability').length, 1);
  });

  it('401 on a bad key, 403 on moderation (and neither is charged locally)', async () => {
    const e401 = await caught(client({ apiKey: 'sk-wrong' }).generateImage('x'));
    assert.equal(e401.code, HttpErrorCode.Unauthorized);
    const st = client();
    const e403 = await caught(st.generateImage('something [moderated]'));
    assert.equal(e403.code, HttpErrorCode.Forbidden);
    assert.equal(st.credits.spent, 0);
  });

  it('402 payment required is the typed quota error, not retried', async () => {
    sandbox.config.stability.credits = 1;
    const error = await caught(client().generateImage('x'));
    assert.equal(error.code, HttpErrorCode.QuotaExhausted);
    assert.equal(sandbox.requests.filter('stability').length, 1);
  });

  it('CreditLedger refunds failed generations and rejects unknown models', () => {
    const ledger = new CreditLedger({ limit: 5 });
    const hold = ledger.reserve('core', 3);
    assert.equal(ledger.remaining, 2);
    hold.refund();
    hold.commit();
    assert.equal(ledger.remaining, 5);
    assert.equal(ledger.spent, 0);
    assert.throws(() => ledger.priceOf('sd9-mega'), { code: ApiErrorCode.InvalidRequest });
  });
});
