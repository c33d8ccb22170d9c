import type { WindowSpec } from './budget-backend.js';
import { nextPacificMidnight } from './pacific-time.js';

/** YouTube Data API v3 quota units per method (Google's published costs; override per project). */
export const YOUTUBE_QUOTA_COSTS: Readonly<Record<string, number>> = Object.freeze({
  'videos.list': 1,
  'channels.list': 1,
  'playlistItems.list': 1,
  'playlists.list': 1,
  'commentThreads.list': 1,
  'captions.list': 50,
  'captions.download': 200,
  'search.list': 100,
  'videos.insert': 1600,
});

/** Windows for a YouTube project: daily units, reset at midnight America/Los_Angeles. */
export function youtubeQuotaWindows(dailyUnits = 10_000): WindowSpec[] {
  return [{ name: 'units', kind: 'calendar', limit: dailyUnits, nextReset: nextPacificMidnight }];
}

export function youtubeCost(
  operation: string,
  costs: Readonly<Record<string, number>> = YOUTUBE_QUOTA_COSTS,
): {
  units: number;
} {
  return { units: costs[operation] ?? 1 };
}

/** OpenAI: requests and tokens per minute (the tier's limits). Cost `{ requests: 1, tokens: estimate }`. */
export function openAiWindows(requestsPerMinute: number, tokensPerMinute: number): WindowSpec[] {
  return [
    { name: 'requests', limit: requestsPerMinute, windowMs: 60_000 },
    { name: 'tokens', limit: tokensPerMinute, windowMs: 60_000 },
  ];
}

/** ElevenLabs: characters per period (monthly plans; pass the reset) and concurrent requests. */
export function elevenLabsWindows(options: {
  characters: number;
  nextReset: (now: number) => number;
  concurrent: number;
}): WindowSpec[] {
  return [
    { name: 'characters', kind: 'calendar', limit: options.characters, nextReset: options.nextReset },
    { name: 'concurrent', kind: 'concurrent', limit: options.concurrent },
  ];
}

/** Stability: 150 requests per 10 s. */
export function stabilityWindows(requestsPer10s = 150): WindowSpec[] {
  return [{ name: 'requests', limit: requestsPer10s, windowMs: 10_000 }];
}
