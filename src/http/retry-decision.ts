import { type BackoffOptions, backoffDelay } from '../resilience/index.js';
import { type HttpError, neverSent } from './errors.js';
import type { HttpMethod, RequestOptions } from './http-types.js';

/** Where a failed call stands when the next attempt is being decided. */
export interface RetryContext {
  /** The attempt that just failed, 0 for the first. */
  attempt: number;
  /** The client's clock, now (epoch ms). */
  now: number;
  /** The call's deadline (epoch ms on the same clock). */
  deadlineAt: number;
  maxRetries: number;
  /** Repeating the request is harmless (see `isReplayable`). */
  replayable: boolean;
}

/** The backoff formula's settings, and the jitter's source (`Math.random` when not given). */
export interface RetryBackoff extends BackoffOptions {
  random?: () => number;
}

/**
 * Try again after `delayMs`, or stop; `retryAt` is set when only the deadline stopped it (the time the
 * retry would have been due, so a job queue can reschedule the work).
 */
export type RetryDecision = { retry: true; delayMs: number } | { retry: false; retryAt?: number };

const STOP: RetryDecision = { retry: false };

/** GET, PUT, DELETE and HEAD; POST and PATCH only with an idempotency key or the caller's word. */
export function isReplayable(method: HttpMethod, options: RequestOptions): boolean {
  return (
    (method !== 'POST' && method !== 'PATCH') ||
    options.idempotencyKey !== undefined ||
    options.retrySafe === true
  );
}

/**
 * Whether a failed attempt is tried again, and after what wait. Permanent errors are not retried;
 * transient ones decided locally or by a spent quota are `final` (waiting is the cure, not sending again
 * now). A request that is not replayable is sent again only when it never left (connection refused).
 * The wait is `backoffDelay` (full jitter), or the server's own (`retryAt` from Retry-After) when longer;
 * a wait that would pass the deadline stops the call instead.
 */
export function decideRetry(error: HttpError, context: RetryContext, backoff: RetryBackoff): RetryDecision {
  if (!error.transient || error.final || context.attempt >= context.maxRetries) return STOP;
  if (!context.replayable && !neverSent(error)) return STOP;
  const now = context.now;
  const asked = error.retryAt === undefined ? 0 : Math.max(0, error.retryAt - now);
  const delayMs = Math.max(backoffDelay(context.attempt, backoff, backoff.random), asked);
  if (now + delayMs > context.deadlineAt) return { retry: false, retryAt: now + delayMs };
  return { retry: true, delayMs };
}
