import { OpusError, type OpusErrorOptions } from '../core/index.js';

export const HttpErrorCode = {
  BadRequest: 'ERR_HTTP_BAD_REQUEST',
  Unauthorized: 'ERR_HTTP_UNAUTHORIZED',
  Forbidden: 'ERR_HTTP_FORBIDDEN',
  NotFound: 'ERR_HTTP_NOT_FOUND',
  Conflict: 'ERR_HTTP_CONFLICT',
  Unprocessable: 'ERR_HTTP_UNPROCESSABLE',
  RateLimited: 'ERR_HTTP_RATE_LIMITED',
  QuotaExhausted: 'ERR_HTTP_QUOTA_EXHAUSTED',
  ServerError: 'ERR_HTTP_SERVER_ERROR',
  /** Any other non-2xx status (3xx not followed, 405, 410, ...). */
  Status: 'ERR_HTTP_STATUS',
  Network: 'ERR_HTTP_NETWORK',
  Timeout: 'ERR_HTTP_TIMEOUT',
  Aborted: 'ERR_HTTP_ABORTED',
  CircuitOpen: 'ERR_HTTP_CIRCUIT_OPEN',
  QueueFull: 'ERR_HTTP_QUEUE_FULL',
  /** A 2xx whose body does not parse as announced (e.g. broken JSON). */
  InvalidResponse: 'ERR_HTTP_INVALID_RESPONSE',
  /** A body larger than the client's `maxResponseBytes` (the read stops there). */
  ResponseTooLarge: 'ERR_HTTP_RESPONSE_TOO_LARGE',
} as const;
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
  /** Epoch ms when trying again makes sense (Retry-After, quota reset, breaker half-open). */
  retryAt?: number;
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
  retryAt: number | undefined;
  attempts: number;
  final: boolean;

  constructor(code: HttpErrorCode, message: string, init: HttpErrorInit) {
    super(code, message, {
      cause: init.cause,
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
    this.retryAt = init.retryAt;
    this.attempts = init.attempts ?? 1;
    this.final = init.final ?? false;
  }

  override toJSON(): Record<string, unknown> {
    return {
      ...super.toJSON(),
      bodyExcerpt: this.bodyExcerpt,
      retryAt: this.retryAt,
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

/** The error for a non-2xx response; `kind` (from classifyError) overrides the status mapping. */
export function errorForStatus(
  kind: HttpErrorKind | undefined,
  init: HttpErrorInit & { status: number },
): HttpError {
  if (init.status === 408) {
    return new HttpTimeoutError(`${init.service} ${init.method} ${init.endpoint} answered 408`, init);
  }
  const resolved = kind ?? kindForStatus(init.status);
  const cls = resolved ? KIND_CLASS[resolved] : HttpStatusError;
  return new cls(`${init.service} ${init.method} ${init.endpoint} answered ${init.status}`, init);
}
