import type { Clock } from '../core/index.js';
import { Budget, RateLimitedError } from '../resilience/index.js';

/** A refused call: when the caller may try again (epoch ms). */
export interface CallerRefusal {
  retryAt: number;
}

/**
 * The per-caller limit of the gateway: `perMinute` requests in any sliding minute per caller (a service
 * key's fingerprint), counted in this process. `take` answers at once, never waits.
 */
export class GatewayCallerLimit {
  readonly #perMinute: number;
  readonly #clock: Clock;
  readonly #budgets = new Map<string, Budget>();

  constructor(perMinute: number, clock: Clock) {
    this.#perMinute = perMinute;
    this.#clock = clock;
  }

  /** Whether callers are limited at all (a limit of 0 means none). */
  get active(): boolean {
    return this.#perMinute > 0;
  }

  /** Counts one request of `caller`; a refusal when the caller is over its limit. */
  async take(caller: string): Promise<CallerRefusal | undefined> {
    if (this.#perMinute <= 0) return undefined;
    let budget = this.#budgets.get(caller);
    if (!budget) {
      budget = new Budget({
        name: `gateway caller ${caller}`,
        windows: [{ name: 'requests', limit: this.#perMinute, windowMs: 60_000 }],
        clock: this.#clock,
      });
      this.#budgets.set(caller, budget);
    }
    const now = this.#clock.now();
    const granted = budget.tryReserveNow(1);
    if (granted) {
      await granted.commit();
      return undefined;
    }
    try {
      const reservation = await budget.reserve(1, { deadline: now });
      await reservation.commit();
      return undefined;
    } catch (error) {
      if (error instanceof RateLimitedError) return { retryAt: error.retryAt ?? now + 1000 };
      return { retryAt: now + 60_000 };
    }
  }
}
