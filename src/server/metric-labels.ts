/**
 * Keeps Prometheus label values bounded: every distinct value is a series of its own, so a value that
 * carries an id (a raw path, a video id) would grow the series without end.
 */

/**
 * A path segment that is an id rather than a name: a number, a UUID, a token of 8 or more characters
 * with a digit in it (`dQw4w9WgXcQ`, `21m00Tcm4TlvDq8ikWAM`), or any token of 20 or more characters
 * that is not lowercase words joined by hyphens (`UCaaaaaaaaaaaaaaaaaaaaaa`). Short versioned names
 * (`v1`, `sd3`), camelCase names (`playlistItems`) and `text-to-speech` stay.
 */
const ID_SEGMENT =
  /^(?:\d+|[0-9a-fA-F-]{32,36}|(?=[^/]*\d)[A-Za-z0-9_.~-]{8,}|(?![a-z]+(?:-[a-z]+)*$)[A-Za-z0-9_.~-]{20,})$/;

/** Longest label value kept; longer ones are cut (names, not payloads, belong in labels). */
const MAX_LENGTH = 80;

/**
 * An endpoint label as a template: an operation name (`videos.list`) is kept; a path has every id-like
 * segment replaced by `:id` (`/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM` → `/v1/text-to-speech/:id`) and
 * loses its query string.
 */
export function endpointTemplate(endpoint: string): string {
  const path = endpoint.split('?')[0] ?? '';
  if (!path.includes('/')) return path.slice(0, MAX_LENGTH) || 'unknown';
  const template = path
    .split('/')
    .map((segment) => (segment.length > 0 && ID_SEGMENT.test(segment) ? ':id' : segment))
    .join('/');
  return template.slice(0, MAX_LENGTH);
}

/**
 * Sums `counts` by label value after `normalize`, keeping at most `max` distinct values (in first-seen
 * order, so the kept ones stay the same from one scrape to the next); the rest add up under `other`.
 */
export function boundedCounts(
  counts: Record<string, number>,
  normalize: (value: string) => string,
  max: number,
): Map<string, number> {
  const out = new Map<string, number>();
  for (const [raw, n] of Object.entries(counts)) {
    const value = normalize(raw);
    const key = out.has(value) || out.size < max ? value : 'other';
    out.set(key, (out.get(key) ?? 0) + n);
  }
  return out;
}
