import { abortReason } from './abort.js';

/**
 * Time comes from a Clock so that rate limiters, breakers, TTLs and backoff can be tested without waiting.
 * `now()` is wall-clock epoch milliseconds (quota resets are tied to calendar time).
 */
export interface Clock {
  now(): number;
  /** Resolves after `ms`; rejects with an AbortedError when `signal` aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** A timer that does not keep the process alive; returns a cancel function. */
  setTimer(ms: number, callback: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep(ms, signal) {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(abortReason(signal));
        return;
      }
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(abortReason(signal!));
      };
      const timer = setTimeout(
        () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        Math.max(0, ms),
      );
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  },
  setTimer(ms, callback) {
    const timer = setTimeout(callback, Math.max(0, ms));
    timer.unref();
    return () => clearTimeout(timer);
  },
};

/** At most this many calls of a `coarseNow` function share one reading of the system clock. */
export const CALLS_PER_READING = 64;

/**
 * `clock.now()` for hot comparisons that tolerate a millisecond (cache hit paths, where a `Date.now()`
 * costs as much as the whole hit). On the system clock one reading serves every call until a 1 ms timer
 * expires it, and also for at most 64 calls: a loop that only awaits settled promises never lets a timer
 * fire, and would otherwise see time stand still. 64 calls take microseconds, so the reading is never
 * more than about a millisecond old while the process runs. Any other clock (a FakeClock in tests) is
 * asked every time.
 */
export function coarseNow(clock: Clock): () => number {
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
