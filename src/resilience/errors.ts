import { defineErrorCodes, OpusError, type OpusErrorOptions } from '../core/index.js';

export const ResilienceErrorCode = defineErrorCodes('resilience', {
  CircuitOpen: {
    code: 'ERR_CIRCUIT_OPEN',
    class: 'transient',
    meaning: 'A circuit breaker is open: the dependency failed too often and calls are refused for a while.',
    action: 'Wait until retryAt (the half-open probe); nothing was sent.',
  },
  RateLimited: {
    code: 'ERR_RATE_LIMITED',
    class: 'transient',
    meaning: "A budget cannot grant the cost before the caller's deadline (rate window full).",
    action: 'Retry at retryAt, or give the call a longer deadline.',
  },
  QuotaExhausted: {
    code: 'ERR_QUOTA_EXHAUSTED',
    class: 'transient',
    meaning: "The provider's quota for the period is spent (YouTube units until Pacific midnight, ...).",
    action: 'Wait until retryAt (the quota reset); jobs are delayed to it automatically.',
  },
  ConcurrencyLimited: {
    code: 'ERR_CONCURRENCY_LIMITED',
    class: 'transient',
    meaning: "An adaptive concurrency limit had no free permit before the caller's deadline.",
    action: 'Retry later, or give the call a longer deadline; the dependency is answering slowly.',
  },
});

/** Base of every error this layer raises. `retryAt` (epoch ms) tells a job queue when to try again. */
export class ResilienceError extends OpusError {
  constructor(code: string, message: string, options: OpusErrorOptions = {}) {
    super(code, message, {
      ...options,
      details: {
        ...(options.details ?? {}),
        ...(options.retryAt === undefined ? {} : { retryAt: options.retryAt }),
      },
    });
  }
}

export class CircuitOpenError extends ResilienceError {
  constructor(message: string, options: OpusErrorOptions = {}) {
    super(ResilienceErrorCode.CircuitOpen, message, options);
  }
}

/** A budget refused a reservation because waiting for it would pass the caller's deadline. */
export class RateLimitedError extends ResilienceError {
  constructor(message: string, options: OpusErrorOptions = {}) {
    super(ResilienceErrorCode.RateLimited, message, options);
  }
}

/** An AdaptiveConcurrency limit had no permit free before the caller's deadline. */
export class ConcurrencyLimitedError extends ResilienceError {
  constructor(message: string, options: OpusErrorOptions = {}) {
    super(ResilienceErrorCode.ConcurrencyLimited, message, options);
  }
}

/** The cost can never fit before the next reset (daily quota spent), or the service said so. */
export class QuotaExhaustedError extends ResilienceError {
  constructor(message: string, options: OpusErrorOptions = {}) {
    super(ResilienceErrorCode.QuotaExhausted, message, options);
  }
}
