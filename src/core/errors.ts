import { defaultErrorClass, defineErrorCodes } from './error-codes.js';

export interface OpusErrorOptions {
  cause?: unknown;
  /** Structured, secret-free context (ids, limits, durations). Never put credentials here. */
  details?: Record<string, unknown>;
  /** Overrides the class the code has in the catalogue, for this one error. */
  transient?: boolean;
  /** Epoch ms from which trying again makes sense (Retry-After, quota reset, breaker half-open). */
  retryAt?: number | undefined;
}

/**
 * One base error for the whole library. `code` is stable and machine-readable (callers switch on it,
 * metrics label by it); `message` is for people and may change between versions. `transient` says
 * whether waiting can make the operation succeed, and `retryAt` when, where that is known: every layer
 * decides to retry, delay or fail by these two, never by another layer's codes.
 */
export class OpusError extends Error {
  readonly code: string;
  readonly details: Readonly<Record<string, unknown>>;
  readonly transient: boolean;
  /** Set where the failure is decided; a layer that learns better (a Retry-After header) may move it. */
  retryAt: number | undefined;

  constructor(code: string, message: string, options: OpusErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.transient = options.transient ?? defaultErrorClass(code) === 'transient';
    this.retryAt = options.retryAt;
    this.details = Object.freeze({ ...(options.details ?? {}) });
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      transient: this.transient,
      ...(this.retryAt === undefined ? {} : { retryAt: this.retryAt }),
      details: this.details,
    };
  }
}

/** Codes shared by every layer. Layer-specific codes live next to their error classes. */
export const CoreErrorCode = defineErrorCodes('core', {
  Aborted: {
    code: 'ERR_ABORTED',
    class: 'permanent',
    meaning: "The caller's AbortSignal fired; the operation stopped where it was.",
    action: 'Nothing to fix: the caller asked for it. Re-run the operation if it is still wanted.',
  },
  Timeout: {
    code: 'ERR_TIMEOUT',
    class: 'transient',
    meaning: 'An operation did not finish within its time limit.',
    action: 'Retry later; if it keeps happening, raise the limit or look at the slow dependency.',
  },
  InvalidArgument: {
    code: 'ERR_INVALID_ARGUMENT',
    class: 'permanent',
    meaning: 'An argument or option is missing, of the wrong type or out of range (the message names it).',
    action: 'Fix the argument; retrying the same call fails the same way.',
  },
  Config: {
    code: 'ERR_CONFIG',
    class: 'permanent',
    meaning: 'The configuration is incomplete or inconsistent (a missing key, an unparsable URL).',
    action: 'Fix the configuration named in the message.',
  },
  Closed: {
    code: 'ERR_CLOSED',
    class: 'permanent',
    meaning: 'The object was used after close().',
    action: 'Create a new instance, or stop using this one before closing it.',
  },
});

export class AbortedError extends OpusError {
  constructor(message = 'The operation was aborted', options: OpusErrorOptions = {}) {
    super(CoreErrorCode.Aborted, message, options);
  }
}

export class TimeoutError extends OpusError {
  constructor(message: string, options: OpusErrorOptions = {}) {
    super(CoreErrorCode.Timeout, message, options);
  }
}

export class InvalidArgumentError extends OpusError {
  constructor(message: string, options: OpusErrorOptions = {}) {
    super(CoreErrorCode.InvalidArgument, message, options);
  }
}

export class ConfigError extends OpusError {
  constructor(message: string, options: OpusErrorOptions = {}) {
    super(CoreErrorCode.Config, message, options);
  }
}

export class ClosedError extends OpusError {
  constructor(message: string, options: OpusErrorOptions = {}) {
    super(CoreErrorCode.Closed, message, options);
  }
}

export function isOpusError(value: unknown, code?: string): value is OpusError {
  return value instanceof OpusError && (code === undefined || value.code === code);
}

/**
 * True when waiting can make the failed operation succeed. Only an `OpusError` that says so is
 * transient: anything else (a TypeError, a driver error nobody mapped) is treated as permanent.
 */
export function isTransient(error: unknown): boolean {
  return error instanceof OpusError && error.transient;
}

/** When to try again: the error's `retryAt` if it has one, else `now + fallbackMs`. */
export function retryTime(error: unknown, now: number, fallbackMs: number): number {
  const at = error instanceof OpusError ? error.retryAt : undefined;
  return at !== undefined && Number.isFinite(at) ? at : now + fallbackMs;
}
