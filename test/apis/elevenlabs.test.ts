import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { ElevenLabsClient, type ElevenLabsClientOptions, splitScript } from '../../src/apis/index.js';
import { HttpErrorCode } from '../../src/http/index.js';
import type { Sandbox } from '../../src/sandbox/index.js';
import { caught, FAST_RETRIES, KEYS, startSandbox } from './support.js';

const SENTENCES = [
  'The harbour woke slowly under a pale sky.',
  'Fishing boats rocked against the pier, ropes creaking.',
  'Dr. Lane checked the tide tables twice before she left.',
  'By noon the market was loud with gulls and traders!',
  'Would the storm arrive before the ferry?',
];

function script(chars: number): string {
  let out = '';
  for (let i = 0; out.length < chars; i++) out += `${SENTENCES[i % SENTENCES.length]} `;
  return out.slice(0, chars).replace(/\s+\S*$/, '.');
}

describe('ElevenLabsClient against the sandbox', () => {
  let sandbox: Sandbox;
  const clients: ElevenLabsClient[] = [];
  const client = (extra: Partial<ElevenLabsClientOptions> = {}): ElevenLabsClient => {
    const c = new ElevenLabsClient({
      apiKey: KEYS.elevenlabs,
      baseUrl: sandbox.baseUrls.elevenlabs,
      ...FAST_RETRIES,
      ...extra,
    });
    clients.push(c);
    return c;
  };

  before(async () => {
    sandbox = await startSandbox({ config: { elevenlabs: { maxConcurrentRequests: 3, msPerCharacter: 1 } } });
  });
  beforeEach(() => sandbox.reset());
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await sandbox.close();
  });

  it('textToSpeech returns audio bytes and the character cost', async () => {
    const el = client();
    const speech = await el.textToSpeech('Hello from the sandbox.', {
      voiceSettings: { stability: 0.5, similarity_boost: 0.7 },
    });
    assert.equal(speech.contentType, 'audio/mpeg');
    assert.ok(speech.audio.length > 100);
    assert.ok(Buffer.isBuffer(speech.audio));
    assert.equal(speech.characterCost, 'Hello from the sandbox.'.length);
    const sent = sandbox.requests.last('elevenlabs')!;
    assert.equal(sent.headers['xi-api-key'], '***');
    assert.equal(sent.query.output_format, 'mp3_44100_128');
    assert.deepEqual(sent.body, {
      text: 'Hello from the sandbox.',
      model_id: 'eleven_multilingual_v2',
      voice_settings: { stability: 0.5, similarity_boost: 0.7 },
    });
  });

  it('getAvailableVoices lists typed voices', async () => {
    const voices = await client().getAvailableVoices();
    assert.ok(voices.length > 0);
    assert.ok(voices.some((v) => v.name === 'Rachel' && v.voiceId === '21m00Tcm4TlvDq8ikWAM'));
    assert.equal(voices[0]!.category, 'premade');
  });

  it('textToSpeechWithTimestamps returns audio and per-character timings', async () => {
    const text = 'Timed words.';
    const out = await client().textToSpeechWithTimestamps(text, { outputFormat: 'pcm_16000' });
    assert.ok(out.audio.length > 0);
    assert.equal(out.contentType, 'audio/pcm');
    assert.equal(out.alignment!.characters.join(''), text);
    assert.equal(out.alignment!.characterStartTimesSeconds.length, text.length);
  });

  it('narrates a 5,000-character script in ordered parts within the concurrency limit', async () => {
    sandbox.config.elevenlabs.generationMs = 40;
    const el = client({ maxConcurrentRequests: 3 });
    const text = script(5_000);
    const narration = await el.generateVideoNarration(text, { maxPartChars: 400, concurrency: 8 });
    assert.ok(narration.parts.length >= 13, `${narration.parts.length} parts`);
    assert.deepEqual(
      narration.parts.map((p) => p.index),
      narration.parts.map((_, i) => i),
    );
    assert.ok(narration.parts.every((p) => p.text.length <= 400));
    assert.ok(
      narration.parts.every((p) => /[.!?]$/.test(p.text)),
      'parts end on sentence boundaries',
    );
    assert.equal(narration.parts.map((p) => p.text).join(' '), text.trim().replace(/\s+/g, ' '));
    // The sandbox received the parts in script order of text, and never more than 3 at once.
    const sent = sandbox.requests.filter({ vendor: 'elevenlabs', path: '/text-to-speech/' });
    assert.equal(sent.length, narration.parts.length, 'no 429 retries were needed');
    assert.ok(sent.every((r) => r.status === 200));
    const seen = narration.parts.map((p) => p.concurrentRequests ?? 0);
    assert.ok(Math.max(...seen) <= 3, `max concurrent seen by the sandbox: ${Math.max(...seen)}`);
    assert.ok(Math.max(...seen) >= 2, 'parts did run in parallel');
    assert.equal(
      narration.totalCharacterCost,
      narration.parts.reduce((n, p) => n + p.text.length, 0),
    );
    assert.equal(
      narration.audio.length,
      narration.parts.reduce((n, p) => n + p.audio.length, 0),
    );
    const usage = await el.quotaUsage();
    assert.equal(usage.find((w) => w.name === 'concurrent')!.used, 0, 'every slot was released');
  });

  it('422 on a format the server rejects, 401 on a bad key; a format outside the spec is not sent', async () => {
    // The sandbox answers 422 for opus (valid in the spec, unsupported by it).
    const e422 = await caught(client().textToSpeech('x', { outputFormat: 'opus_48000_64' }));
    assert.equal(e422.code, HttpErrorCode.Unprocessable);
    const before = sandbox.requests.length;
    const local = await caught(client().textToSpeech('x', { outputFormat: 'wav_999' }));
    assert.equal(local.code, 'ERR_INVALID_ARGUMENT');
    assert.equal(sandbox.requests.length, before);
    const e401 = await caught(client({ apiKey: 'el-wrong' }).textToSpeech('x'));
    assert.equal(e401.code, HttpErrorCode.Unauthorized);
  });

  it('401 quota_exceeded is the typed quota error, and a local character limit refuses before sending', async () => {
    sandbox.config.elevenlabs.characterLimit = 10;
    const remote = await caught(client().textToSpeech('more than ten characters'));
    assert.equal(remote.code, HttpErrorCode.QuotaExhausted);
    const before = sandbox.requests.filter('elevenlabs').length;
    const local = await caught(client({ characterLimit: 5 }).textToSpeech('more than five'));
    assert.equal(local.code, HttpErrorCode.QuotaExhausted);
    assert.equal(sandbox.requests.filter('elevenlabs').length, before);
  });

  it("a text over the model's limit is refused with a pointer to generateVideoNarration", async () => {
    const error = await caught(client().textToSpeech('x'.repeat(3_001), { modelId: 'eleven_v3' }));
    assert.equal(error.code, 'ERR_INVALID_ARGUMENT');
    assert.match(error.message, /generateVideoNarration/);
  });
});

describe('splitScript', () => {
  it('packs whole sentences under the limit', () => {
    const parts = splitScript('One two. Three four five. Six.', 20);
    assert.deepEqual(parts, ['One two.', 'Three four five.', 'Six.']);
    assert.deepEqual(splitScript('One two. Three four five. Six.', 100), ['One two. Three four five. Six.']);
  });

  it('keeps abbreviations inside a sentence and splits an over-long sentence on words', () => {
    assert.deepEqual(splitScript('Dr. Lane arrived. She left.', 20), ['Dr. Lane arrived.', 'She left.']);
    const long = 'alpha beta gamma delta epsilon zeta eta theta';
    const parts = splitScript(long, 12);
    assert.ok(parts.every((p) => p.length <= 12));
    assert.equal(parts.join(' '), long);
  });

  it("respects each model's limit through the narration defaults", () => {
    const text = script(25_000);
    assert.ok(splitScript(text, 10_000).every((p) => p.length <= 10_000));
    assert.equal(splitScript(text, 40_000).length, 1);
    assert.ok(splitScript(text, 3_000).length >= 9);
  });
});
