import { type Clock, systemClock } from '../core/index.js';

/** At most this many hit-path reads share one reading of the system clock. */
export const CALLS_PER_READING = 64;

/**
 * `clock.now()` for the L1 hit path, where a `Date.now()` costs as much as the whole hit. On the system
 * clock one reading serves every call until a 1 ms timer expires it, as in core's `coarseNow`, and also
 * for at most 64 calls: a loop that only awaits settled promises (`for (;;) await cache.getOrSet(k, f)`)
 * never lets a timer fire, and would otherwise see time stand still, so entries would never expire and
 * the staleness bound would never trip. 64 hits take microseconds, so the reading is never more than
 * about a millisecond old while the process runs. Any other clock (a FakeClock in tests) is asked every
 * time.
 */
export function coarseClock(clock: Clock): () => number {
  if (clock !== systemClock) return () => clock.now();
  let now = 0;
  let left = 0;
  let armed = false;
  const expire = (): void => {
    left = 0;
    armed = false;
  };
  return () => {
    if (--left > 0) return now;
    now = Date.now();
    left = CALLS_PER_READING;
    if (!armed) {
      armed = true;
      setTimeout(expire, 1).unref();
    }
    return now;
  };
}
