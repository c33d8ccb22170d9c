/**
 * One base error for the whole library. `code` is stable and machine-readable (callers switch on it,
 * metrics label by it); `message` is for people and may change between versions.
 */
export interface OpusErrorOptions {
  cause?: unknown;
  /** Structured, secret-free context (ids, limits, durations). Never put credentials here. */
  details?: Record<string, unknown>;
}

export class OpusError extends Error {
  readonly code: string;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: string, message: string, options: OpusErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = Object.freeze({ ...(options.details ?? {}) });
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message, details: this.details };
  }
}

/** Codes shared by every layer. Layer-specific codes live next to their error classes. */
export const CoreErrorCode = {
  Aborted: 'ERR_ABORTED',
  Timeout: 'ERR_TIMEOUT',
  InvalidArgument: 'ERR_INVALID_ARGUMENT',
  Config: 'ERR_CONFIG',
  Closed: 'ERR_CLOSED',
} as const;

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
