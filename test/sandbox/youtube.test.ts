import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  createSandbox,
  isMissingVideoId,
  type Sandbox,
  sandboxChannels,
  sandboxTranscript,
} from '../../src/sandbox/index.js';
import { FakeClock } from '../../src/testing/index.js';
import { assertContract, type Call, call } from './helpers.js';

const V3 = '/youtube/youtube/v3';
const OAUTH = { authorization: 'Bearer ya29.sandbox-token' };

describe('sandbox: YouTube Data API v3', () => {
  let sb: Sandbox;
  const get = async (path: string, headers: Record<string, string> = {}): Promise<Call> => {
    const res = await call(sb.url, 'GET', path, { headers });
    assertContract('youtube', 'GET', path.split('?')[0]!, res);
    return res;
  };

  before(async () => {
    sb = await createSandbox({ keys: { youtube: ['yt-key'], youtubeOAuth: ['ya29.sandbox-token'] } });
  });
  after(async () => {
    await sb.close();
  });

  it('answers videos.list with spec-valid, deterministic videos across two instances', async () => {
    const path = `${V3}/videos?part=snippet,contentDetails,statistics&id=dQw4w9WgXcQ,abcdefghijk&key=yt-key`;
    const first = await get(path);
    const other = await createSandbox({ keys: { youtube: ['yt-key'] } });
    try {
      const second = await call(other.url, 'GET', path);
      assert.deepEqual(second.json, first.json);
    } finally {
      await other.close();
    }
    const [video] = first.json.items;
    assert.equal(video.id, 'dQw4w9WgXcQ');
    assert.match(video.contentDetails.duration, /^PT(\d+H)?(\d+M)?(\d+S)?$/);
    assert.equal(typeof video.statistics.viewCount, 'string');
    assert.match(video.snippet.channelId, /^UC[\w-]{22}$/);
    assert.equal(video.snippet.thumbnails.high.width, 480);
  });

  it('drops missing ids from a 50-id videos.list (200 with fewer items)', async () => {
    const ids = Array.from({ length: 50 }, (_, i) =>
      i % 10 === 0 ? `missing${String(i).padStart(4, '0')}` : `vid${String(i).padStart(8, '0')}`,
    );
    ids[1] = 'xxxxxxxxxxx';
    const res = await get(`${V3}/videos?part=id,snippet&id=${ids.join(',')}`, { 'x-goog-api-key': 'yt-key' });
    assert.equal(res.status, 200);
    const expected = ids.filter((id) => !isMissingVideoId(id));
    assert.equal(expected.length, 44);
    assert.deepEqual(
      res.json.items.map((v: { id: string }) => v.id),
      expected,
    );
    assert.equal(res.json.pageInfo.totalResults, 44);
  });

  it('walks channel → uploads playlist → every playlistItems page', async () => {
    const channel = sandboxChannels()[2]!;
    const ch = await get(
      `${V3}/channels?part=snippet,contentDetails,statistics&forHandle=${channel.handle}&key=yt-key`,
    );
    const uploads = ch.json.items[0].contentDetails.relatedPlaylists.uploads;
    assert.equal(uploads, channel.uploadsPlaylistId);
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const q = `part=snippet,contentDetails&playlistId=${uploads}&maxResults=50&key=yt-key${token ? `&pageToken=${token}` : ''}`;
      const page = await get(`${V3}/playlistItems?${q}`);
      assert.equal(page.status, 200);
      for (const item of page.json.items) {
        assert.equal(item.snippet.position, seen.length);
        seen.push(item.contentDetails.videoId);
      }
      token = page.json.nextPageToken;
      pages++;
    } while (token);
    assert.equal(seen.length, channel.videoCount);
    assert.ok(pages >= 2, `expected several pages, got ${pages}`);
    assert.equal(new Set(seen).size, seen.length);
    const videos = await get(`${V3}/videos?part=snippet&id=${seen.slice(0, 50).join(',')}&key=yt-key`);
    assert.equal(videos.json.items.length, 50);
    assert.ok(
      videos.json.items.every((v: { snippet: { channelId: string } }) => v.snippet.channelId === channel.id),
    );
  });

  it('paginates search to the end with stable results and rejects a foreign page token', async () => {
    const collect = async (): Promise<string[]> => {
      const ids: string[] = [];
      let token = '';
      do {
        const page = await get(
          `${V3}/search?part=snippet&q=cooking&type=video&maxResults=25&key=yt-key&pageToken=${token}`,
        );
        ids.push(...page.json.items.map((i: { id: { videoId: string } }) => i.id.videoId));
        token = page.json.nextPageToken ?? '';
      } while (token);
      return ids;
    };
    const first = await collect();
    assert.ok(first.length >= 30);
    assert.deepEqual(await collect(), first);
    const other = await get(`${V3}/search?part=id&q=gardening&key=yt-key`);
    const bad = await get(`${V3}/search?part=id&q=cooking&key=yt-key&pageToken=${other.json.nextPageToken}`);
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.errors[0].reason, 'invalidPageToken');
    const garbage = await get(
      `${V3}/playlistItems?part=id&playlistId=${sandboxChannels()[0]!.uploadsPlaylistId}&pageToken=zzz&key=yt-key`,
    );
    assert.equal(garbage.json.error.errors[0].reason, 'invalidPageToken');
  });

  it('lists and downloads caption tracks with OAuth, in SRT, VTT and SBV', async () => {
    const list = await get(`${V3}/captions?part=snippet&videoId=dQw4w9WgXcQ`, OAUTH);
    assert.equal(list.status, 200);
    const track = list.json.items[0];
    assert.equal(track.snippet.videoId, 'dQw4w9WgXcQ');
    const transcript = sandboxTranscript('dQw4w9WgXcQ');
    assert.ok(transcript.length > 5);
    const srt = await get(`${V3}/captions/${track.id}?tfmt=srt&alt=media`, OAUTH);
    const srtText = srt.bytes.toString('utf8');
    assert.match(srtText, /^1\n00:00:00,000 --> 00:00:\d\d,\d{3}\n/);
    assert.ok(srtText.includes(transcript[0]!.text));
    const vtt = (await get(`${V3}/captions/${track.id}?tfmt=vtt`, OAUTH)).bytes.toString('utf8');
    assert.ok(vtt.startsWith('WEBVTT\n\n00:00:00.000 --> '));
    const sbv = (await get(`${V3}/captions/${track.id}?tfmt=sbv`, OAUTH)).bytes.toString('utf8');
    assert.match(sbv, /^0:00:00\.000,0:00:\d\d\.\d{3}\n/);
    assert.equal(srtText.split('\n\n').length, transcript.length);
  });

  it('answers captions like the real API without OAuth or for someone else’s video', async () => {
    const keyOnly = await get(`${V3}/captions?part=snippet&videoId=dQw4w9WgXcQ&key=yt-key`);
    assert.equal(keyOnly.status, 401);
    assert.match(keyOnly.json.error.message, /API keys are not supported/);
    const download = await get(`${V3}/captions/sbcap-en-dQw4w9WgXcQ?key=yt-key`);
    assert.equal(download.status, 401);
    const foreign = await get(`${V3}/captions/sbcap-en-notmine0001`, OAUTH);
    assert.equal(foreign.status, 403);
    assert.equal(foreign.json.error.errors[0].reason, 'forbidden');
    const gone = await get(`${V3}/captions?part=snippet&videoId=missing0001`, OAUTH);
    assert.equal(gone.status, 404);
    assert.equal(gone.json.error.errors[0].reason, 'videoNotFound');
  });

  it('answers missing and wrong credentials with the Google error bodies', async () => {
    const none = await get(`${V3}/videos?part=id&id=dQw4w9WgXcQ`);
    assert.equal(none.status, 403);
    assert.equal(none.json.error.errors[0].reason, 'forbidden');
    assert.equal(none.json.error.message, 'The request is missing a valid API key.');
    const wrong = await get(`${V3}/videos?part=id&id=dQw4w9WgXcQ&key=nope`);
    assert.equal(wrong.status, 400);
    assert.equal(wrong.json.error.errors[0].reason, 'keyInvalid');
    const badToken = await get(`${V3}/captions?part=id&videoId=dQw4w9WgXcQ`, {
      authorization: 'Bearer stale',
    });
    assert.equal(badToken.status, 401);
    assert.equal(badToken.json.error.errors[0].reason, 'authError');
    const noPart = await get(`${V3}/channels?id=x&key=yt-key`);
    assert.equal(noPart.status, 400);
  });

  it('serves the mostPopular chart, mine=true with OAuth, date order and unknown lookups', async () => {
    const chart = await get(`${V3}/videos?part=snippet&chart=mostPopular&maxResults=10&key=yt-key`);
    assert.equal(chart.json.items.length, 10);
    assert.ok(chart.json.nextPageToken);
    const mine = await get(`${V3}/channels?part=id&mine=true`, OAUTH);
    assert.equal(mine.json.items[0].id, sandboxChannels()[0]!.id);
    const byDate = await get(`${V3}/search?part=snippet&q=news&order=date&maxResults=50&key=yt-key`);
    const dates = byDate.json.items.map((i: { snippet: { publishedAt: string } }) => i.snippet.publishedAt);
    assert.deepEqual(dates, [...dates].sort().reverse());
    const unknownChannel = await get(`${V3}/channels?part=id&id=UCxxxxxxxxxxxxxxxxxxxxxx&key=yt-key`);
    assert.deepEqual(unknownChannel.json.items, []);
    const unknownPlaylist = await get(`${V3}/playlistItems?part=id&playlistId=PLnothing&key=yt-key`);
    assert.equal(unknownPlaylist.status, 404);
    assert.equal(unknownPlaylist.json.error.errors[0].reason, 'playlistNotFound');
    const tooMany = await get(`${V3}/search?part=id&q=x&maxResults=51&key=yt-key`);
    assert.equal(tooMany.status, 400);
  });

  it('exhausts the daily unit budget with 403 quotaExceeded and refills on the next Pacific day', async () => {
    const clock = new FakeClock(Date.UTC(2026, 2, 10, 12));
    const q = await createSandbox({ clock, config: { youtube: { dailyQuotaUnits: 260 } } });
    try {
      const search = (): Promise<Call> => call(q.url, 'GET', `${V3}/search?part=id&q=x&key=k`);
      assert.equal((await search()).status, 200); // 100
      assert.equal((await search()).status, 200); // 200
      const third = await search(); // 300 > 260
      assert.equal(third.status, 403);
      assert.equal(third.json.error.errors[0].reason, 'quotaExceeded');
      assert.equal(third.json.error.errors[0].domain, 'youtube.quota');
      assertContract('youtube', 'GET', '/youtube/v3/search', third);
      // Cheap calls still fit in the remaining 60 units.
      assert.equal((await call(q.url, 'GET', `${V3}/videos?part=id&id=dQw4w9WgXcQ&key=k`)).status, 200);
      await clock.advance(24 * 3_600_000);
      assert.equal((await search()).status, 200);
      // The newer model: search has its own bucket of calls and leaves the unit pool alone.
      q.config.youtube.searchQuota = 'bucket';
      q.config.youtube.searchCallsPerDay = 2;
      assert.equal((await search()).status, 200);
      assert.equal((await search()).status, 200);
      assert.equal((await search()).status, 403);
    } finally {
      await q.close();
    }
  });
});
