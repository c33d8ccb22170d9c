import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { mp3FrameSamples } from '../../src/sandbox/audio.js';
import { createSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { assertContract, type Call, call, jsonInit } from './helpers.js';

const KEY = { 'xi-api-key': 'xi-sandbox-1234' };
const VOICE = '21m00Tcm4TlvDq8ikWAM';
const TTS = `/elevenlabs/v1/text-to-speech/${VOICE}`;

const MP3_V1_KBPS = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];
const MP3_V1_RATES = [44100, 48000, 32000];

/** Walks MPEG-1 Layer III frames by their headers; returns frame count and total duration. */
function walkMp3(data: Buffer): { frames: number; seconds: number; sampleRate: number; kbps: number } {
  let offset = 0;
  let frames = 0;
  let sampleRate = 0;
  let kbps = 0;
  while (offset + 4 <= data.length) {
    assert.equal(data[offset], 0xff, `frame sync at ${offset}`);
    assert.equal((data[offset + 1]! & 0xe0) >>> 5, 7, `frame sync bits at ${offset}`);
    assert.equal(data[offset + 1], 0xfb, 'MPEG-1 Layer III without CRC');
    kbps = MP3_V1_KBPS[data[offset + 2]! >>> 4]!;
    sampleRate = MP3_V1_RATES[(data[offset + 2]! >>> 2) & 3]!;
    const padding = (data[offset + 2]! >>> 1) & 1;
    offset += Math.floor((144 * kbps * 1000) / sampleRate) + padding;
    frames++;
  }
  assert.equal(offset, data.length, 'frames tile the whole body');
  return { frames, seconds: (frames * mp3FrameSamples(sampleRate)) / sampleRate, sampleRate, kbps };
}

