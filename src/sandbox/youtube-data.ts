import { createHash } from 'node:crypto';
import { hashId, hashSeed, Rng, sentence, titleCase, words } from './random.js';

/** What the real API accepts as a video id. */
export const VIDEO_ID_PATTERN = /^[A-Za-z0-9_-]{11}$/;

export interface TranscriptSegment {
  /** Seconds from the start of the video. */
  start: number;
  end: number;
  text: string;
}

export interface SandboxVideo {
  id: string;
  channelId: string;
  channelTitle: string;
  title: string;
  description: string;
  tags: string[];
  publishedAt: string;
  durationSeconds: number;
  /** ISO 8601, e.g. PT3M33S. */
  duration: string;
  categoryId: string;
  viewCount: number;
  likeCount: number;
  commentCount: number;
}

export interface SandboxChannel {
  id: string;
  handle: string;
  title: string;
  description: string;
  publishedAt: string;
  uploadsPlaylistId: string;
  videoCount: number;
  subscriberCount: number;
  viewCount: number;
}

/** How many channels the sandbox world has; every video belongs to one of them. */
const SANDBOX_CHANNEL_COUNT = 6;
const EPOCH_2019 = Date.UTC(2019, 0, 1);
const SPAN_MS = Date.UTC(2026, 0, 1) - EPOCH_2019;

/**
 * Ids the sandbox treats as deleted/private (absent from videos.list): ids starting with `missing`,
 * ids made of one repeated character (`xxxxxxxxxxx`, `00000000000`), plus the configured set.
 */
export function isMissingVideoId(id: string, extra: ReadonlySet<string> = new Set()): boolean {
  if (!VIDEO_ID_PATTERN.test(id)) return true;
  if (extra.has(id)) return true;
  if (id.startsWith('missing')) return true;
  return /^(.)\1{10}$/.test(id);
}

function isoDuration(totalSeconds: number): string {
  const h = Math.floor(totalSeconds / 3600);
  const m = Math.floor((totalSeconds % 3600) / 60);
  const s = totalSeconds % 60;
  return `PT${h ? `${h}H` : ''}${m ? `${m}M` : ''}${s || (!h && !m) ? `${s}S` : ''}`;
}

export function sandboxChannel(index: number): SandboxChannel {
  const rng = new Rng(`channel:${index}`);
  const id = `UC${hashId(`channel:${index}`, 22)}`;
  const name = titleCase(words(rng, 2));
  return {
    id,
    handle: `@sandboxchannel${index}`,
    title: `${name} Channel`,
    description: `Sandbox channel about ${words(rng, 3)}.`,
    publishedAt: new Date(EPOCH_2019 + Math.floor(rng.next() * SPAN_MS * 0.2)).toISOString(),
    uploadsPlaylistId: `UU${id.slice(2)}`,
    // Enough uploads for several pages of 50.
    videoCount: 70 + (hashSeed(`channel-size:${index}`) % 90),
    subscriberCount: rng.int(1_000, 5_000_000),
    viewCount: rng.int(100_000, 900_000_000),
  };
}

// Pure functions of their input, so memoising them is safe and keeps paging through uploads cheap.
let channelsMemo: SandboxChannel[] | undefined;
const uploadsMemo = new Map<string, string[]>();

export function sandboxChannels(): SandboxChannel[] {
  channelsMemo ??= Array.from({ length: SANDBOX_CHANNEL_COUNT }, (_, i) => sandboxChannel(i));
  return channelsMemo.map((c) => ({ ...c }));
}

export function findChannel(idOrHandle: string): SandboxChannel | undefined {
  const handle = (idOrHandle.startsWith('@') ? idOrHandle : `@${idOrHandle}`).toLowerCase();
  return sandboxChannels().find((c) => c.id === idOrHandle || c.handle === handle);
}

function channelIndexOf(videoId: string): number {
  return hashSeed(`owner:${videoId}`) % SANDBOX_CHANNEL_COUNT;
}

/** Every field of a (non-missing) video, derived from a hash of its id alone. */
export function sandboxVideo(id: string): SandboxVideo {
  const rng = new Rng(`video:${id}`);
  const channel = sandboxChannel(channelIndexOf(id));
  const durationSeconds = rng.int(45, 1500);
  const viewCount = rng.int(100, 20_000_000);
  const title = titleCase(sentence(rng, 2, 5).replace(/\.$/, ''));
  return {
    id,
    channelId: channel.id,
    channelTitle: channel.title,
    title,
    description: `${sentence(rng)} ${sentence(rng)}`,
    tags: words(rng, 4).split(' '),
    publishedAt: new Date(EPOCH_2019 + Math.floor(rng.next() * SPAN_MS))
      .toISOString()
      .replace(/\.\d+Z$/, 'Z'),
    durationSeconds,
    duration: isoDuration(durationSeconds),
    categoryId: String(rng.pick([1, 10, 20, 22, 24, 26, 27, 28])),
    viewCount,
    likeCount: Math.floor(viewCount * rng.next() * 0.08),
    commentCount: Math.floor(viewCount * rng.next() * 0.01),
  };
}

