const LA = 'America/Los_Angeles';

const partsFormat = new Intl.DateTimeFormat('en-US', {
  timeZone: LA,
  year: 'numeric',
  month: 'numeric',
  day: 'numeric',
  hour: 'numeric',
  minute: 'numeric',
  second: 'numeric',
  hourCycle: 'h23',
});

/** Offset of a time zone from UTC at `epochMs`, in ms (Los Angeles: -8 h in winter, -7 h in summer). */
function offsetAt(epochMs: number): number {
  const parts: Record<string, number> = {};
  for (const p of partsFormat.formatToParts(new Date(epochMs))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  const asUtc = Date.UTC(
    parts.year!,
    parts.month! - 1,
    parts.day!,
    parts.hour!,
    parts.minute!,
    parts.second!,
  );
  return asUtc - Math.floor(epochMs / 1000) * 1000;
}

/**
 * The next midnight in America/Los_Angeles after `epochMs` (YouTube Data API quotas reset then).
 * Uses Intl so daylight-saving changes are handled by the platform's time-zone data, not by us.
 */
export function nextPacificMidnight(epochMs: number): number {
  const offset = offsetAt(epochMs);
  const local = new Date(epochMs + offset);
  const localMidnight = Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate() + 1);
  // The offset at midnight may differ from now (DST changes at 02:00); one correction settles it.
  let guess = localMidnight - offset;
  guess = localMidnight - offsetAt(guess);
  return guess;
}
