import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isTransient } from '../core/index.js';
import { StoreError, StoreErrorCode } from '../store/index.js';
import { ServerError, ServerErrorCode } from './errors.js';

/** The one error shape of the service (the `Error` schema of the OpenAPI document). */
interface ErrorBody {
  statusCode: number;
  code: string;
  error: string;
  message: string;
  field?: string;
  requestId: string;
}

/** Seconds a client should wait before retrying a 503. */
const RETRY_AFTER_SECONDS = 5;

/** Fastify's own request errors, mapped to the service's codes and the part of the request at fault. */
const FASTIFY_ERRORS: Record<string, { status: number; code: ServerErrorCode; field: string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: ServerErrorCode.BadRequest, field: 'body' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: ServerErrorCode.BadRequest, field: 'body' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    status: 400,
    code: ServerErrorCode.BadRequest,
    field: 'content-length',
  },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: ServerErrorCode.PayloadTooLarge, field: 'body' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    code: ServerErrorCode.UnsupportedMediaType,
    field: 'content-type',
  },
  FST_ERR_CTP_INVALID_TYPE: {
    status: 415,
    code: ServerErrorCode.UnsupportedMediaType,
    field: 'content-type',
  },
  FST_ERR_BAD_URL: { status: 400, code: ServerErrorCode.BadRequest, field: 'url' },
  FST_ERR_ASYNC_CONSTRAINT: { status: 400, code: ServerErrorCode.BadRequest, field: 'url' },
  // Every route's only path parameter is `id`.
  FST_ERR_MAX_PARAM_LENGTH: { status: 400, code: ServerErrorCode.BadRequest, field: 'id' },
};

/** The field named in a validation error: `url`, `limit`, `id`, or the part (`body`, `querystring`). */
function fieldOf(error: FastifyError): string | undefined {
  const v = error.validation?.[0];
  if (!v) return undefined;
  const params = v.params as Record<string, unknown>;
  const path = v.instancePath.replace(/^\//, '').replace(/\//g, '.');
  const extra =
    typeof params.missingProperty === 'string'
      ? params.missingProperty
      : typeof params.additionalProperty === 'string'
        ? params.additionalProperty
        : '';
  return [path, extra].filter(Boolean).join('.') || error.validationContext || undefined;
}

function send(
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  code: string,
  message: string,
  field?: string,
): FastifyReply {
  const body: ErrorBody = {
    statusCode: status,
    code,
    error: STATUS_CODES[status] ?? 'Error',
    message,
    ...(field ? { field } : {}),
    requestId: request.id,
  };
  if (status === 503) reply.header('retry-after', String(RETRY_AFTER_SECONDS));
  return reply.status(status).type('application/json; charset=utf-8').send(body);
}

/**
 * Fastify's `frameworkErrors`: errors its router raises before any hook runs (a malformed URL, a path
 * parameter longer than `maxParamLength`), answered in the same shape.
 */
export function frameworkErrorResponse(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  const known = FASTIFY_ERRORS[error.code] ?? { status: 400, code: ServerErrorCode.BadRequest, field: 'url' };
  reply.header('x-request-id', request.id);
  const message =
    error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'A path parameter is too long' : 'Malformed URL';
  void send(request, reply, known.status, known.code, message, known.field);
}

/**
 * Every error the service answers, in one shape: schema validation (400 naming the field), Fastify's
 * own body and content-type errors (400, 413, 415), unknown routes and files (404), refused keys (401),
 * unavailable dependencies (503) and anything unexpected (500, logged, with no internals in the answer).
 */
export function installErrorResponses(app: FastifyInstance): void {
  // Only JSON bodies are read; anything else is a 415 rather than a string that fails validation.
  app.removeContentTypeParser('text/plain');

  app.setNotFoundHandler((request, reply) => {
    const path = (request.url.split('?')[0] ?? '').slice(0, 200);
    return send(
      request,
      reply,
      404,
      ServerErrorCode.NotFound,
      `No route or file at ${request.method} ${path}`,
    );
  });

  app.setErrorHandler((error: FastifyError | Error, request, reply) => {
    const fe = error as FastifyError;
    if (fe.validation) {
      return send(request, reply, 400, ServerErrorCode.BadRequest, fe.message, fieldOf(fe));
    }
    if (error instanceof ServerError) {
      if (error.statusCode >= 500) request.log.warn({ err: error }, 'request failed');
      const field = typeof error.details.field === 'string' ? error.details.field : undefined;
      return send(request, reply, error.statusCode, error.code, error.message, field);
    }
    if (error instanceof StoreError && error.code === StoreErrorCode.NotFound) {
      return send(request, reply, 404, ServerErrorCode.NotFound, error.message, 'id');
    }
    if (error instanceof StoreError && !isTransient(error)) {
      const field = typeof error.details.field === 'string' ? error.details.field : undefined;
      return send(request, reply, 400, ServerErrorCode.BadRequest, error.message, field);
    }
    const known = typeof fe.code === 'string' ? FASTIFY_ERRORS[fe.code] : undefined;
    if (known) return send(request, reply, known.status, known.code, fe.message, known.field);
    request.otelSpan?.recordException(error);
    if (isTransient(error)) {
      request.log.warn({ err: error }, 'request failed: dependency unavailable');
      return send(
        request,
        reply,
        503,
        ServerErrorCode.Unavailable,
        'A dependency of the service is unavailable',
      );
    }
    const status =
      typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500 ? fe.statusCode : 500;
    if (status >= 500) {
      request.log.error({ err: error }, 'request failed');
      return send(request, reply, 500, ServerErrorCode.Internal, 'Internal error');
    }
    const code = status === 404 ? ServerErrorCode.NotFound : ServerErrorCode.BadRequest;
    return send(request, reply, status, code, fe.message);
  });
}
