import { OpusError, type OpusErrorOptions } from '../core/index.js';

export const ResilienceErrorCode = {
  CircuitOpen: 'ERR_CIRCUIT_OPEN',
  RateLimited: 'ERR_RATE_LIMITED',
  QuotaExhausted: 'ERR_QUOTA_EXHAUSTED',
  QueueFull: 'ERR_QUEUE_FULL',
} as const;

/** Base of every error this layer raises. `retryAt` (epoch ms) tells a job queue when to try again. */
export class ResilienceError extends OpusError {
  readonly retryAt: number | undefined;

  constructor(code: string, message: string, options: OpusErrorOptions & { retryAt?: number } = {}) {
    super(code, message, {
      ...options,
      details: {
        ...(options.details ?? {}),
        ...(options.retryAt === undefined ? {} : { retryAt: options.retryAt }),
      },
    });
    this.retryAt = options.retryAt;
  }
}

export class CircuitOpenError extends ResilienceError {
  constructor(message: string, options: OpusErrorOptions & { retryAt?: number } = {}) {
    super(ResilienceErrorCode.CircuitOpen, message, options);
  }
}

/** A budget refused a reservation because waiting for it would pass the caller's deadline. */
export class RateLimitedError extends ResilienceError {
  constructor(message: string, options: OpusErrorOptions & { retryAt?: number } = {}) {
    super(ResilienceErrorCode.RateLimited, message, options);
  }
}

/** The cost can never fit before the next reset (daily quota spent), or the service said so. */
export class QuotaExhaustedError extends ResilienceError {
  constructor(message: string, options: OpusErrorOptions & { retryAt?: number } = {}) {
    super(ResilienceErrorCode.QuotaExhausted, message, options);
  }
}

export class QueueFullError extends ResilienceError {
  constructor(message: string, options: OpusErrorOptions = {}) {
    super(ResilienceErrorCode.QueueFull, message, options);
  }
}
