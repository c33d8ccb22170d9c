import type { TranscriptSegment, VideoMetadata } from './pipeline-ports.js';

/**
 * When neither captions nor speech-to-text are available, the title and description stand in for a
 * transcript, spread evenly over the video's duration. The run records this source, so nobody mistakes
 * these clips for ones chosen from what is said in the video.
 */
export function titleAndDescriptionTranscript(video: VideoMetadata): TranscriptSegment[] {
  const sentences = `${video.title}. ${video.description}`
    .split(/(?<=[.!?])\s+|\n+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 1);
  const duration =
    video.durationSeconds && video.durationSeconds > 0 ? video.durationSeconds : sentences.length * 10;
  const step = duration / Math.max(1, sentences.length);
  return sentences.map((text, i) => ({
    start: round(i * step),
    end: round(Math.min(duration, (i + 1) * step)),
    text,
  }));
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
