import { defineErrorCodes, OpusError, type OpusErrorOptions } from '../core/index.js';

/**
 * Codes raised by the API clients themselves. Transport and provider failures keep the HTTP layer's
 * typed errors (ERR_HTTP_*), so callers switch on one set of codes whichever vendor failed.
 */
export const ApiErrorCode = defineErrorCodes('apis', {
  ResponseShape: {
    code: 'ERR_API_RESPONSE_SHAPE',
    class: 'permanent',
    meaning:
      'A 2xx body does not have the shape the client relies on (the message names the field and the endpoint). Transient when the body was garbled in transit (not JSON at all, an image cut short): those are retried within the call.',
    action:
      'Transient: retry later. Permanent: the provider changed its format; update the client or report it.',
  },
  NotFound: {
    code: 'ERR_API_NOT_FOUND',
    class: 'permanent',
    meaning: 'The requested resource does not exist (YouTube answers 200 with no items for unknown ids).',
    action: 'Check the id; retrying finds nothing more.',
  },
  YouTubeOAuthRequired: {
    code: 'ERR_YOUTUBE_OAUTH_REQUIRED',
    class: 'permanent',
    meaning: 'Refused before sending: the call needs an OAuth token and only an API key is configured.',
    action: 'Configure an OAuth access token (youtube.oauthToken).',
  },
  YouTubeCaptionsForbidden: {
    code: 'ERR_YOUTUBE_CAPTIONS_FORBIDDEN',
    class: 'permanent',
    meaning: "YouTube refused a caption track (403 forbidden): only the video's owner may read it.",
    action: "Use the owner's OAuth token, or a video with public captions.",
  },
  ModelOutput: {
    code: 'ERR_API_MODEL_OUTPUT',
    class: 'permanent',
    meaning:
      "The model's structured answer parsed, but its content is unusable (a refusal, cut off at the token limit, no valid clip left).",
    action:
      'Change the input or the limits (maxTokens, model); the same request tends to give the same answer.',
  },
  InvalidRequest: {
    code: 'ERR_API_INVALID_REQUEST',
    class: 'permanent',
    meaning: 'Refused before sending: a request the provider is documented to reject (SDXL dimensions, ...).',
    action: 'Fix the request as the message says.',
  },
  CreditsExhausted: {
    code: 'ERR_API_CREDITS_EXHAUSTED',
    class: 'permanent',
    meaning:
      'Refused before sending: the configured Stability credit limit would be exceeded (the limit has no reset).',
    action: 'Raise stability.credits.limit, or use a new client with a fresh limit.',
  },
  Unexpected: {
    code: 'ERR_API_UNEXPECTED',
    class: 'permanent',
    meaning: 'A batch item failed with something other than an OpusError (a bug, not a provider failure).',
    action: 'Report it with the cause; retrying is a guess.',
  },
});
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
      {
        cause: options.cause,
        // Garbled in transit: the same call may well succeed; a wrong shape will not.
        transient: options.garbled ?? false,
        details: { ...(options.details ?? {}), endpoint, field },
      },
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