describe('sandbox: ElevenLabs', () => {
  let sb: Sandbox;
  const tts = async (path: string, body: unknown, headers: Record<string, string> = KEY): Promise<Call> => {
    const res = await call(sb.url, 'POST', path, jsonInit(body, headers));
    assertContract('elevenlabs', 'POST', path.split('?')[0]!, res);
    return res;
  };

  before(async () => {
    sb = await createSandbox({ keys: { elevenlabs: ['xi-sandbox-1234'] } });
  });
  after(async () => {
    await sb.close();
  });

  it('returns valid MP3 frames whose duration grows with the text', async () => {
    const short = await tts(TTS, { text: 'Hello there.' });
    const long = await tts(TTS, {
      text: 'Hello there. This sentence is quite a lot longer than the first one.',
    });
    assert.equal(short.contentType, 'audio/mpeg');
    const a = walkMp3(short.bytes);
    const b = walkMp3(long.bytes);
    assert.equal(a.sampleRate, 44100);
    assert.equal(a.kbps, 128);
    assert.ok(b.seconds > a.seconds * 3, `${b.seconds}s vs ${a.seconds}s`);
    assert.ok(Math.abs(a.seconds - 12 * 0.06) < 0.03, `~60 ms per character, got ${a.seconds}s`);
    assert.equal(short.headers.get('character-cost'), '12');
    assert.ok(short.headers.get('request-id'));
    assert.equal(short.headers.get('maximum-concurrent-requests'), '5');
    assert.equal(short.headers.get('current-concurrent-requests'), '1');
  });

  it('returns raw PCM of the right rate and length, and 8 kHz u-law', async () => {
    const text = 'Twenty characters!!!';
    const pcm = await tts(`${TTS}?output_format=pcm_16000`, { text });
    assert.equal(pcm.bytes.length, 16000 * 2 * (text.length * 0.06));
    const ulaw = await tts(`${TTS}?output_format=ulaw_8000`, { text });
    assert.equal(ulaw.bytes.length, 8000 * text.length * 0.06);
    const low = await tts(`${TTS}?output_format=mp3_22050_32`, { text });
    assert.equal(low.bytes[1], 0xf3, 'MPEG-2 Layer III header for 22.05 kHz');
    const opus = await tts(`${TTS}?output_format=opus_48000_64`, { text });
    assert.equal(opus.status, 422);
    assert.equal(opus.json.detail[0].loc[1], 'output_format');
  });

  it('streams audio and returns character alignment with timestamps', async () => {
    const stream = await tts(`${TTS}/stream`, { text: 'A streamed sentence for the sandbox.' });
    assert.equal(stream.status, 200);
    assert.ok(walkMp3(stream.bytes).frames > 10);
    const text = 'Caption me';
    const timed = await tts(`${TTS}/with-timestamps`, { text });
    const { alignment, audio_base64: audio } = timed.json;
    assert.deepEqual(alignment.characters, [...text]);
    assert.equal(alignment.character_start_times_seconds.length, text.length);
    assert.equal(alignment.character_start_times_seconds[0], 0);
    assert.ok(Math.abs(alignment.character_end_times_seconds.at(-1) - text.length * 0.06) < 1e-9);
    assert.ok(walkMp3(Buffer.from(audio, 'base64')).frames > 0);
    assert.deepEqual(timed.json.normalized_alignment, alignment);
  });

  it('serves voices (v1 and paginated v2), models and the subscription per the spec', async () => {
    const get = async (path: string): Promise<Call> => {
      const res = await call(sb.url, 'GET', path, { headers: KEY });
      assertContract('elevenlabs', 'GET', path.split('?')[0]!, res);
      assert.equal(res.status, 200);
      return res;
    };
    const v1 = await get('/elevenlabs/v1/voices');
    const all: string[] = [];
    let token: string | null = null;
    do {
      const page: Call = await get(
        `/elevenlabs/v2/voices?page_size=5${token ? `&next_page_token=${token}` : ''}`,
      );
      all.push(...page.json.voices.map((v: { voice_id: string }) => v.voice_id));
      token = page.json.next_page_token;
      assert.equal(page.json.has_more, token !== null);
    } while (token);
    assert.deepEqual(
      all,
      v1.json.voices.map((v: { voice_id: string }) => v.voice_id),
    );
    await get(`/elevenlabs/v1/voices/${VOICE}`);
    const models = await get('/elevenlabs/v1/models');
    assert.ok(models.json.some((m: { model_id: string }) => m.model_id === 'eleven_flash_v2_5'));
    const before = (await get('/elevenlabs/v1/user/subscription')).json.character_count;
    await tts(TTS, { text: 'ten chars!', model_id: 'eleven_flash_v2_5' });
    const after = (await get('/elevenlabs/v1/user/subscription')).json.character_count;
    assert.equal(after - before, 5, 'flash models cost half a credit per character');
  });

  it('answers missing and wrong keys with the detail error body', async () => {
    const none = await tts(TTS, { text: 'x' }, {});
    assert.equal(none.status, 401);
    assert.equal(none.json.detail.status, 'needs_authorization');
    const wrong = await call(sb.url, 'GET', '/elevenlabs/v1/voices', { headers: { 'xi-api-key': 'bad' } });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.json.detail.status, 'invalid_api_key');
    assertContract('elevenlabs', 'GET', '/elevenlabs/v1/voices', wrong);
    const noText = await tts(TTS, { model_id: 'eleven_v3' });
    assert.equal(noText.status, 422);
    const noVoice = await tts('/elevenlabs/v1/text-to-speech/not-a-voice', { text: 'x' });
    assert.equal(noVoice.status, 400);
    assert.equal(noVoice.json.detail.status, 'voice_not_found');
    const custom = await tts('/elevenlabs/v1/text-to-speech/abcdefghij0123456789', { text: 'x' });
    assert.equal(custom.status, 200);
  });

  it('answers 429 too_many_concurrent_requests over the concurrency limit', async () => {
    const busy = await createSandbox({
      config: { elevenlabs: { maxConcurrentRequests: 2, generationMs: 300 } },
    });
    try {
      const results = await Promise.all(
        Array.from({ length: 5 }, () => call(busy.url, 'POST', TTS, jsonInit({ text: 'overlap' }, KEY))),
      );
      const statuses = results.map((r) => r.status).sort();
      assert.deepEqual(statuses, [200, 200, 429, 429, 429]);
      const rejected = results.find((r) => r.status === 429)!;
      assert.equal(rejected.json.detail.status, 'too_many_concurrent_requests');
      assert.equal(rejected.headers.get('maximum-concurrent-requests'), '2');
      assertContract('elevenlabs', 'POST', TTS, rejected);
    } finally {
      await busy.close();
    }
  });

  it('answers 401 quota_exceeded once the character quota is spent', async () => {
    const small = await createSandbox({ config: { elevenlabs: { characterLimit: 30 } } });
    try {
      assert.equal((await call(small.url, 'POST', TTS, jsonInit({ text: 'a'.repeat(25) }, KEY))).status, 200);
      const over = await call(small.url, 'POST', TTS, jsonInit({ text: 'b'.repeat(10) }, KEY));
      assert.equal(over.status, 401);
      assert.equal(over.json.detail.status, 'quota_exceeded');
      assert.match(over.json.detail.message, /You have 5 credits remaining, while 10 credits are required/);
    } finally {
      await small.close();
    }
  });
});
