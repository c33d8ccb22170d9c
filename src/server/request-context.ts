import { randomUUID } from 'node:crypto';
import { context, propagation, type Span, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { FastifyInstance, RawRequestDefaultExpression } from 'fastify';
import { tracer } from '../core/tracing.js';

declare module 'fastify' {
  interface FastifyRequest {
    otelSpan: Span | undefined;
    /** Aborts when the client goes away before the answer is written (cancels store queries). */
    clientGone: AbortController;
  }
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Fastify's genReqId: an incoming x-request-id is kept when it is a plain token (never raw text into logs). */
export function requestIdOf(req: RawRequestDefaultExpression): string {
  const header = req.headers['x-request-id'];
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
}

/**
 * Per-request context: the request id echoed in `x-request-id`, an AbortController that fires when the
 * client disconnects, and a SERVER span (parent from the propagated headers) ended with the status.
 */
export function installRequestContext(app: FastifyInstance): void {
  app.decorateRequest('otelSpan', undefined);
  app.decorateRequest('clientGone', undefined as unknown as AbortController);
  app.addHook('onRequest', async (request, reply) => {
    const gone = new AbortController();
    request.clientGone = gone;
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) gone.abort();
    });
    reply.header('x-request-id', request.id);
    const route = request.routeOptions.url ?? 'unmatched';
    const parent = propagation.extract(context.active(), request.headers);
    request.otelSpan = tracer.startSpan(
      `${request.method} ${route}`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': request.method,
          'http.route': route,
          'url.path': request.url.split('?')[0] ?? '',
          'opusclip.request_id': request.id,
        },
      },
      parent,
    );
  });
  app.addHook('onResponse', async (request, reply) => {
    const span = request.otelSpan;
    if (span) {
      span.setAttribute('http.response.status_code', reply.statusCode);
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
  });
}
