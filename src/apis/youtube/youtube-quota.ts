import type { WindowSpec } from '../../resilience/index.js';
import { nextPacificMidnight } from './pacific-midnight.js';

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

/** The units one call of `operation` (e.g. `search.list`) costs; an unlisted method costs 1. */
export function youtubeCost(
  operation: string,
  costs: Readonly<Record<string, number>> = YOUTUBE_QUOTA_COSTS,
): { units: number } {
  return { units: costs[operation] ?? 1 };
}
