import type { OpusError } from '../core/errors.js';

/**
 * What the pipeline needs from the outside world, as narrow ports. `createPipelinePorts()` adapts the
 * API clients (real or sandbox) to them; tests and users can plug in their own (a local transcriber,
 * another image generator).
 */
export interface VideoMetadata {
  videoId: string;
  title: string;
  description: string;
  channelId: string | null;
  channelTitle: string | null;
  publishedAt: Date | null;
  durationSeconds: number | null;
  viewCount: number | null;
  likeCount: number | null;
  hasCaptions: boolean;
}

export type Lookup<T> = { ok: true; value: T } | { ok: false; error: OpusError };

export interface TranscriptSegment {
  start: number;
  end: number;
  text: string;
}

export type TranscriptSourceKind = 'captions' | 'speech-to-text' | 'title-and-description';

export interface Transcript {
  source: TranscriptSourceKind;
  segments: TranscriptSegment[];
}

export interface HighlightCandidate {
  start: number;
  end: number;
  title: string;
  caption: string;
  score: number;
}

export interface GeneratedAsset {
  bytes: Uint8Array;
  /** File extension without the dot: png, jpeg, webp, mp3, wav… */
  extension: string;
}

export interface PipelinePorts {
  /** Up to 50 ids per call; one result per id, in order. */
  getVideos(ids: readonly string[], signal: AbortSignal | undefined): Promise<Array<Lookup<VideoMetadata>>>;
  /** Captions when the credentials allow them, else undefined (the pipeline falls back). */
  getCaptions?(
    video: VideoMetadata,
    signal: AbortSignal | undefined,
  ): Promise<TranscriptSegment[] | undefined>;
  /** Speech-to-text of a local media file, when one is configured for the video. */
  transcribe?(
    video: VideoMetadata,
    signal: AbortSignal | undefined,
  ): Promise<TranscriptSegment[] | undefined>;
  /** Up to `count` clips, each `minClipMs` to `maxClipMs` long; times in seconds, as the transcript's. */
  selectHighlights(
    video: VideoMetadata,
    transcript: Transcript,
    options: { count: number; minClipMs: number; maxClipMs: number },
    signal: AbortSignal | undefined,
  ): Promise<HighlightCandidate[]>;
  generateThumbnail(
    video: VideoMetadata,
    clip: { title: string; caption: string },
    signal: AbortSignal | undefined,
  ): Promise<GeneratedAsset>;
  narrate?(text: string, signal: AbortSignal | undefined): Promise<GeneratedAsset>;
  /** API calls made so far, per service (for the summary). */
  callCounts?(): Record<string, number>;
}

/**
 * The media stage: downloading and cutting the video itself is outside this layer. The default does
 * nothing; a deployment plugs in its own (yt-dlp and ffmpeg, a media service) and gets the stored video
 * and its clips.
 */
export type MediaHook = (
  video: { id: string; url: string; sourceVideoId: string | null },
  signal: AbortSignal | undefined,
) => Promise<void>;

export const noMedia: MediaHook = async () => {};
