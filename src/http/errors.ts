import { defineErrorCodes, OpusError, type OpusErrorOptions } from '../core/index.js';

export const HttpErrorCode = defineErrorCodes('http', {
  BadRequest: {
    code: 'ERR_HTTP_BAD_REQUEST',
    class: 'permanent',
    meaning: 'The provider answered 400: the request is malformed or a parameter is invalid.',
    action: 'Fix the request (bodyExcerpt says what the provider objected to); not retried.',
  },
  Unauthorized: {
    code: 'ERR_HTTP_UNAUTHORIZED',
    class: 'permanent',
    meaning: 'The provider answered 401: the key or token is missing, wrong or expired.',
    action: 'Fix the credential; not retried.',
  },
  Forbidden: {
    code: 'ERR_HTTP_FORBIDDEN',
    class: 'permanent',
    meaning: 'The provider answered 403 for a reason other than quota: the key may not do this.',
    action: "Check the key's permissions or the resource's owner; not retried.",
  },
  NotFound: {
    code: 'ERR_HTTP_NOT_FOUND',
    class: 'permanent',
    meaning: 'The provider answered 404: the resource does not exist.',
    action: 'Check the id; not retried.',
  },
  Conflict: {
    code: 'ERR_HTTP_CONFLICT',
    class: 'permanent',
    meaning: 'The provider answered 409: the request conflicts with the resource state.',
    action: 'Read the current state and decide; not retried.',
  },
  Unprocessable: {
    code: 'ERR_HTTP_UNPROCESSABLE',
    class: 'permanent',
    meaning: 'The provider answered 422: the request is well-formed but its content is refused.',
    action: 'Fix the content (bodyExcerpt says what); not retried.',
  },
  RateLimited: {
    code: 'ERR_HTTP_RATE_LIMITED',
    class: 'transient',
    meaning: 'The provider answered 429 (rate limit); retryAt comes from Retry-After where sent.',
    action: 'Retried within the deadline; past it, retry at retryAt.',
  },
  QuotaExhausted: {
    code: 'ERR_HTTP_QUOTA_EXHAUSTED',
    class: 'transient',
    meaning: "The provider says the account's quota is spent (YouTube quotaExceeded, ...).",
    action: 'Wait until retryAt (the quota reset); not retried before it.',
  },
  ServerError: {
    code: 'ERR_HTTP_SERVER_ERROR',
    class: 'transient',
    meaning: 'The provider answered 5xx.',
    action: 'Retried within the deadline (idempotent calls); past it, retry later.',
  },
  Status: {
    code: 'ERR_HTTP_STATUS',
    class: 'permanent',
    meaning: 'Any other non-2xx status (an unfollowed 3xx, 405, 410, ...).',
    action: 'Look at the status in details; not retried.',
  },
  Network: {
    code: 'ERR_HTTP_NETWORK',
    class: 'transient',
    meaning: 'The connection failed or broke (refused, reset, DNS failure, body cut short).',
    action: 'Retried within the deadline where safe; past it, retry later.',
  },
  Timeout: {
    code: 'ERR_HTTP_TIMEOUT',
    class: 'transient',
    meaning: "The call's deadline passed (headers or body), or the provider answered 408.",
    action: 'Retry later, or give the call a longer deadlineMs.',
  },
  Aborted: {
    code: 'ERR_HTTP_ABORTED',
    class: 'permanent',
    meaning: "The caller's AbortSignal fired during the call.",
    action: 'Nothing to fix: the caller asked for it.',
  },
  CircuitOpen: {
    code: 'ERR_HTTP_CIRCUIT_OPEN',
    class: 'transient',
    meaning: "The endpoint's circuit breaker is open: nothing was sent.",
    action: 'Retry at retryAt (the half-open probe).',
  },
  QueueFull: {
    code: 'ERR_HTTP_QUEUE_FULL',
    class: 'transient',
    meaning: "More calls are waiting for a connection than the client's maxQueue allows.",
    action: 'Retry later, or lower the concurrency that feeds the client.',
  },
  InvalidResponse: {
    code: 'ERR_HTTP_INVALID_RESPONSE',
    class: 'transient',
    meaning: 'A 2xx body does not parse as announced (broken JSON): usually garbled in transit.',
    action: 'Retry later; if it persists, the provider changed its format.',
  },
  ResponseTooLarge: {
    code: 'ERR_HTTP_RESPONSE_TOO_LARGE',
    class: 'permanent',
    meaning: "The body is larger than the client's maxResponseBytes; the read stopped there.",
    action: 'Raise maxResponseBytes or ask for less (pagination); not retried.',
  },
});
export type HttpErrorCode = (typeof HttpErrorCode)[keyof typeof HttpErrorCode];

/** What a provider's error body means; returned by a service's `classifyError` hook. */
export type HttpErrorKind =
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'unprocessable'
  | 'rate_limited'
  | 'quota_exhausted'
  | 'server_error';

export interface HttpErrorInit extends OpusErrorOptions {
  service: string;
  method: string;
  /** Path without query string (the query may carry a key). */
  endpoint: string;
  status?: number;
  headers?: Record<string, string | string[] | undefined>;
  requestId?: string;
  /** First few hundred characters of the body, secrets removed. */
  bodyExcerpt?: string;
  attempts?: number;
  /** Decided before or instead of sending (breaker, budget, spent quota): retrying now cannot help. */
  final?: boolean;
}

export class HttpError extends OpusError {
  readonly service: string;
  readonly method: string;
  readonly endpoint: string;
  readonly status: number | undefined;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly requestId: string | undefined;
  readonly bodyExcerpt: string | undefined;
  attempts: number;
  final: boolean;

