import { OpusError, type OpusErrorOptions } from '../core/index.js';

/**
 * Codes raised by the API clients themselves. Transport and provider failures keep the HTTP layer's
 * typed errors (ERR_HTTP_*), so callers switch on one set of codes whichever vendor failed.
 */
export const ApiErrorCode = {
  /** A 2xx body that does not have the shape the client relies on (names the field and the endpoint). */
  ResponseShape: 'ERR_API_RESPONSE_SHAPE',
  /** The requested resource does not exist (YouTube answers 200 with no items for unknown ids). */
  NotFound: 'ERR_API_NOT_FOUND',
  /** Refused before sending: the call needs an OAuth token and only an API key is configured. */
  YouTubeOAuthRequired: 'ERR_YOUTUBE_OAUTH_REQUIRED',
  /** YouTube refused a caption track (403 forbidden: not the caller's video). */
  YouTubeCaptionsForbidden: 'ERR_YOUTUBE_CAPTIONS_FORBIDDEN',
  /** The model's structured answer parsed, but its content is unusable (no valid clip left, ...). */
  ModelOutput: 'ERR_API_MODEL_OUTPUT',
  /** Refused before sending: a request the provider is documented to reject (SDXL dimensions, ...). */
  InvalidRequest: 'ERR_API_INVALID_REQUEST',
  /** Refused before sending: the configured Stability credit budget would be exceeded. */
  CreditsExhausted: 'ERR_API_CREDITS_EXHAUSTED',
} as const;
export type ApiErrorCode = (typeof ApiErrorCode)[keyof typeof ApiErrorCode];

export class ApiError extends OpusError {
  readonly service: string;

  constructor(code: ApiErrorCode, service: string, message: string, options: OpusErrorOptions = {}) {
    super(code, message, { ...options, details: { ...(options.details ?? {}), service } });
    this.service = service;
  }
}

/** A response body failed zod validation; `field` is the dotted path of the first bad field. */
export class ApiResponseShapeError extends ApiError {
  readonly endpoint: string;
  readonly field: string;
  /** The body was cut short or garbled in transit (not JSON at all): repeating a safe call may help. */
  readonly garbled: boolean;

  constructor(
    service: string,
    endpoint: string,
    field: string,
    problem: string,
    options: OpusErrorOptions & { garbled?: boolean } = {},
  ) {
    super(
      ApiErrorCode.ResponseShape,
      service,
      `${service} ${endpoint}: unexpected response shape at ${field || '(root)'}: ${problem}`,
      { cause: options.cause, details: { ...(options.details ?? {}), endpoint, field } },
    );
    this.endpoint = endpoint;
    this.field = field;
    this.garbled = options.garbled ?? false;
  }
}

export class ApiNotFoundError extends ApiError {
  readonly resource: string;
  readonly id: string;

  constructor(service: string, resource: string, id: string, options: OpusErrorOptions = {}) {
    super(ApiErrorCode.NotFound, service, `${service} ${resource} ${id} was not found`, {
      ...options,
      details: { ...(options.details ?? {}), resource, id },
    });
    this.resource = resource;
    this.id = id;
  }
}
