import { abortReason, throwIfAborted } from './abort.js';

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

interface FakeTimer {
  at: number;
  seq: number;
  fire: () => void;
}

/**
 * A clock that only moves when told to. `advance` fires due timers in time order and lets the
 * promise jobs they trigger run before moving on, so code under test observes time as it would live.
 */
export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: FakeTimer[] = [];

  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  /** Number of timers waiting to fire. */
  get pending(): number {
    return this.#timers.length;
  }

  setTimer(ms: number, callback: () => void): () => void {
    const timer: FakeTimer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fire: callback };
    this.#timers.push(timer);
    return () => {
      this.#timers = this.#timers.filter((t) => t !== timer);
    };
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      try {
        throwIfAborted(signal);
      } catch (error) {
        reject(error);
        return;
      }
      const onAbort = (): void => {
        cancel();
        reject(abortReason(signal!));
      };
      const cancel = this.setTimer(ms, () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Moves time forward by `ms`, firing every timer due on the way. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    await flushMicrotasks();
    for (;;) {
      const next = this.#nextDue(target);
      if (!next) break;
      this.#timers = this.#timers.filter((t) => t !== next);
      this.#now = Math.max(this.#now, next.at);
      next.fire();
      await flushMicrotasks();
    }
    this.#now = target;
    await flushMicrotasks();
  }

  /** Jumps to an absolute time (must not go backwards). */
  async setTime(epochMs: number): Promise<void> {
    if (epochMs < this.#now) throw new RangeError('FakeClock cannot go backwards');
    await this.advance(epochMs - this.#now);
  }

  #nextDue(limit: number): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const t of this.#timers) {
      if (t.at > limit) continue;
      if (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    }
    return best;
  }
}

/** Lets queued promise callbacks (and those they queue) run. */
export async function flushMicrotasks(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
  await new Promise<void>((resolve) => setImmediate(resolve));
}

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