  constructor(code: HttpErrorCode, message: string, init: HttpErrorInit) {
    super(code, message, {
      cause: init.cause,
      ...(init.transient === undefined ? {} : { transient: init.transient }),
      retryAt: init.retryAt,
      details: {
        ...(init.details ?? {}),
        service: init.service,
        method: init.method,
        endpoint: init.endpoint,
        ...(init.status === undefined ? {} : { status: init.status }),
        ...(init.requestId === undefined ? {} : { requestId: init.requestId }),
        ...(init.retryAt === undefined ? {} : { retryAt: init.retryAt }),
      },
    });
    this.service = init.service;
    this.method = init.method;
    this.endpoint = init.endpoint;
    this.status = init.status;
    this.headers = init.headers ?? {};
    this.requestId = init.requestId;
    this.bodyExcerpt = init.bodyExcerpt;
    this.attempts = init.attempts ?? 1;
    this.final = init.final ?? false;
  }

  override toJSON(): Record<string, unknown> {
    return {
      ...super.toJSON(),
      bodyExcerpt: this.bodyExcerpt,
      attempts: this.attempts,
    };
  }
}

function define(code: HttpErrorCode, name: string): new (message: string, init: HttpErrorInit) => HttpError {
  const cls = class extends HttpError {
    constructor(message: string, init: HttpErrorInit) {
      super(code, message, init);
    }
  };
  Object.defineProperty(cls, 'name', { value: name });
  return cls;
}

export const HttpBadRequestError = define(HttpErrorCode.BadRequest, 'HttpBadRequestError');
export const HttpUnauthorizedError = define(HttpErrorCode.Unauthorized, 'HttpUnauthorizedError');
export const HttpForbiddenError = define(HttpErrorCode.Forbidden, 'HttpForbiddenError');
export const HttpNotFoundError = define(HttpErrorCode.NotFound, 'HttpNotFoundError');
export const HttpConflictError = define(HttpErrorCode.Conflict, 'HttpConflictError');
export const HttpUnprocessableError = define(HttpErrorCode.Unprocessable, 'HttpUnprocessableError');
export const HttpRateLimitedError = define(HttpErrorCode.RateLimited, 'HttpRateLimitedError');
export const HttpQuotaExhaustedError = define(HttpErrorCode.QuotaExhausted, 'HttpQuotaExhaustedError');
export const HttpServerError = define(HttpErrorCode.ServerError, 'HttpServerError');
export const HttpStatusError = define(HttpErrorCode.Status, 'HttpStatusError');
export const HttpNetworkError = define(HttpErrorCode.Network, 'HttpNetworkError');
export const HttpTimeoutError = define(HttpErrorCode.Timeout, 'HttpTimeoutError');
export const HttpAbortedError = define(HttpErrorCode.Aborted, 'HttpAbortedError');
export const HttpCircuitOpenError = define(HttpErrorCode.CircuitOpen, 'HttpCircuitOpenError');
export const HttpQueueFullError = define(HttpErrorCode.QueueFull, 'HttpQueueFullError');
export const HttpInvalidResponseError = define(HttpErrorCode.InvalidResponse, 'HttpInvalidResponseError');
export const HttpResponseTooLargeError = define(HttpErrorCode.ResponseTooLarge, 'HttpResponseTooLargeError');

const KIND_CLASS: Record<HttpErrorKind, new (message: string, init: HttpErrorInit) => HttpError> = {
  bad_request: HttpBadRequestError,
  unauthorized: HttpUnauthorizedError,
  forbidden: HttpForbiddenError,
  not_found: HttpNotFoundError,
  conflict: HttpConflictError,
  unprocessable: HttpUnprocessableError,
  rate_limited: HttpRateLimitedError,
  quota_exhausted: HttpQuotaExhaustedError,
  server_error: HttpServerError,
};

export function kindForStatus(status: number): HttpErrorKind | undefined {
  switch (status) {
    case 400:
      return 'bad_request';
    case 401:
      return 'unauthorized';
    case 403:
      return 'forbidden';
    case 404:
      return 'not_found';
    case 409:
      return 'conflict';
    case 422:
      return 'unprocessable';
    case 429:
      return 'rate_limited';
    default:
      return status >= 500 ? 'server_error' : undefined;
  }
}

/**
 * The error for a non-2xx response; `kind` (from classifyError) overrides the status mapping, so a 403
 * that a provider means as "quota spent" is ERR_HTTP_QUOTA_EXHAUSTED and transient. `retryAfterAt` (the
 * server's Retry-After as epoch ms) becomes `retryAt` on a transient error only: a permanent one has no
 * time at which trying again helps.
 */
export function errorForStatus(
  kind: HttpErrorKind | undefined,
  init: HttpErrorInit & { status: number; retryAfterAt?: number },
): HttpError {
  const { retryAfterAt, ...rest } = init;
  let error: HttpError;
  if (init.status === 408) {
    error = new HttpTimeoutError(`${init.service} ${init.method} ${init.endpoint} answered 408`, rest);
  } else {
    const resolved = kind ?? kindForStatus(init.status);
    const cls = resolved ? KIND_CLASS[resolved] : HttpStatusError;
    error = new cls(`${init.service} ${init.method} ${init.endpoint} answered ${init.status}`, rest);
  }
  if (retryAfterAt !== undefined && error.transient && error.retryAt === undefined) {
    error.retryAt = retryAfterAt;
  }
  return error;
}
