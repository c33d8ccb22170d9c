import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  describeVideoUrl,
  normalizeVideoUrl,
  parseYouTubeVideoId,
  StoreError,
  StoreErrorCode,
} from '../../src/store/index.js';

const ID = 'dQw4w9WgXcQ';
const CANONICAL = `https://www.youtube.com/watch?v=${ID}`;

describe('normalizeVideoUrl: YouTube', () => {
  const forms = [
    `https://www.youtube.com/watch?v=${ID}`,
    `http://www.youtube.com/watch?v=${ID}`,
    `https://youtube.com/watch?v=${ID}`,
    `https://WWW.YouTube.COM/watch?v=${ID}`,
    `https://www.youtube.com/watch?v=${ID}&t=42s`,
    `https://www.youtube.com/watch?feature=share&v=${ID}&list=PL123&index=4`,
    `https://www.youtube.com/watch?v=${ID}#t=1m2s`,
    `https://m.youtube.com/watch?v=${ID}`,
    `https://music.youtube.com/watch?v=${ID}&si=abc`,
    `https://youtu.be/${ID}`,
    `https://youtu.be/${ID}?t=10`,
    `https://youtu.be/${ID}?si=XyZ123&t=5`,
    `https://www.youtube.com/shorts/${ID}`,
    `https://youtube.com/shorts/${ID}?feature=share`,
    `https://www.youtube.com/embed/${ID}?start=30&autoplay=1`,
    `https://www.youtube-nocookie.com/embed/${ID}`,
    `https://www.youtube.com/live/${ID}?si=abc`,
    `https://www.youtube.com/v/${ID}`,
    `youtu.be/${ID}`,
    `www.youtube.com/watch?v=${ID}`,
    `  https://youtu.be/${ID}  `,
    `https://www.youtube.com:443/watch?v=${ID}`,
  ];
  for (const form of forms) {
    it(`normalises ${JSON.stringify(form)}`, () => {
      assert.equal(normalizeVideoUrl(form), CANONICAL);
      assert.equal(parseYouTubeVideoId(form), ID);
      const described = describeVideoUrl(form);
      assert.equal(described.source, 'youtube');
      assert.equal(described.sourceVideoId, ID);
    });
  }

  it('keeps the case of the id (ids are case-sensitive)', () => {
    assert.equal(
      normalizeVideoUrl('https://youtu.be/AbCdEfGhIjK'),
      'https://www.youtube.com/watch?v=AbCdEfGhIjK',
    );
    assert.equal(parseYouTubeVideoId('https://youtu.be/abcdefghijk'), 'abcdefghijk');
  });

  it('rejects YouTube URLs without a valid video id', () => {
    for (const bad of [
      'https://www.youtube.com/',
      'https://www.youtube.com/watch',
      'https://www.youtube.com/watch?v=short',
      `https://www.youtube.com/watch?v=${ID}x`,
      'https://www.youtube.com/channel/UC1234567890',
      'https://www.youtube.com/@somechannel',
      'https://youtu.be/',
      'https://www.youtube.com/playlist?list=PL1234',
      `https://www.youtube.com/watch?v=${ID.slice(0, 10)}!`,
    ]) {
      assert.throws(
        () => normalizeVideoUrl(bad),
        (e: unknown) => e instanceof StoreError && e.code === StoreErrorCode.InvalidUrl,
        bad,
      );
      assert.equal(parseYouTubeVideoId(bad), undefined, bad);
    }
  });

  it('parseYouTubeVideoId returns undefined for other sites and non-URLs', () => {
    assert.equal(parseYouTubeVideoId('https://vimeo.com/12345678'), undefined);
    assert.equal(parseYouTubeVideoId(ID), undefined);
    assert.equal(parseYouTubeVideoId(''), undefined);
    assert.equal(parseYouTubeVideoId('not a url'), undefined);
    assert.equal(parseYouTubeVideoId(`ftp://youtu.be/${ID}`), undefined);
    assert.equal(parseYouTubeVideoId(`https://notyoutube.com/watch?v=${ID}`), undefined);
    assert.equal(parseYouTubeVideoId(`https://youtube.com.evil.example/watch?v=${ID}`), undefined);
  });
});

