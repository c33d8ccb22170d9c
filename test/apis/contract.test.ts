import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type ApiClients, createApiClients, sandboxBaseUrls } from '../../src/apis/index.js';
import { type Sandbox, sandboxTranscript } from '../../src/sandbox/index.js';
import {
  assertRequestsFollowSpec,
  assertResponsesFollowSpec,
  caught,
  type Exchange,
  FAST_RETRIES,
  KEYS,
  recordingDispatcher,
  startSandbox,
} from './support.js';

/**
 * Every method of every client runs against the sandbox through a recording transport; then every
 * request the sandbox logged and every response the clients received is checked against the official
 * spec with the sandbox's contract validator. Error answers (401, 403, 404, 422, 429) are included.
 */
describe('contract: what the clients send and receive follows the specs', () => {
  let sandbox: Sandbox;
  let recorder: ReturnType<typeof recordingDispatcher>;
  let apis: ApiClients;
  let bad: ApiClients;

  before(async () => {
    sandbox = await startSandbox({ config: { elevenlabs: { msPerCharacter: 1 } } });
    recorder = recordingDispatcher();
    const http = { ...FAST_RETRIES, maxRetries: 0, dispatcher: recorder.dispatcher };
    apis = createApiClients({
      baseUrls: sandboxBaseUrls(sandbox.url),
      http,
      youtube: { apiKey: KEYS.youtube, oauthToken: KEYS.youtubeOAuth, dispatcher: recorder.dispatcher },
      openai: { apiKey: KEYS.openai, dispatcher: recorder.dispatcher },
      stability: { apiKey: KEYS.stability, dispatcher: recorder.dispatcher },
      elevenlabs: { apiKey: KEYS.elevenlabs, dispatcher: recorder.dispatcher },
    });
    bad = createApiClients({
      baseUrls: sandboxBaseUrls(sandbox.url),
      http,
      youtube: { apiKey: 'bad-key-0000', oauthToken: 'ya29.bad', dispatcher: recorder.dispatcher },
      openai: { apiKey: 'sk-bad', dispatcher: recorder.dispatcher },
      stability: { apiKey: 'sk-bad', dispatcher: recorder.dispatcher },
      elevenlabs: { apiKey: 'el-bad', dispatcher: recorder.dispatcher },
    });
  });

  after(async () => {
    await apis.close();
    await bad.close();
    await recorder.close();
    await sandbox.close();
  });

  const check = (
    vendor: 'youtube' | 'openai' | 'stability' | 'elevenlabs',
    exchanges: readonly Exchange[],
  ) => {
    const requests = assertRequestsFollowSpec(sandbox, vendor);
    const responses = assertResponsesFollowSpec(exchanges, vendor);
    assert.equal(responses, requests, 'one response per logged request');
    return requests;
  };

  it('YouTube: videos, search, channels, playlistItems, captions (and errors)', async () => {
    sandbox.reset();
    recorder.exchanges.length = 0;
    const yt = apis.youtube!;
    await yt.getVideoInfo('dQw4w9WgXcQ');
    await yt.getVideosInfo(['dQw4w9WgXcQ', 'missing0001', 'abcdefghijk']);
    await yt.searchVideos('guitar lessons', {
      maxResults: 10,
      order: 'viewCount',
      publishedAfter: new Date(Date.UTC(2020, 0, 1)),
    });
    await yt.getChannelVideos('@sandboxchannel2', 5);
    await yt.getVideoCaptions('dQw4w9WgXcQ');
    await yt.downloadCaption('sbcap-en-dQw4w9WgXcQ', { format: 'srt' });
    await caught(yt.downloadCaption('sbcap-en-notmine0001'));
    await caught(yt.listCaptions('missing0002'));
    await caught(bad.youtube!.getVideoInfo('dQw4w9WgXcQ'));
    await caught(bad.youtube!.listCaptions('dQw4w9WgXcQ'));
    const n = check('youtube', recorder.exchanges);
    assert.ok(n >= 11, `${n} requests checked`);
  });

  it('OpenAI: chat completions in every mode (and errors)', async () => {
    sandbox.reset();
    recorder.exchanges.length = 0;
    const ai = apis.openai!;
    await ai.generateText('Say hello', { maxTokens: 50, temperature: 0.7, system: 'Be brief.' });
    await ai.generateCaptions('A video about trains. Trains are fast.', { count: 2 });
    await ai.analyzeVideoContent('Trains', 'All about trains.');
    await ai.selectHighlights(sandboxTranscript('dQw4w9WgXcQ').slice(0, 30), { count: 2 });
    await caught(ai.generateText('x', { model: 'gpt-missing' }));
    await caught(bad.openai!.generateText('x'));
    sandbox.config.openai.requestsPerMinute = 0;
    await caught(ai.generateText('x'));
    const n = check('openai', recorder.exchanges);
    assert.equal(n, 7);
  });

  it('Stability: v2beta core/ultra/sd3, v1 SDXL (and errors)', async () => {
    sandbox.reset();
    recorder.exchanges.length = 0;
    const st = apis.stability!;
    await st.generateImage('a red kite', { seed: 5, stylePreset: 'photographic', aspectRatio: '3:2' });
    await st.generateImage('a red kite', { model: 'ultra', outputFormat: 'webp', negativePrompt: 'blur' });
    await st.generateImage('a red kite', {
      model: 'sd3',
      sd3Model: 'sd3.5-large-turbo',
      outputFormat: 'jpeg',
    });
    await st.generateVideoThumbnail('Kites', 'Flying kites on the beach');
    await st.generateImageV1('a red kite', { width: 1152, height: 896, steps: 40, negativePrompt: 'rain' });
    await caught(st.generateImage('[moderated] kite'));
    await caught(bad.stability!.generateImage('x'));
    const n = check('stability', recorder.exchanges);
    assert.equal(n, 7);
  });

  it('ElevenLabs: speech, timestamps, voices, narration (and errors)', async () => {
    sandbox.reset();
    recorder.exchanges.length = 0;
    const el = apis.elevenlabs!;
    await el.textToSpeech('Contract check.', {
      outputFormat: 'mp3_22050_32',
      seed: 3,
      languageCode: 'en',
      modelId: 'eleven_flash_v2_5',
    });
    await el.textToSpeechWithTimestamps('Contract check.');
    await el.getAvailableVoices();
    await el.generateVideoNarration('One. Two. Three.', { maxPartChars: 6 });
    await caught(el.textToSpeech('x', { outputFormat: 'opus_48000_64' }));
    await caught(el.textToSpeech('x', { voiceId: 'not-a-voice' }));
    await caught(bad.elevenlabs!.textToSpeech('x'));
    const n = check('elevenlabs', recorder.exchanges);
    assert.equal(n, 9);
  });
});
