import { redactUrl } from '../core/index.js';
import { StoreError, StoreErrorCode } from './errors.js';

/** Longest normalised URL accepted: keeps the unique index within every dialect's key-size limit. */
export const MAX_URL_LENGTH = 2048;

const YOUTUBE_ID = /^[A-Za-z0-9_-]{11}$/;
/** Hosts serving YouTube videos, after lowercasing and dropping a leading `www.`/`m.`/`music.`. */
const YOUTUBE_HOSTS = new Set(['youtube.com', 'youtube-nocookie.com']);
/** Path prefixes whose next segment is the video id (`/shorts/<id>`, `/embed/<id>`, ...). */
const ID_PATH_PREFIXES = new Set(['shorts', 'embed', 'live', 'v', 'e', 'watch']);
/** Query parameters that only track the visitor; they never change which video a URL points to. */
const TRACKING_PARAMS = new Set(['fbclid', 'gclid', 'dclid', 'msclkid', 'igshid', 'mc_cid', 'mc_eid']);
/** A query that may hold one of the parameters above (a cheap pre-check). */
const TRACKING_HINT = /[?&](?:utm_|fbclid|gclid|dclid|msclkid|igshid|mc_cid|mc_eid)/i;
/** Scheme-less input is accepted for YouTube hosts only ("youtu.be/abc" is what people paste). */
const SCHEMELESS_YOUTUBE = /^(?:(?:www\.|m\.|music\.)?youtube(?:-nocookie)?\.com|youtu\.be)\//i;

function invalidUrl(input: unknown, why: string): StoreError {
  // The input may carry credentials (user:pass@host, ?key=): name it, but redacted and bounded.
  const shown = typeof input === 'string' ? redactUrl(input).slice(0, 200) : String(typeof input);
  return new StoreError(StoreErrorCode.InvalidUrl, `Invalid video URL ${JSON.stringify(shown)}: ${why}`, {
    details: { field: 'url', reason: why },
  });
}

function parseUrl(input: string): URL | undefined {
  const trimmed = input.trim();
  const candidate = SCHEMELESS_YOUTUBE.test(trimmed) ? `https://${trimmed}` : trimmed;
  // One parse (URL.canParse + new URL would be two): batch inserts normalise every row.
  try {
    return new URL(candidate);
  } catch {
    return undefined;
  }
}

function youTubeHost(hostname: string): 'youtu.be' | 'youtube' | undefined {
  // URL has already lowercased the host; most hosts are not YouTube, so answer those cheaply.
  if (!hostname.includes('youtu')) return undefined;
  const host = hostname.replace(/\.$/, '');
  if (host === 'youtu.be' || host === 'www.youtu.be') return 'youtu.be';
  const bare = host.replace(/^(?:www|m|music)\./, '');
  return YOUTUBE_HOSTS.has(bare) ? 'youtube' : undefined;
}

function idFromParsed(url: URL): string | undefined {
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  const kind = youTubeHost(url.hostname);
  if (kind === undefined) return undefined;
  const segments = url.pathname.split('/').filter((s) => s.length > 0);
  let candidate: string | null | undefined;
  if (kind === 'youtu.be') {
    candidate = segments[0];
  } else if (segments[0] === 'watch' && segments.length === 1) {
    candidate = url.searchParams.get('v');
  } else if (segments[0] !== undefined && ID_PATH_PREFIXES.has(segments[0])) {
    candidate = segments[1];
  }
  return candidate != null && YOUTUBE_ID.test(candidate) ? candidate : undefined;
}

/**
 * The YouTube video id of a URL in any of its forms (watch?v=, youtu.be/, shorts/, embed/, live/, v/,
 * m./music./nocookie hosts, with or without scheme, extra parameters and timestamps), or undefined when
 * the input is not a YouTube video URL. A bare id is not accepted: pass a URL.
 */
export function parseYouTubeVideoId(url: string): string | undefined {
  if (typeof url !== 'string') return undefined;
  const parsed = parseUrl(url);
  return parsed === undefined ? undefined : idFromParsed(parsed);
}

