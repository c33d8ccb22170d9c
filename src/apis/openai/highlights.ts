import type { TimedSegment } from '../transcript.js';

export interface ClipCandidate {
  start: number;
  end: number;
  title: string;
  caption: string;
  /** 0-1, higher is better. */
  score: number;
}

export type ClipRejection =
  | 'not_finite'
  | 'outside_transcript'
  | 'too_short'
  | 'overlaps_better_clip'
  | 'beyond_count';

export interface ClipAdjustment {
  original: ClipCandidate;
  adjusted: ClipCandidate;
  reason: 'clamped_to_transcript' | 'shortened_to_max' | 'extended_to_min';
}

export interface HighlightSelection {
  /** Valid, non-overlapping clips in time order. */
  clips: ClipCandidate[];
  /** Candidates the model proposed that were dropped, and why. */
  dropped: Array<{ candidate: ClipCandidate; reason: ClipRejection }>;
  /** Candidates kept after their bounds were changed. */
  adjusted: ClipAdjustment[];
}

export interface ClipLimits {
  count: number;
  /** Shortest clip, in ms (clip bounds themselves are in seconds, as in the transcript). */
  minClipMs: number;
  /** Longest clip, in ms. */
  maxClipMs: number;
}

const round = (n: number): number => Math.round(n * 1000) / 1000;

/**
 * Checks model-proposed clips against the transcript and each other: bounds are clamped into the
 * transcript's range, lengths brought within [min, max] where the transcript allows, and of two
 * overlapping clips the higher-scored one is kept. Nothing is dropped or changed without a record.
 */
export function validateHighlights(
  candidates: readonly ClipCandidate[],
  segments: readonly TimedSegment[],
  limits: ClipLimits,
): HighlightSelection {
  const minSeconds = limits.minClipMs / 1000;
  const maxSeconds = limits.maxClipMs / 1000;
  const dropped: HighlightSelection['dropped'] = [];
  const adjusted: ClipAdjustment[] = [];
  const first = Math.min(...segments.map((s) => s.start));
  const last = Math.max(...segments.map((s) => s.end));
  const kept: ClipCandidate[] = [];
  for (const candidate of candidates) {
    const { start, end } = candidate;
    if (![start, end, candidate.score].every(Number.isFinite)) {
      dropped.push({ candidate, reason: 'not_finite' });
      continue;
    }
    if (end <= first || start >= last || end <= start) {
      dropped.push({ candidate, reason: 'outside_transcript' });
      continue;
    }
    let clip: ClipCandidate = { ...candidate, score: Math.min(1, Math.max(0, candidate.score)) };
    if (start < first || end > last) {
      const next = { ...clip, start: Math.max(first, start), end: Math.min(last, end) };
      adjusted.push({ original: clip, adjusted: next, reason: 'clamped_to_transcript' });
      clip = next;
    }
    if (clip.end - clip.start > maxSeconds) {
      const next = { ...clip, end: round(clip.start + maxSeconds) };
      adjusted.push({ original: clip, adjusted: next, reason: 'shortened_to_max' });
      clip = next;
    }
    if (clip.end - clip.start < minSeconds) {
      // Grow forward first, then backward, staying inside the transcript.
      const needed = minSeconds - (clip.end - clip.start);
      const newEnd = Math.min(last, clip.end + needed);
      const newStart = Math.max(first, clip.start - (needed - (newEnd - clip.end)));
      if (newEnd - newStart + 1e-9 < minSeconds) {
        dropped.push({ candidate, reason: 'too_short' });
        continue;
      }
      const next = { ...clip, start: round(newStart), end: round(newEnd) };
      adjusted.push({ original: clip, adjusted: next, reason: 'extended_to_min' });
      clip = next;
    }
    kept.push(clip);
  }
  const accepted: ClipCandidate[] = [];
  for (const clip of [...kept].sort((a, b) => b.score - a.score)) {
    const overlaps = accepted.some((a) => clip.start < a.end && a.start < clip.end);
    if (overlaps || accepted.length >= limits.count) {
      dropped.push({ candidate: clip, reason: overlaps ? 'overlaps_better_clip' : 'beyond_count' });
      continue;
    }
    accepted.push(clip);
  }
  return { clips: accepted.sort((a, b) => a.start - b.start), dropped, adjusted };
}
