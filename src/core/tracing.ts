import {
  type Attributes,
  INVALID_SPAN_CONTEXT,
  ProxyTracerProvider,
  type Span,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';

/**
 * The library's tracer. With no OpenTelemetry SDK registered by the application every span is a no-op,
 * so tracing costs nothing unless a user opts in (README, "Traces", shows how to register one).
 */
export const tracer: Tracer = trace.getTracer('video-opusclip');

/**
 * Runs `fn` inside an active span: child spans started by `fn` nest under it, a thrown error is recorded
 * with its stable `code` and the span ends either way. Attributes must be secret-free.
 */
export async function withSpan<T>(
  name: string,
  attributes: Attributes,
  fn: (span: Span) => Promise<T> | T,
): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      if (typeof code === 'string') span.setAttribute('error.type', code);
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: error instanceof Error ? error.message : String(error),
      });
      throw error;
    } finally {
      span.end();
    }
  });
}

/**
 * A span for a hot path, without making it the active context (cheaper than withSpan; nothing nests
 * under it). End it with `endSpan`. The hottest callers check `tracingActive()` first, so that without
 * an SDK they build neither the name nor the attributes.
 */
export function startSpan(name: string, attributes: Attributes): Span {
  if (!tracingActive()) return NO_SPAN;
  return tracer.startSpan(name, { attributes });
}

/** The API's own no-op provider: what a ProxyTracerProvider delegates to until an SDK registers. */
const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate();
/** The span every call gets while tracing is off: recording nothing, ending nothing. */
export const NO_SPAN: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/**
 * False while no SDK is registered. The API's no-op tracer still reads the active context and allocates a
 * span per call, which showed in the HTTP and query hot paths; this check is a few property reads. A
 * provider registered later is seen on the next call.
 */
export function tracingActive(): boolean {
  const provider = trace.getTracerProvider();
  return !(provider instanceof ProxyTracerProvider) || provider.getDelegate() !== NOOP_PROVIDER;
}

/** Ends a span from `startSpan`, recording the error's stable code when there is one. */
export function endSpan(span: Span, error?: unknown): void {
  if (error !== undefined) {
    const code = (error as { code?: unknown } | null)?.code;
    if (typeof code === 'string') span.setAttribute('error.type', code);
    span.setStatus({
      code: SpanStatusCode.ERROR,
      message: error instanceof Error ? error.message : String(error),
    });
  }
  span.end();
}
