import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isOpusError } from '../../src/core/index.js';
import { ContractValidator, SandboxErrorCode } from '../../src/sandbox/index.js';

const v = new ContractValidator();

describe('ContractValidator', () => {
  it('rejects a chat request without model, naming the pointer and the endpoint', () => {
    const result = v.validateRequest('openai', {
      method: 'POST',
      path: '/openai/v1/chat/completions',
      headers: { 'Content-Type': 'application/json' },
      body: { messages: [{ role: 'user', content: 'hi' }] },
    });
    assert.equal(result.valid, false);
    assert.equal(result.endpoint, 'openai POST /v1/chat/completions');
    assert.ok(
      result.issues.some((i) => i.pointer === '/body/model'),
      JSON.stringify(result.issues),
    );
    assert.ok(result.issues.every((i) => i.endpoint === result.endpoint));
  });

  it('accepts a well-formed chat request', () => {
    const result = v.validateRequest('openai', {
      method: 'POST',
      path: '/v1/chat/completions',
      body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] },
    });
    assert.deepEqual(result.issues, []);
  });

  it('rejects a YouTube statistics.viewCount given as a number', () => {
    const video = { kind: 'youtube#video', id: 'abcdefghijk', statistics: { viewCount: 12, likeCount: '1' } };
    const result = v.validateResponse('youtube', 'GET', '/youtube/v3/videos', {
      status: 200,
      contentType: 'application/json',
      body: { kind: 'youtube#videoListResponse', items: [video] },
    });
    assert.equal(result.valid, false);
    assert.ok(
      result.issues.some((i) => i.pointer === '/body/items/0/statistics/viewCount'),
      JSON.stringify(result.issues),
    );
    const fixed = { ...video, statistics: { viewCount: '12', likeCount: '1' } };
    const ok = v.validateResponse('youtube', 'GET', '/youtube/youtube/v3/videos', {
      status: 200,
      contentType: 'application/json; charset=utf-8',
      body: { kind: 'youtube#videoListResponse', items: [fixed] },
    });
    assert.deepEqual(ok.issues, []);
  });

  it('checks YouTube query parameters from the x-methods table', () => {
    const missingPart = v.validateRequest('youtube', {
      method: 'GET',
      path: '/youtube/v3/search',
      query: { q: 'x' },
    });
    assert.ok(missingPart.issues.some((i) => i.pointer === '/query/part'));
    const badMax = v.validateRequest('youtube', {
      method: 'GET',
      path: '/youtube/v3/playlistItems',
      query: { part: 'snippet', maxResults: '51', bogus: '1', key: 'k' },
    });
    assert.deepEqual(
      badMax.issues.map((i) => i.pointer),
      ['/query/maxResults', '/query/bogus'],
    );
    const download = v.validateRequest('youtube', {
      method: 'GET',
      path: '/youtube/v3/captions/abc',
      query: { tfmt: 'srt' },
    });
    assert.deepEqual(download.issues, []);
  });

  it('coerces multipart fields and checks enums for Stability v2beta', () => {
    const base = { method: 'POST', path: '/v2beta/stable-image/generate/core' };
    const headers = { authorization: 'Bearer k', 'content-type': 'multipart/form-data; boundary=x' };
    const ok = v.validateRequest('stability', { ...base, headers, body: { prompt: 'a cat', seed: '42' } });
    assert.deepEqual(ok.issues, []);
    const bad = v.validateRequest('stability', {
      ...base,
      headers,
      body: { prompt: 'a cat', aspect_ratio: '7:3' },
    });
    assert.ok(bad.issues.some((i) => i.pointer === '/body/aspect_ratio'));
    const noAuth = v.validateRequest('stability', {
      ...base,
      headers: { 'content-type': 'multipart/form-data' },
      body: { prompt: 'x' },
    });
    assert.ok(noAuth.issues.some((i) => i.pointer === '/header/authorization'));
  });

  it('validates Stability v1 (OpenAPI 3.0) bodies with the draft-07 validator', () => {
    const bad = v.validateRequest('stability', {
      method: 'POST',
      path: '/stability/v1/generation/stable-diffusion-xl-1024-v1-0/text-to-image',
      body: { height: 512 },
    });
    assert.ok(
      bad.issues.some((i) => i.pointer === '/body/text_prompts'),
      JSON.stringify(bad.issues),
    );
    const res = v.validateResponse('stability', 'POST', '/v1/generation/x/text-to-image', {
      status: 200,
      contentType: 'application/json',
      body: { artifacts: [{ base64: 'AA==', seed: 1, finishReason: 'SUCCESS' }] },
    });
    assert.deepEqual(res.issues, []);
  });

  it('checks response content types and undocumented error shapes', () => {
    const wrongType = v.validateResponse('stability', 'POST', '/v2beta/stable-image/generate/sd3', {
      status: 200,
      contentType: 'image/webp',
      body: Buffer.from([1]),
    });
    assert.ok(wrongType.issues.some((i) => i.pointer === '/headers/content-type'));
    const elevenError = v.validateResponse('elevenlabs', 'GET', '/v1/voices', {
      status: 401,
      contentType: 'application/json',
      body: { detail: 'nope' },
    });
    assert.ok(elevenError.issues.some((i) => i.pointer === '/body/detail'));
    const openaiError = v.validateResponse('openai', 'GET', '/v1/models', {
      status: 401,
      contentType: 'application/json',
      body: { error: { message: 'x', type: 'invalid_request_error', code: null } },
    });
    assert.ok(
      openaiError.issues.some((i) => i.pointer === '/body/error/param'),
      JSON.stringify(openaiError.issues),
    );
  });

  it('finds operations by template and refuses unknown ones with a stable code', () => {
    assert.equal(
      v.findOperation('elevenlabs', 'POST', '/elevenlabs/v1/text-to-speech/abc/stream')?.template,
      '/v1/text-to-speech/{voice_id}/stream',
    );
    assert.equal(v.findOperation('openai', 'DELETE', '/v1/models'), undefined);
    assert.throws(
      () => v.validateRequest('openai', { method: 'GET', path: '/v1/nothing' }),
      (error: unknown) => isOpusError(error, SandboxErrorCode.UnknownOperation),
    );
    assert.throws(
      () =>
        v.assertRequest('openai', { method: 'POST', path: '/v1/chat/completions', body: { messages: [] } }),
      (error: unknown) =>
        isOpusError(error, SandboxErrorCode.Contract) && /\/body\/model/.test((error as Error).message),
    );
  });
});
