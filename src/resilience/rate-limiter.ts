import type { Clock } from '../core/index.js';
import { Budget, type ReserveOptions } from './budget.js';
import type { BudgetBackend } from './budget-backend.js';

export interface RateLimiterOptions {
  clock?: Clock;
  backend?: BudgetBackend;
  name?: string;
}

/**
 * Requests per minute and, optionally, per hour, as sliding windows: no 60 s span ever holds more than
 * `requestsPerMinute` calls (a fixed-window counter allows twice that across a boundary). A Budget with
 * one `minute` and one `hour` window underneath.
 */
export class RateLimiter {
  readonly budget: Budget;

  constructor(
    requestsPerMinute: number,
    requestsPerHour = Number.POSITIVE_INFINITY,
    options: RateLimiterOptions = {},
  ) {
    const windows = [{ name: 'minute', limit: requestsPerMinute, windowMs: 60_000 }];
    if (Number.isFinite(requestsPerHour))
      windows.push({ name: 'hour', limit: requestsPerHour, windowMs: 3_600_000 });
    this.budget = new Budget({
      name: options.name ?? 'rate-limiter',
      windows,
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.backend ? { backend: options.backend } : {}),
    });
  }

  /** Waits for a slot and takes it. */
  async acquire(options: ReserveOptions = {}): Promise<void> {
    const reservation = await this.budget.reserve(1, options);
    await reservation.commit();
  }

  /** Alias of `acquire`. */
  waitIfNeeded(options: ReserveOptions = {}): Promise<void> {
    return this.acquire(options);
  }
}
