import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ApiErrorCode,
  ApiNotFoundError,
  ApiResponseShapeError,
  YouTubeClient,
  type YouTubeClientOptions,
} from '../../src/apis/index.js';
import { errorCatalogue, isTransient } from '../../src/core/index.js';
import { HttpError, HttpErrorCode } from '../../src/http/index.js';
import type { Sandbox } from '../../src/sandbox/index.js';
import { caught, FAST_RETRIES, KEYS, useSandboxClients } from './support.js';

/** Load on the shared machine delays timers; the bound is the deadline plus this. */
const TOLERANCE_MS = 600;

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `dl${String(i).padStart(9, '0')}`);

describe('API client errors: one classification', () => {
  it('every ApiErrorCode is in the catalogue with its class, meaning and action', () => {
    const apis = new Map(
      errorCatalogue()
        .filter((e) => e.layer === 'apis')
        .map((e) => [e.code, e]),
    );
    assert.deepEqual([...apis.keys()].sort(), Object.values(ApiErrorCode).sort());
    for (const entry of apis.values()) {
      assert.equal(entry.class, 'permanent', `${entry.code}: transient only per instance`);
      assert.ok(entry.meaning.length > 20 && entry.action.length > 10, entry.code);
    }
  });

  it('a garbled body is transient, a wrong shape and a missing resource are permanent', () => {
    const garbled = new ApiResponseShapeError('youtube', 'videos.list', '', 'body is not valid JSON', {
      garbled: true,
    });
    assert.equal(garbled.transient, true);
    assert.equal(isTransient(garbled), true);
    const shape = new ApiResponseShapeError('youtube', 'videos.list', 'items.0.id', 'Required');
    assert.equal(shape.transient, false);
    assert.equal(shape.toJSON().transient, false);
    const missing = new ApiNotFoundError('youtube', 'video', 'nope');
    assert.equal(missing.code, ApiErrorCode.NotFound);
    assert.equal(missing.transient, false);
  });
});

describe('API client deadlines bound the whole call, body included', () => {
  let sandbox: Sandbox;
  const client = useSandboxClients<YouTubeClient, YouTubeClientOptions>(
    (sb, extra) =>
      new YouTubeClient({ apiKey: KEYS.youtube, baseUrl: sb.baseUrls.youtube, ...FAST_RETRIES, ...extra }),
    (sb) => {
      sandbox = sb;
    },
  );

  /** Every YouTube body trickles out in 8 pieces over `ms` (each piece well within attemptTimeoutMs). */
  const slowBodies = (ms: number): void => {
    Object.assign(sandbox.config.chaos, {
      errorRate: 1,
      modes: ['slow'],
      vendors: ['youtube'],
      slowBodyMs: ms,
    });
  };

  it("a call's deadlineMs ends a trickling body at the deadline with ERR_HTTP_TIMEOUT", async () => {
    slowBodies(4_000);
    const yt = client();
    const started = Date.now();
    const error = await caught(yt.getVideoInfo('dQw4w9WgXcQ', { deadlineMs: 1_200 }));
    const elapsed = Date.now() - started;
    assert.equal(error.code, HttpErrorCode.Timeout);
    assert.ok(error instanceof HttpError && error.transient);
    assert.ok(elapsed <= 1_200 + TOLERANCE_MS, `ended late: ${elapsed} ms`);
  });

  it("a per-call timeoutMs (0.1's name) is refused with ERR_INVALID_ARGUMENT naming deadlineMs", async () => {
    const yt = client();
    const error = await caught(
      yt.getVideoInfo('dQw4w9WgXcQ', { timeoutMs: 1_000 } as unknown as { deadlineMs: number }),
    );
    assert.equal(error.code, 'ERR_INVALID_ARGUMENT');
    assert.equal(isTransient(error), false);
    assert.match(error.message, /`timeoutMs` is not a per-call option; use `deadlineMs`/);
  });

  it("the client's deadlineMs bounds it the same way as a call's", async () => {
    slowBodies(4_000);
    for (const [yt, options] of [
      [client({ deadlineMs: 1_000 }), {}],
      [client(), { deadlineMs: 1_000 }],
    ] as const) {
      const started = Date.now();
      const error = await caught(yt.getVideoInfo('dQw4w9WgXcQ', options));
      const elapsed = Date.now() - started;
      assert.equal(error.code, HttpErrorCode.Timeout);
      assert.ok(elapsed <= 1_000 + TOLERANCE_MS, `ended late: ${elapsed} ms`);
    }
  });

  it('a method that makes several requests shares one deadline among them', async () => {
    // Two videos.list calls one after the other, each body taking 800 ms: 1 600 ms without a shared bound.
    slowBodies(800);
    const yt = client();
    const wanted = ids(60);
    const started = Date.now();
    const results = await yt.getVideosInfo(wanted, { deadlineMs: 1_200, concurrency: 1 });
    const elapsed = Date.now() - started;
    assert.ok(elapsed <= 1_200 + TOLERANCE_MS, `ended late: ${elapsed} ms`);
    const first = results.slice(0, 50);
    const second = results.slice(50);
    assert.ok(
      first.every((r) => r.ok),
      'the first call finished in time',
    );
    for (const r of second) {
      assert.equal(r.ok, false);
      if (!r.ok) assert.equal(r.error.code, HttpErrorCode.Timeout);
    }
  });

  it('a 403 on captions that means a spent quota stays the transient quota error', async () => {
    sandbox.config.youtube.dailyQuotaUnits = 10;
    const yt = client({ oauthToken: KEYS.youtubeOAuth });
    const error = await caught(yt.listCaptions('dQw4w9WgXcQ'));
    assert.equal(error.code, HttpErrorCode.QuotaExhausted);
    assert.ok(error instanceof HttpError);
    assert.equal(error.status, 403);
    assert.equal(error.transient, true);
    assert.ok(error.retryAt !== undefined && error.retryAt > Date.now());
  });

  it("a 403 on someone else's captions is the permanent captions error", async () => {
    const yt = client({ oauthToken: KEYS.youtubeOAuth });
    const error = await caught(yt.downloadCaption('sbcap-en-notmine0001'));
    assert.equal(error.code, ApiErrorCode.YouTubeCaptionsForbidden);
    assert.equal(isTransient(error), false);
  });
});
