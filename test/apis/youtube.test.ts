import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import {
  ApiErrorCode,
  ApiNotFoundError,
  ApiResponseShapeError,
  nextPacificMidnight,
  parseTimedText,
  YouTubeClient,
  type YouTubeClientOptions,
} from '../../src/apis/index.js';
import { parseShape } from '../../src/apis/shared.js';
import { parseIsoDuration } from '../../src/apis/youtube/iso-duration.js';
import { type CachedResponse, HttpError, HttpErrorCode, MemoryResponseCache } from '../../src/http/index.js';
import { type Sandbox, sandboxTranscript, sandboxVideo } from '../../src/sandbox/index.js';
import {
  assertNoSecrets,
  capturingLogger,
  caught,
  dumpError,
  FAST_RETRIES,
  KEYS,
  useSandboxClients,
} from './support.js';

const ids = (n: number, prefix = 'vid'): string[] =>
  Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(11 - prefix.length, '0')}`);

describe('YouTubeClient against the sandbox', () => {
  let sandbox: Sandbox;
  const client = useSandboxClients<YouTubeClient, YouTubeClientOptions>(
    (sb, extra) =>
      new YouTubeClient({ apiKey: KEYS.youtube, baseUrl: sb.baseUrls.youtube, ...FAST_RETRIES, ...extra }),
    (sb) => {
      sandbox = sb;
    },
  );

  it('getVideoInfo returns a typed video: numbers, seconds, thumbnails', async () => {
    const yt = client();
    const id = 'dQw4w9WgXcQ';
    const video = await yt.getVideoInfo(id);
    const expected = sandboxVideo(id);
    assert.equal(video.id, id);
    assert.equal(video.title, expected.title);
    assert.equal(video.channelId, expected.channelId);
    assert.equal(video.description, expected.description);
    assert.equal(video.durationSeconds, expected.durationSeconds);
    assert.equal(video.statistics.viewCount, expected.viewCount);
    assert.equal(typeof video.statistics.likeCount, 'number');
    assert.equal(video.thumbnails.high?.width, 480);
    const sent = sandbox.requests.last('youtube')!;
    assert.equal(sent.query.part, 'snippet,contentDetails,statistics');
    assert.equal(sent.headers['x-goog-api-key'], '***', 'the key travels in the header by default');
    assert.equal(sent.query.key, undefined);
  });

  it('per-call cache: a repeated getVideoInfo is served from the response cache, costing no quota', async () => {
    const yt = client({ cache: new MemoryResponseCache<CachedResponse>() });
    const first = await yt.getVideoInfo('dQw4w9WgXcQ', { cache: { ttlMs: 60_000 } });
    const second = await yt.getVideoInfo('dQw4w9WgXcQ', { cache: true });
    assert.deepEqual(second, first);
    assert.equal(sandbox.requests.filter('youtube').length, 1);
    assert.equal((await yt.quotaUsage())[0]!.used, 1);
    await yt.getVideoInfo('dQw4w9WgXcQ');
    assert.equal(sandbox.requests.filter('youtube').length, 2, 'without `cache` the call goes out');
  });

  it('an unknown id is a typed not-found, not an empty object', async () => {
    const error = await caught(client().getVideoInfo('missing0001'));
    assert.ok(error instanceof ApiNotFoundError);
    assert.equal(error.code, ApiErrorCode.NotFound);
    assert.equal(error.id, 'missing0001');
  });

  it('fetches 120 ids in 3 calls, results in input order, missing ones marked', async () => {
    const yt = client();
    const wanted = ids(120);
    wanted[7] = 'missing0007';
    wanted[64] = 'xxxxxxxxxxx';
    wanted[119] = 'missing0119';
    const results = await yt.getVideosInfo(wanted);
    assert.equal(results.length, 120);
    assert.equal(sandbox.requests.filter({ vendor: 'youtube', path: '/videos' }).length, 3);
    results.forEach((r, i) => {
      if ([7, 64, 119].includes(i)) {
        assert.equal(r.ok, false, `index ${i} should be not-found`);
        if (!r.ok) assert.equal(r.error.code, ApiErrorCode.NotFound);
      } else {
        assert.equal(r.ok, true, `index ${i} should be found`);
        if (r.ok) assert.equal(r.value.id, wanted[i]);
      }
    });
    const units = (await yt.quotaUsage())[0]!;
    assert.equal(units.used, 3, 'videos.list costs 1 unit per call');
  });

  it('searchVideos paginates to the last page, 100 units per page', async () => {
    const yt = client();
    const pages = [];
    for await (const page of yt.searchVideoPages('cooking tips', { maxResults: 50 })) pages.push(page);
    const total = pages.reduce((n, p) => n + p.items.length, 0);
    assert.ok(pages.length >= 1);
    assert.equal(pages.at(-1)!.nextPageToken, undefined);
    assert.equal(total, pages[0]!.totalResults);
    assert.equal(new Set(pages.flatMap((p) => p.items.map((i) => i.videoId))).size, total, 'no duplicates');
    const searches = sandbox.requests.filter({ vendor: 'youtube', path: '/search' });
    assert.equal(searches.length, pages.length);
    assert.equal(searches[0]!.query.type, 'video');
    assert.equal((await yt.quotaUsage())[0]!.used, 100 * pages.length);
    const items = [];
    for await (const item of yt.searchVideoItems('cooking tips', { maxResults: 20, maxPages: 2 }))
      items.push(item);
    assert.equal(items.length, Math.min(40, total));
    assert.deepEqual(
      items.map((i) => i.videoId),
      pages.flatMap((p) => p.items.map((i) => i.videoId)).slice(0, 40),
    );
  });

  it('getChannelVideos walks channels → uploads playlist → videos at 1 unit per page', async () => {
    const yt = client();
    const result = await yt.getChannelVideos('@sandboxchannel1', 60);
    assert.equal(result.videos.length + result.unavailableIds.length, 60);
    assert.ok(result.channel.uploadsPlaylistId.startsWith('UU'));
    assert.ok(result.videos.every((v) => v.channelId === result.channel.channelId));
    const paths = sandbox.requests.filter('youtube').map((r) => r.path.split('/').at(-1));
    assert.deepEqual(paths.sort(), ['channels', 'playlistItems', 'playlistItems', 'videos', 'videos']);
    assert.equal((await yt.quotaUsage())[0]!.used, 5);
    assert.equal(sandbox.requests.filter({ vendor: 'youtube', path: '/search' }).length, 0);
    const missing = await caught(yt.getChannelVideos('@nosuchchannel', 5));
    assert.equal(missing.code, ApiErrorCode.NotFound);
  });

  it('captions with only an API key are refused before sending', async () => {
    const yt = client();
    const error = await caught(yt.getVideoCaptions('dQw4w9WgXcQ'));
    assert.equal(error.code, ApiErrorCode.YouTubeOAuthRequired);
    const download = await caught(yt.downloadCaption('sbcap-en-dQw4w9WgXcQ'));
    assert.equal(download.code, ApiErrorCode.YouTubeOAuthRequired);
    assert.equal(sandbox.requests.filter('youtube').length, 0);
  });

  it('getVideoCaptions with OAuth returns the timed segments of the track', async () => {
    const yt = client({ oauthToken: KEYS.youtubeOAuth });
    const captions = await yt.getVideoCaptions('dQw4w9WgXcQ');
    const expected = sandboxTranscript('dQw4w9WgXcQ');
    assert.equal(captions.segments.length, expected.length);
    assert.deepEqual(captions.segments[0], expected[0]);
    assert.deepEqual(captions.segments.at(-1), expected.at(-1));
    assert.equal(captions.track.language, 'en');
    const download = sandbox.requests.last({ vendor: 'youtube', path: '/captions/' })!;
    assert.equal(download.query.tfmt, 'vtt');
    assert.equal(download.headers.authorization, 'Bearer ***');
    // list 50 + download 200
    assert.equal((await yt.quotaUsage())[0]!.used, 250);
    const srt = await yt.downloadCaption(captions.track.id, { format: 'srt' });
    assert.deepEqual(parseTimedText(srt), expected);
  });

  it("403 forbidden on someone else's captions is a typed error", async () => {
    const yt = client({ oauthToken: KEYS.youtubeOAuth });
    const error = await caught(yt.downloadCaption('sbcap-en-notmine0001'));
    assert.equal(error.code, ApiErrorCode.YouTubeCaptionsForbidden);
    assert.ok(error.cause instanceof HttpError);
    assert.equal((error.cause as HttpError).status, 403);
  });

  it('an invalid OAuth token is ERR_HTTP_UNAUTHORIZED (401), an invalid key ERR_HTTP_BAD_REQUEST', async () => {
    const bad = client({ apiKey: 'wrong-key-1234', oauthToken: 'ya29.wrong-token' });
    const e401 = await caught(bad.listCaptions('dQw4w9WgXcQ'));
    assert.equal(e401.code, HttpErrorCode.Unauthorized);
    const e400 = await caught(bad.getVideoInfo('dQw4w9WgXcQ'));
    assert.equal(e400.code, HttpErrorCode.BadRequest);
    assert.ok(!dumpError(e400).includes('wrong-key-1234'));
  });

  it('the quota budget refuses a search that does not fit, before sending it', async () => {
    const yt = client({ dailyQuotaUnits: 150 });
    await yt.searchVideos('first');
    const before = Date.now();
    const error = await caught(yt.searchVideos('second'));
    assert.equal(error.code, HttpErrorCode.QuotaExhausted);
    assert.ok(error instanceof HttpError);
    assert.equal(error.retryAt, nextPacificMidnight(before), 'retry at the next Pacific midnight');
    assert.equal(sandbox.requests.filter({ vendor: 'youtube', path: '/search' }).length, 1);
    // Cheap calls still fit in the 50 units left.
    await yt.getVideoInfo('dQw4w9WgXcQ');
  });

  it('403 quotaExceeded from the API is the typed quota error with the Pacific-midnight reset', async () => {
    sandbox.config.youtube.dailyQuotaUnits = 2;
    const yt = client();
    await yt.getVideoInfo('dQw4w9WgXcQ');
    await yt.getVideoInfo('abcdefghijk');
    const before = Date.now();
    const error = await caught(yt.getVideoInfo('bcdefghijkl'));
    assert.equal(error.code, HttpErrorCode.QuotaExhausted);
    assert.ok(error instanceof HttpError);
    assert.equal(error.status, 403);
    assert.equal(error.retryAt, nextPacificMidnight(before));
    assert.equal(sandbox.requests.filter('youtube').length, 3, 'a spent quota is not retried');
    // The budget is paused until then: the next call is refused locally.
    const local = await caught(yt.getVideoInfo('cdefghijklm'));
    assert.equal(local.code, HttpErrorCode.QuotaExhausted);
    assert.equal(sandbox.requests.filter('youtube').length, 3);
  });

  it('500s are retried; a persistent 500 is ERR_HTTP_SERVER_ERROR after the retries', async () => {
    Object.assign(sandbox.config.chaos, { errorRate: 1, modes: ['error'], vendors: ['youtube'] });
    const yt = client({ maxRetries: 2 });
    const error = await caught(yt.getVideoInfo('dQw4w9WgXcQ'));
    assert.equal(error.code, HttpErrorCode.ServerError);
    assert.equal(sandbox.requests.filter('youtube').length, 3);
  });

  it('the key can travel as key= and never appears in errors or logs', async () => {
    const logger = capturingLogger();
    const yt = client({ keyIn: 'query', logger, maxRetries: 1 });
    await yt.getVideoInfo('dQw4w9WgXcQ');
    assert.equal(sandbox.requests.last('youtube')!.query.key, '***');
    Object.assign(sandbox.config.chaos, { errorRate: 1, modes: ['error'], vendors: ['youtube'] });
    const error = await caught(yt.getVideoInfo('abcdefghijk'));
    assert.equal(error.code, HttpErrorCode.ServerError);
    assert.ok(logger.lines.length > 0, 'the retry was logged');
    assertNoSecrets(dumpError(error));
    assertNoSecrets(logger.lines.join('\n'));
  });
});

describe('YouTube parsing helpers', () => {
  it('a body of the wrong shape is ERR_API_RESPONSE_SHAPE naming the field and the endpoint', () => {
    const schema = z.object({ items: z.array(z.object({ id: z.string() })) });
    const error = (() => {
      try {
        parseShape(schema, { items: [{ id: 'a' }, { id: 7 }] }, 'youtube', 'videos.list');
      } catch (e) {
        return e as ApiResponseShapeError;
      }
      assert.fail('expected a shape error');
    })();
    assert.ok(error instanceof ApiResponseShapeError);
    assert.equal(error.code, ApiErrorCode.ResponseShape);
    assert.equal(error.field, 'items.1.id');
    assert.equal(error.endpoint, 'videos.list');
    assert.match(error.message, /youtube videos\.list: unexpected response shape at items\.1\.id/);
  });

  it('parses ISO 8601 durations', () => {
    assert.equal(parseIsoDuration('PT3M33S'), 213);
    assert.equal(parseIsoDuration('PT1H2M'), 3720);
    assert.equal(parseIsoDuration('P1DT2H'), 93_600);
    assert.equal(parseIsoDuration('P0D'), 0);
    assert.equal(parseIsoDuration('PT'), undefined);
    assert.equal(parseIsoDuration('3:33'), undefined);
  });

  it('parses SRT, WebVTT (cue ids, settings, tags) and SBV', () => {
    const srt =
      '1\n00:00:01,000 --> 00:00:04,500\nHello <i>there</i>\nfriend\n\n2\n00:00:05,000 --> 00:01:00,250\nBye\n';
    assert.deepEqual(parseTimedText(srt), [
      { start: 1, end: 4.5, text: 'Hello there friend' },
      { start: 5, end: 60.25, text: 'Bye' },
    ]);
    const vtt = 'WEBVTT\n\nNOTE a comment\n\nintro\n00:01.000 --> 00:02.000 align:start\n<c.yellow>Hi</c>\n';
    assert.deepEqual(parseTimedText(vtt), [{ start: 1, end: 2, text: 'Hi' }]);
    const sbv = '0:00:01.000,0:00:02.500\nOne\n\n0:00:03.000,0:00:04.000\nTwo\n';
    assert.deepEqual(parseTimedText(sbv), [
      { start: 1, end: 2.5, text: 'One' },
      { start: 3, end: 4, text: 'Two' },
    ]);
  });
});
