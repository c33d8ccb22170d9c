import {
  AbortedError,
  defineErrorCodes,
  OpusError,
  type OpusErrorOptions,
  redactSecrets,
} from '../core/index.js';
import {
  CircuitOpenError,
  ConcurrencyLimitedError,
  QuotaExhaustedError,
  RateLimitedError,
} from '../resilience/index.js';
import { type BodyTooLargeError, DeadlineExceededError } from './collect-response.js';

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

/** Where a call went: what every error of the call names. */
export interface CallSite {
  readonly service: string;
  readonly method: string;
  readonly endpoint: string;
}

function siteInit(site: CallSite, cause?: unknown): HttpErrorInit {
  const init: HttpErrorInit = { service: site.service, method: site.method, endpoint: site.endpoint };
  if (cause !== undefined) init.cause = cause;
  return init;
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function label(site: CallSite): string {
  return `${site.service} ${site.method} ${site.endpoint}`;
}

/** Errors where the request never left this machine, so repeating it cannot duplicate anything. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);
const TIMEOUTS = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'ETIMEDOUT',
]);

/** The errno-style `code` of an error or of one of its first causes (`ECONNREFUSED`, `UND_ERR_…`). */
function errnoCode(error: unknown): string | undefined {
  let e: unknown = error;
  for (let i = 0; i < 4 && e instanceof Error; i++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string') return code;
    e = e.cause;
  }
  return undefined;
}

/** The request never reached the provider (refused, DNS failure, connect timeout): safe to send again. */
export function neverSent(error: HttpError): boolean {
  return error.status === undefined && NOT_SENT.has(errnoCode(error.cause) ?? '');
}

/**
 * The caller's signal fired: ERR_HTTP_ABORTED (permanent: the caller asked), or ERR_HTTP_TIMEOUT
 * (transient) when the signal is a timeout (`AbortSignal.timeout`, core's `timeoutSignal`).
 */
export function abortError(site: CallSite, signal: AbortSignal): HttpError {
  const reason: unknown = signal.reason;
  const init = siteInit(site, reason);
  const timedOut =
    reason instanceof OpusError
      ? reason.transient
      : reason instanceof Error && reason.name === 'TimeoutError';
  if (timedOut) return new HttpTimeoutError(`${label(site)}: the caller's signal timed out`, init);
  return new HttpAbortedError(`${label(site)} was aborted`, init);
}

/**
 * Any failure of an attempt that is not yet an HttpError (an undici error, the deadline, a lower
 * layer's OpusError) as one; messages pass through `redactSecrets` with `secrets`.
 */
export function transportError(
  error: unknown,
  site: CallSite,
  signal: AbortSignal | undefined,
  secrets: readonly string[],
): HttpError {
  if (error instanceof HttpError) return error;
  if (signal?.aborted) return abortError(site, signal);
  const init = siteInit(site, error);
  if (error instanceof DeadlineExceededError) {
    return new HttpTimeoutError(`${label(site)}: ${error.message}`, {
      ...init,
      ...(error.answered ? { details: { responseStatus: error.statusCode } } : {}),
    });
  }
  const code = errnoCode(error);
  if (code && TIMEOUTS.has(code)) return new HttpTimeoutError(`${label(site)} timed out (${code})`, init);
  if (error instanceof AbortedError) return new HttpAbortedError(`${label(site)} was aborted`, init);
  const message = error instanceof Error ? error.message : String(error);
  const text = `${label(site)} failed: ${redactSecrets(message, secrets)}`;
  if (error instanceof OpusError) {
    // A local failure from a lower layer (a closed budget, its Redis store down): it keeps its class.
    return new HttpNetworkError(text, {
      ...init,
      transient: error.transient,
      final: true,
      ...optional('retryAt', error.retryAt),
      details: { reason: error.code },
    });
  }
  return new HttpNetworkError(`${text}${code ? ` (${code})` : ''}`, {
    ...init,
    ...(code ? { details: { errno: code } } : {}),
  });
}

/** Breaker and budget refusals: typed HTTP errors that were decided locally, before sending. */
export function refusalError(error: unknown, site: CallSite, secrets: readonly string[]): HttpError {
  const init: HttpErrorInit = {
    ...siteInit(site, error),
    final: true,
    // The refusal's own class: a cost larger than a whole window is a spent quota that never comes back.
    ...(error instanceof OpusError ? { transient: error.transient } : {}),
  };
  if (error instanceof CircuitOpenError) {
    return new HttpCircuitOpenError(error.message, { ...init, ...optional('retryAt', error.retryAt) });
  }
  if (error instanceof QuotaExhaustedError) {
    return new HttpQuotaExhaustedError(error.message, { ...init, ...optional('retryAt', error.retryAt) });
  }
  if (error instanceof RateLimitedError) {
    return new HttpRateLimitedError(error.message, { ...init, ...optional('retryAt', error.retryAt) });
  }
  if (error instanceof ConcurrencyLimitedError) {
    // The call's deadline came while it waited for a permit of the adaptive concurrency limit.
    return new HttpTimeoutError(`${label(site)}: ${error.message}`, { ...init, cause: error });
  }
  return transportError(error, site, undefined, secrets);
}

/** More calls pending than the client's queue bound allows. */
export function queueFullError(site: CallSite, pending: number): HttpError {
  return new HttpQueueFullError(`${site.service}: ${pending} calls already pending`, siteInit(site));
}

/** The call's deadline had passed when an attempt was about to be sent. */
export function deadlinePassedError(site: CallSite): HttpError {
  return new HttpTimeoutError(`${label(site)}: deadline passed`, siteInit(site));
}

/** The body passed `maxResponseBytes`: the service answered, the limit is ours (final, not retried). */
export function responseTooLargeError(error: BodyTooLargeError, site: CallSite): HttpError {
  return new HttpResponseTooLargeError(
    `${label(site)}: the response exceeds maxResponseBytes (${error.limit} bytes)`,
    { ...siteInit(site, error), status: error.statusCode, final: true },
  );
}

/** A 2xx body that does not parse as announced (final: the service answered). */
export function invalidResponseError(
  site: CallSite,
  status: number,
  headers: Record<string, string | string[] | undefined>,
  body: string,
  cause: unknown,
  secrets: readonly string[],
  requestId: string | undefined,
): HttpError {
  return new HttpInvalidResponseError(`${label(site)} answered ${status} with a body that does not parse`, {
    ...siteInit(site, cause),
    status,
    headers,
    final: true,
    bodyExcerpt: redactSecrets(body.slice(0, 300), secrets),
    ...optional('requestId', requestId),
  });
}

/**
 * The error for a non-2xx answer: `kind` from the service's classifyError (else the status), the
 * server's Retry-After as `retryAfterAt` (epoch ms), the body's first 300 characters with `secrets` removed.
 */
export function answerError(
  site: CallSite,
  kind: HttpErrorKind | undefined,
  answer: {
    status: number;
    headers: Record<string, string | string[] | undefined>;
    body: string;
    requestId: string | undefined;
    retryAfterAt: number | undefined;
    attempts: number;
  },
  secrets: readonly string[],
): HttpError {
  return errorForStatus(kind, {
    ...optional('retryAfterAt', answer.retryAfterAt),
    service: site.service,
    method: site.method,
    endpoint: site.endpoint,
    status: answer.status,
    headers: answer.headers,
    ...optional('requestId', answer.requestId),
    bodyExcerpt: redactSecrets(answer.body.slice(0, 300), secrets),
    attempts: answer.attempts,
  });
}