describe('normalizeVideoUrl: other URLs', () => {
  it('lowercases the host, drops the fragment, default port and tracking parameters', () => {
    assert.equal(
      normalizeVideoUrl(
        'HTTPS://Videos.Example.COM:443/Path/Clip.MP4?utm_source=x&id=7&UTM_Medium=y&fbclid=z#frag',
      ),
      'https://videos.example.com/Path/Clip.MP4?id=7',
    );
    assert.equal(normalizeVideoUrl('http://example.com:80/a'), 'http://example.com/a');
    assert.equal(normalizeVideoUrl('http://example.com:8080/a'), 'http://example.com:8080/a');
    assert.equal(normalizeVideoUrl('https://example.com/v?utm_campaign=1'), 'https://example.com/v');
    assert.equal(normalizeVideoUrl('https://example.com/v?'), 'https://example.com/v');
    assert.equal(describeVideoUrl('https://vimeo.com/1').source, 'url');
    assert.equal(describeVideoUrl('https://vimeo.com/1').sourceVideoId, null);
  });

  it('keeps meaningful query parameters in their order and the path case', () => {
    assert.equal(
      normalizeVideoUrl('https://cdn.example/a/B.mp4?z=1&a=2'),
      'https://cdn.example/a/B.mp4?z=1&a=2',
    );
  });

  it('two spellings of the same URL give the same string', () => {
    assert.equal(
      normalizeVideoUrl('https://EXAMPLE.com/v.mp4#t=3'),
      normalizeVideoUrl('https://example.com:443/v.mp4?utm_source=newsletter'),
    );
  });

  it('rejects bad input with a typed error naming the input, never its password', () => {
    const cases: Array<[unknown, RegExp]> = [
      ['', /empty/],
      ['   ', /empty/],
      ['not a url', /not an absolute URL/],
      ['ftp://example.com/file.mp4', /unsupported scheme ftp:/],
      ['javascript:alert(1)', /unsupported scheme/],
      ['file:///etc/passwd', /unsupported scheme/],
      ['example.com/video.mp4', /not an absolute URL/],
      ['https://user:hunter2secret@example.com/v.mp4', /credentials/],
      [`https://example.com/${'a'.repeat(2100)}`, /longer than 2048/],
      ['https://example.com/\0', /NUL/],
      [undefined, /empty/],
      [42, /empty/],
    ];
    for (const [input, why] of cases) {
      assert.throws(
        () => normalizeVideoUrl(input as string),
        (e: unknown) => {
          assert.ok(e instanceof StoreError);
          assert.equal(e.code, 'ERR_STORE_INVALID_URL');
          assert.match(e.message, why);
          assert.doesNotMatch(e.message, /hunter2secret/);
          if (
            typeof input === 'string' &&
            input.trim() !== '' &&
            input.length < 100 &&
            !input.includes('@')
          ) {
            assert.ok(e.message.includes(JSON.stringify(input.replaceAll('\0', '')).slice(1, -1)), e.message);
          }
          return true;
        },
        String(input),
      );
    }
  });
});

describe('describeVideoUrl: the fast path for inputs already in canonical form', () => {
  // A leading space takes the full parser (it trims); the two answers must be the same.
  const viaFullParser = (input: string): unknown => {
    try {
      return describeVideoUrl(` ${input}`);
    } catch (error) {
      return (error as { code?: string }).code;
    }
  };
  const direct = (input: string): unknown => {
    try {
      return describeVideoUrl(input);
    } catch (error) {
      return (error as { code?: string }).code;
    }
  };

  it('agrees with the full parser on plain, tricky and invalid inputs', () => {
    const inputs = [
      'https://www.youtube.com/watch?v=dQw4w9WgXcQ',
      'https://www.youtube.com/watch?v=dQw4w9WgXc',
      'https://cdn.example.com/bench/v/1.mp4',
      'http://example.com/a/b/c',
      'https://example.com/a/b/',
      'https://example.com/',
      'https://example.com',
      "https://a.b-c.example.org/x_y~z/(1)/it's/@me:8080",
      'https://example.com/./a',
      'https://example.com/a/../b',
      'https://example.com/a//b',
      'https://example.com/.well-known/x',
      'https://example.com/a%20b',
      'https://example.com/a b',
      'https://Example.com/a',
      'HTTPS://example.com/a',
      'https://example.com:443/a',
      'https://example.com./a',
      'https://0x7f.1/a',
      'https://1.2.3.4/a',
      'https://127.0.0.1/a',
      'https://foo.0x10/a',
      'https://xn--nxasmq6b.com/a',
      'https://xn--a.com/a',
      'https://example.com/a?utm_source=x',
      'https://example.com/a#frag',
      'https://youtu.be/dQw4w9WgXcQ',
      'https://m.youtube.com/watch?v=dQw4w9WgXcQ',
      'https://user:pw@example.com/a',
      `https://example.com/${'a'.repeat(2100)}`,
      'ftp://example.com/a',
    ];
    for (const input of inputs) assert.deepEqual(direct(input), viaFullParser(input), input);
  });
});
