import type { NewVideo } from './validation.js';

/** Rows per statement for IN lists and lookups: far below every dialect's parameter limit. */
const CHUNK = 1000;

/** `items` in consecutive slices of at most `size`. */
export function chunks<T>(items: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * The most a MariaDB batch statement may carry, estimated: half the default 16 MiB max_allowed_packet.
 * The database layer cuts batches into statements by row count only, so the store hands it groups of
 * rows small enough that any statement cut from them fits.
 */
export const MYSQL_BATCH_BYTES = 8 * 1024 * 1024;

/** At most this many UTF-8 bytes per UTF-16 unit, plus room for the numbers, ids and dates of a row. */
function textBytes(v: unknown): number {
  return typeof v === 'string' ? v.length * 3 : 0;
}
const ROW_OVERHEAD = 256;

/** The estimated size of a built row. */
export function rowBytes(row: readonly unknown[]): number {
  let bytes = ROW_OVERHEAD;
  for (const v of row) bytes += textBytes(v);
  return bytes;
}

/** The estimated size of the row a video input becomes (before it is validated). */
export function videoBytes(v: NewVideo): number {
  if (typeof v !== 'object' || v === null) return ROW_OVERHEAD;
  // The URL twice: as given and normalised.
  return (
    ROW_OVERHEAD +
    2 * textBytes(v.url) +
    textBytes(v.title) +
    textBytes(v.description) +
    textBytes(v.channelId) +
    textBytes(v.channelTitle) +
    textBytes(v.thumbnailPath)
  );
}

/** Consecutive [start, end) ranges of `n` rows whose estimated sizes add up to at most `budget` each. */
export function byteGroups(
  n: number,
  bytesOf: (i: number) => number,
  budget: number,
): Array<readonly [number, number]> {
  const groups: Array<readonly [number, number]> = [];
  let start = 0;
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const b = bytesOf(i);
    if (i > start && bytes + b > budget) {
      groups.push([start, i]);
      start = i;
      bytes = 0;
    }
    bytes += b;
  }
  groups.push([start, n]);
  return groups;
}
