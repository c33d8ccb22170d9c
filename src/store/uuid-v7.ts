import { randomFillSync } from 'node:crypto';

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
/** Random bytes drawn 16 KiB at a time: one syscall per 1,638 ids (10 bytes each) instead of one per id. */
const POOL = Buffer.alloc(16 * 1024);
let offset = POOL.length;
let lastMs = -1;
let counter = 0;

/**
 * A UUID version 7 (RFC 9562): 48-bit Unix milliseconds, then a 12-bit counter (method 1: it starts at a
 * random value below 2^11 each millisecond and counts up within it), then 62 random bits. Ids from one
 * process are strictly increasing, even when the wall clock steps back, so primary-key inserts stay
 * append-only in every dialect's B-tree.
 *
 * Why not the `uuid` package's v7: it measured 0.68-0.88 µs per id here against 0.25 µs for this, and a
 * 100,000-video batch insert generates one per row.
 */
export function uuidv7(now: number = Date.now()): string {
  if (offset + 10 > POOL.length) {
    randomFillSync(POOL);
    offset = 0;
  }
  const r = POOL;
  const o = offset;
  offset += 10;
  if (now > lastMs) {
    lastMs = now;
    counter = ((r[o]! & 0x07) << 8) | r[o + 1]!;
  } else if (++counter > 0xfff) {
    // 4,096 ids in one millisecond: borrow the next one (the clock catches up with it soon enough).
    lastMs++;
    counter = 0;
  }
  const hi = Math.floor(lastMs / 0x100000000) & 0xffff;
  const lo = lastMs >>> 0;
  // The concatenation is a rope of 20 pieces (~490 bytes); toLowerCase() returns it flat (~56 bytes),
  // which is what 100,000 ids held by a batch must be. The `uuid` package does the same.
  return (
    HEX[hi >>> 8]! +
    HEX[hi & 0xff]! +
    HEX[lo >>> 24]! +
    HEX[(lo >>> 16) & 0xff]! +
    '-' +
    HEX[(lo >>> 8) & 0xff]! +
    HEX[lo & 0xff]! +
    '-' +
    HEX[0x70 | (counter >>> 8)]! +
    HEX[counter & 0xff]! +
    '-' +
    HEX[0x80 | (r[o + 2]! & 0x3f)]! +
    HEX[r[o + 3]!]! +
    '-' +
    HEX[r[o + 4]!]! +
    HEX[r[o + 5]!]! +
    HEX[r[o + 6]!]! +
    HEX[r[o + 7]!]! +
    HEX[r[o + 8]!]! +
    HEX[r[o + 9]!]!
  ).toLowerCase();
}