/**
 * The uploads of a channel, newest first. Ids are found by rejection sampling so that
 * `sandboxVideo(id).channelId` agrees with the channel without any shared state.
 */
export function channelUploads(channel: SandboxChannel): string[] {
  const cached = uploadsMemo.get(channel.id);
  if (cached) return [...cached];
  const index = sandboxChannels().findIndex((c) => c.id === channel.id);
  const found: Array<{ id: string; publishedAt: string }> = [];
  for (let n = 0; found.length < channel.videoCount; n++) {
    const id = hashId(`upload:${channel.id}:${n}`, 11);
    if (channelIndexOf(id) === index && !isMissingVideoId(id))
      found.push({ id, publishedAt: sandboxVideo(id).publishedAt });
  }
  const ids = found.sort((a, b) => b.publishedAt.localeCompare(a.publishedAt)).map((v) => v.id);
  uploadsMemo.set(channel.id, ids);
  return [...ids];
}

/** Search results for a query: a stable list whose length depends on the query. */
export function searchResults(query: string, channelId?: string): string[] {
  if (channelId !== undefined) {
    const channel = findChannel(channelId);
    return channel ? channelUploads(channel) : [];
  }
  const total = 30 + (hashSeed(`search-size:${query.toLowerCase()}`) % 90);
  return Array.from({ length: total }, (_, i) => hashId(`search:${query.toLowerCase()}:${i}`, 11));
}

export function thumbnails(videoId: string): Record<string, { url: string; width: number; height: number }> {
  const base = `https://i.ytimg.com/vi/${videoId}`;
  return {
    default: { url: `${base}/default.jpg`, width: 120, height: 90 },
    medium: { url: `${base}/mqdefault.jpg`, width: 320, height: 180 },
    high: { url: `${base}/hqdefault.jpg`, width: 480, height: 360 },
    standard: { url: `${base}/sddefault.jpg`, width: 640, height: 480 },
    maxres: { url: `${base}/maxresdefault.jpg`, width: 1280, height: 720 },
  };
}

/** The deterministic timed transcript of a sandbox video: 2-7 s cues covering its whole duration. */
export function sandboxTranscript(videoId: string): TranscriptSegment[] {
  const { durationSeconds } = sandboxVideo(videoId);
  const rng = new Rng(`transcript:${videoId}`);
  const segments: TranscriptSegment[] = [];
  let t = 0;
  while (t < durationSeconds) {
    const length = Math.round((2 + rng.next() * 5) * 10) / 10;
    const end = Math.min(durationSeconds, Math.round((t + length) * 10) / 10);
    segments.push({ start: t, end, text: sentence(rng, 3, 8) });
    t = end;
  }
  return segments;
}

function clock(seconds: number, separator: string, hours: 'always' | 'auto'): string {
  const ms = Math.round(seconds * 1000);
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = Math.floor((ms % 60_000) / 1000);
  const frac = String(ms % 1000).padStart(3, '0');
  const pad = (n: number): string => String(n).padStart(2, '0');
  const head = hours === 'always' ? `${pad(h)}:` : `${h}:`;
  return `${head}${pad(m)}:${pad(s)}${separator}${frac}`;
}

export type CaptionFormat = 'srt' | 'vtt' | 'sbv';

/** Renders cues the way captions.download does for `tfmt`. */
export function formatTranscript(segments: readonly TranscriptSegment[], format: CaptionFormat): string {
  if (format === 'srt') {
    return segments
      .map(
        (s, i) =>
          `${i + 1}\n${clock(s.start, ',', 'always')} --> ${clock(s.end, ',', 'always')}\n${s.text}\n`,
      )
      .join('\n');
  }
  if (format === 'vtt') {
    const cues = segments.map(
      (s) => `${clock(s.start, '.', 'always')} --> ${clock(s.end, '.', 'always')}\n${s.text}\n`,
    );
    return `WEBVTT\n\n${cues.join('\n')}`;
  }
  return segments
    .map((s) => `${clock(s.start, '.', 'auto')},${clock(s.end, '.', 'auto')}\n${s.text}\n`)
    .join('\n');
}

/** A stable etag for a response body, like the opaque ones YouTube sends. */
export function etagOf(value: unknown): string {
  return createHash('sha1').update(JSON.stringify(value)).digest('base64url').slice(0, 27);
}
