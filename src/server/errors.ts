import { defineErrorCodes, OpusError, type OpusErrorOptions } from '../core/index.js';

/** The codes the service answers with; every error body carries one of them in `code`. */
export const ServerErrorCode = defineErrorCodes('server', {
  Unauthorized: {
    code: 'ERR_SERVER_UNAUTHORIZED',
    class: 'permanent',
    meaning: 'The request carries no API key, or one the service does not accept (HTTP 401).',
    action: 'Send a configured key in `x-api-key` or `Authorization: Bearer`.',
  },
  BadRequest: {
    code: 'ERR_SERVER_BAD_REQUEST',
    class: 'permanent',
    meaning:
      'A parameter, query value or body field is invalid or out of range (HTTP 400); `field` names it.',
    action: 'Fix the named field; nothing was written or enqueued.',
  },
  NotFound: {
    code: 'ERR_SERVER_NOT_FOUND',
    class: 'permanent',
    meaning: 'No such route, video, job or asset (HTTP 404).',
    action: 'Check the path or the id.',
  },
  PayloadTooLarge: {
    code: 'ERR_SERVER_PAYLOAD_TOO_LARGE',
    class: 'permanent',
    meaning: 'The request body is larger than the service accepts (HTTP 413).',
    action: 'Send a smaller body; the limit is in the service docs.',
  },
  UnsupportedMediaType: {
    code: 'ERR_SERVER_UNSUPPORTED_MEDIA_TYPE',
    class: 'permanent',
    meaning: 'The request body has a content type the route does not read (HTTP 415).',
    action: 'Send `Content-Type: application/json`.',
  },
  Unavailable: {
    code: 'ERR_SERVER_UNAVAILABLE',
    class: 'transient',
    meaning: 'The database or Redis failed or did not answer within the deadline (HTTP 503).',
    action: 'Retry later; /readyz says which dependency is down.',
  },
  RedisNotConfigured: {
    code: 'ERR_SERVER_REDIS_NOT_CONFIGURED',
    class: 'permanent',
    meaning: 'The service runs without Redis (REDIS_URL is not set), so the queue routes are off (HTTP 503).',
    action: 'Set REDIS_URL and restart the service to enqueue videos and list jobs.',
  },
  GatewayCallerLimited: {
    code: 'ERR_SERVER_GATEWAY_CALLER_LIMITED',
    class: 'transient',
    meaning:
      'A caller (service key) sent more gateway requests per minute than the gateway allows it (HTTP 429, with Retry-After).',
    action: 'Wait Retry-After seconds, or raise OPUSCLIP_GATEWAY_CALLER_RPM for every caller.',
  },
  GatewayBudgetExhausted: {
    code: 'ERR_SERVER_GATEWAY_BUDGET_EXHAUSTED',
    class: 'transient',
    meaning:
      "The provider account's budget (YouTube units, OpenAI tokens, ...) has no room for the call; nothing was sent (HTTP 429, with Retry-After).",
    action: 'Retry after Retry-After seconds (a spent YouTube day: after Pacific midnight).',
  },
  GatewayUpstream: {
    code: 'ERR_SERVER_GATEWAY_UPSTREAM',
    class: 'transient',
    meaning:
      "The vendor could not be reached, did not answer within the gateway's deadline, or its breaker is open (HTTP 502, 503 or 504).",
    action: 'Retry later; the gateway already retried what was safe to retry.',
  },
  Internal: {
    code: 'ERR_SERVER_INTERNAL',
    class: 'permanent',
    meaning: 'An unexpected failure inside the service (HTTP 500); the log has the details.',
    action: 'Report it with the requestId of the answer.',
  },
  Config: {
    code: 'ERR_SERVER_CONFIG',
    class: 'permanent',
    meaning: 'createServer or serve was given an inconsistent configuration (no API key, bad option).',
    action: 'Fix the option named in the message.',
  },
});

export type ServerErrorCode = (typeof ServerErrorCode)[keyof typeof ServerErrorCode];

/** Errors of the service layer; `statusCode` is the HTTP status the error handler answers with. */
export class ServerError extends OpusError {
  declare readonly code: ServerErrorCode;
  readonly statusCode: number;

  constructor(code: ServerErrorCode, statusCode: number, message: string, options: OpusErrorOptions = {}) {
    super(code, message, options);
    this.statusCode = statusCode;
  }
}
