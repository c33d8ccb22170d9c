import type { HttpResponse } from '../../http/index.js';
import type { WindowSpec } from '../../resilience/index.js';
import { headerValue } from '../shared.js';

export interface ElevenLabsWindowsOptions {
  /** Characters (credits) per period; no characters window when undefined. */
  characters?: number | undefined;
  /** When the character count resets (default: the first of next month, UTC, as monthly plans do). */
  nextReset?: ((now: number) => number) | undefined;
  /** The plan's concurrent-request limit. */
  concurrent: number;
}

function firstOfNextMonthUtc(now: number): number {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

/** ElevenLabs: characters per period and concurrent requests. */
export function elevenLabsWindows(options: ElevenLabsWindowsOptions): WindowSpec[] {
  const windows: WindowSpec[] = [];
  if (options.characters !== undefined) {
    windows.push({
      name: 'characters',
      kind: 'calendar',
      limit: options.characters,
      nextReset: options.nextReset ?? firstOfNextMonthUtc,
    });
  }
  windows.push({ name: 'concurrent', kind: 'concurrent', limit: options.concurrent });
  return windows;
}

/** Actual character cost of an answer (`character-cost` header), for a `characters` window. */
export function elevenLabsCharacterCost(response: HttpResponse): { characters: number } | undefined {
  const value = Number(headerValue(response.headers, 'character-cost'));
  return Number.isFinite(value) && value >= 0 ? { characters: value } : undefined;
}