export interface NormalizedVideoUrl {
  /** The canonical form stored in `videos.url_normalized` (unique). */
  url: string;
  source: 'youtube' | 'url';
  /** The YouTube video id when `source` is 'youtube'. */
  sourceVideoId: string | null;
}

/**
 * Canonicalises a video URL so that every way of writing the same video gives the same string.
 * YouTube: `https://www.youtube.com/watch?v=<id>`. Other http(s) URLs: lowercase host, no fragment, no
 * default port, no `utm_*` or click-id tracking parameters. Throws ERR_STORE_INVALID_URL otherwise.
 */
export function describeVideoUrl(input: string): NormalizedVideoUrl {
  const fast = alreadyNormal(input);
  if (fast !== undefined) return fast;
  if (typeof input !== 'string' || input.trim().length === 0) throw invalidUrl(input, 'empty');
  if (input.includes('\0')) throw invalidUrl(input.replaceAll('\0', ''), 'contains a NUL character');
  const parsed = parseUrl(input);
  if (parsed === undefined) throw invalidUrl(input, 'not an absolute URL');
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw invalidUrl(input, `unsupported scheme ${parsed.protocol}`);
  }
  if (parsed.hostname === '') throw invalidUrl(input, 'no host');
  if (parsed.username !== '' || parsed.password !== '') throw invalidUrl(input, 'contains credentials');
  if (youTubeHost(parsed.hostname) !== undefined) {
    const id = idFromParsed(parsed);
    if (id === undefined) throw invalidUrl(input, 'a YouTube URL without a video id');
    return { url: `https://www.youtube.com/watch?v=${id}`, source: 'youtube', sourceVideoId: id };
  }
  if (parsed.hash !== '') parsed.hash = '';
  // searchParams is built lazily and costs more than the rest; batches normalise every row.
  if (TRACKING_HINT.test(parsed.search)) {
    for (const key of [...parsed.searchParams.keys()]) {
      const lower = key.toLowerCase();
      if (lower.startsWith('utm_') || TRACKING_PARAMS.has(lower)) parsed.searchParams.delete(key);
    }
  }
  // Deleting re-serialises the query (only then); an empty query leaves no dangling '?'.
  const href = parsed.href.replace(/\?$/, '');
  if (href.length > MAX_URL_LENGTH) throw invalidUrl(input, `longer than ${MAX_URL_LENGTH} characters`);
  return { url: href, source: 'url', sourceVideoId: null };
}

/** A canonical YouTube watch URL, exactly as the full path writes it. */
const CANONICAL_WATCH = /^https:\/\/www\.youtube\.com\/watch\?v=([A-Za-z0-9_-]{11})$/;
/**
 * An http(s) URL that WHATWG parsing would give back unchanged: lowercase host without port or trailing
 * dot whose last label starts with a letter (else it could be an IPv4 address in disguise), a path of
 * plain characters with no `.`/`..` segment and no empty one, no query, no fragment. Punycode labels
 * (`xn--`) are left to the full parser, which validates them.
 */
const PLAIN_URL =
  /^https?:\/\/[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z][a-z0-9-]*(?:\/[A-Za-z0-9_~!$&'()*+,;=:@-][A-Za-z0-9_.~!$&'()*+,;=:@-]*)+\/?$/;

/**
 * Most inputs of a batch are already in canonical form: answering those without a URL parse halves the
 * per-row cost of a large insert. Anything else, or anything near a rule (YouTube hosts, dot segments,
 * queries), takes the full path; test/store/normalize-video-url.test.ts checks both agree.
 */
function alreadyNormal(input: string): NormalizedVideoUrl | undefined {
  if (typeof input !== 'string' || input.length > MAX_URL_LENGTH) return undefined;
  const watch = CANONICAL_WATCH.exec(input);
  if (watch) return { url: input, source: 'youtube', sourceVideoId: watch[1]! };
  if (!PLAIN_URL.test(input) || input.includes('youtu') || input.includes('xn--')) return undefined;
  return { url: input, source: 'url', sourceVideoId: null };
}

/** `describeVideoUrl(input).url`. */
export function normalizeVideoUrl(input: string): string {
  return describeVideoUrl(input).url;
}
