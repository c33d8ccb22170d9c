import { type Clock, systemClock } from '../core/index.js';

export interface RetryBudgetOptions {
  /** Retries allowed as a fraction of calls over the window (0.2 = at most one retry per five calls). */
  ratio?: number;
  /** Retries always allowed per window, so a quiet service can still retry. */
  minRetries?: number;
  windowMs?: number;
  clock?: Clock;
}

const BUCKETS = 10;

/**
 * Keeps retries under a fraction of recent traffic, so that when a service degrades the client does not
 * multiply its load (the retry storm that turns a brown-out into an outage).
 */
export class RetryBudget {
  readonly #ratio: number;
  readonly #min: number;
  readonly #bucketMs: number;
  readonly #clock: Clock;
  #calls = new Float64Array(BUCKETS);
  #retries = new Float64Array(BUCKETS);
  #starts = new Float64Array(BUCKETS);

  constructor(options: RetryBudgetOptions = {}) {
    this.#ratio = options.ratio ?? 0.2;
    this.#min = options.minRetries ?? 10;
    this.#bucketMs = Math.max(1, Math.ceil((options.windowMs ?? 10_000) / BUCKETS));
    this.#clock = options.clock ?? systemClock;
  }

  /** Counts one first attempt. */
  recordCall(): void {
    this.#calls[this.#slot()]!++;
  }

  /** Takes one retry from the budget; false when retrying now would exceed it. */
  tryRetry(): boolean {
    const slot = this.#slot();
    const now = this.#clock.now();
    let calls = 0;
    let retries = 0;
    for (let i = 0; i < BUCKETS; i++) {
      if (this.#starts[i]! > now - this.#bucketMs * BUCKETS) {
        calls += this.#calls[i]!;
        retries += this.#retries[i]!;
      }
    }
    if (retries >= this.#min + this.#ratio * calls) return false;
    this.#retries[slot]!++;
    return true;
  }

  #slot(): number {
    const now = this.#clock.now();
    const start = now - (now % this.#bucketMs);
    const slot = Math.floor(start / this.#bucketMs) % BUCKETS;
    if (this.#starts[slot] !== start) {
      this.#starts[slot] = start;
      this.#calls[slot] = 0;
      this.#retries[slot] = 0;
    }
    return slot;
  }
}
