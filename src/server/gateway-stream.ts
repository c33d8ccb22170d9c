/**
 * A streamed vendor answer (OpenAI `stream: true`) passed through as it arrives: the server-sent events
 * reach the caller one by one instead of all at the end. The account's breaker and budget apply as on
 * any gateway call (no retries: the answer is already on its way when something fails); the tokens are
 * charged from the stream's final `usage` (`stream_options.include_usage`), else the estimate stands.
 */
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyReply } from 'fastify';
import type { Dispatcher } from 'undici';
import { redactSecrets } from '../core/index.js';
import type { HttpAuth } from '../http/index.js';
import type { BreakerPermit, Budget, CircuitBreaker, Cost, Reservation } from '../resilience/index.js';

/** What a streamed call uses of its vendor (a `GatewayVendor`): the budget, the metrics, the secrets. */
export interface StreamAccount {
  readonly budget: Budget;
  readonly http: {
    readonly metrics: {
      request(operation: string): void;
      success(operation: string, ms: number): void;
      failure(operation: string, code: string, ms: number): void;
    };
  };
  readonly secrets: readonly string[];
}

/** Where a vendor's streamed calls go, with the account's credential. */
export interface GatewayStreamTarget {
  readonly dispatcher: Dispatcher;
  readonly origin: string;
  /** The base URL's path, ending in `/`. */
  readonly basePath: string;
  readonly authHeaders: Readonly<Record<string, string>>;
  /** `name=value` of a query-parameter credential, or ''. */
  readonly authQuery: string;
  readonly breaker: CircuitBreaker | undefined;
  readonly attemptTimeoutMs: number;
}

export function gatewayStreamTarget(
  baseUrl: string,
  auth: HttpAuth,
  dispatcher: Dispatcher,
  breaker: CircuitBreaker | undefined,
  attemptTimeoutMs: number,
): GatewayStreamTarget {
  const base = new URL(baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  const authHeaders: Record<string, string> = {};
  let authQuery = '';
  if (auth.type === 'bearer') authHeaders.authorization = `Bearer ${auth.token}`;
  else if (auth.type === 'header') authHeaders[auth.name.toLowerCase()] = auth.value;
  else if (auth.type === 'query')
    authQuery = `${encodeURIComponent(auth.name ?? 'key')}=${encodeURIComponent(auth.value)}`;
  return {
    dispatcher,
    origin: base.origin,
    basePath: base.pathname,
    authHeaders,
    authQuery,
    breaker,
    attemptTimeoutMs,
  };
}

/** Whether a JSON body asks for a streamed answer (`"stream": true`), read from the bytes. */
export function asksForStream(body: Buffer | undefined): boolean {
  if (!body) return false;
  let from = 0;
  for (;;) {
    const at = body.indexOf(STREAM_KEY, from);
    if (at < 0) return false;
    let i = at + STREAM_KEY.length;
    while (isSpace(body[i])) i++;
    if (body[i] === 58 /* : */) {
      i++;
      while (isSpace(body[i])) i++;
      return body.toString('latin1', i, i + 4) === 'true';
    }
    from = at + 1;
  }
}

const STREAM_KEY = Buffer.from('"stream"', 'latin1');
const TOTAL_TOKENS = /"total_tokens"\s*:\s*(\d+)/g;
/** Enough of the stream's end to hold its usage event and `[DONE]`. */
const TAIL_CHARS = 2048;

function isSpace(c: number | undefined): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

export interface StreamCall {
  method: Dispatcher.HttpMethod;
  /** The vendor path and query (no leading slash). */
  endpoint: string;
  operation: string;
  headers: Record<string, string>;
  body: Buffer | undefined;
  cost: Cost;
  signal: AbortSignal;
  deadlineAt: number;
  now: number;
}

/** What the caller is told when the gateway itself cannot forward the call. */
export interface StreamRefusal {
  status: number;
  kind: 'budget' | 'breaker' | 'unreachable' | 'aborted';
  retryAt?: number | undefined;
}

/**
 * Forwards `call` and answers on `reply`: the vendor's status and headers, then its body as it arrives
 * (resolves with undefined, sending). Resolves with a refusal (nothing sent yet) when the breaker, the
 * budget or the connection stops it.
 */
export async function forwardStream(
  reply: FastifyReply,
  vendor: StreamAccount,
  target: GatewayStreamTarget,
  call: StreamCall,
  copyHeaders: (reply: FastifyReply, headers: Record<string, string | string[] | undefined>) => void,
): Promise<StreamRefusal | undefined> {
  const metrics = vendor.http.metrics;
  const started = performance.now();
  metrics.request(call.operation);
  let permit: BreakerPermit | undefined;
  try {
    const acquired = target.breaker?.acquire();
    permit = acquired instanceof Promise ? await acquired : acquired;
  } catch (error) {
    metrics.failure(call.operation, 'ERR_HTTP_CIRCUIT_OPEN', 0);
    return { status: 503, kind: 'breaker', retryAt: retryAtOf(error) };
  }
  let reservation: Reservation;
  try {
    reservation =
      vendor.budget.tryReserveNow(call.cost) ??
      (await vendor.budget.reserve(call.cost, { signal: call.signal, deadline: call.deadlineAt }));
  } catch (error) {
    permit?.release();
    metrics.failure(call.operation, 'ERR_HTTP_RATE_LIMITED', performance.now() - started);
    return { status: 429, kind: 'budget', retryAt: retryAtOf(error) };
  }
  const search = target.authQuery ? `${call.endpoint.includes('?') ? '&' : '?'}${target.authQuery}` : '';
  let answer: Dispatcher.ResponseData;
  try {
    answer = await target.dispatcher.request({
      origin: target.origin,
      path: `${target.basePath}${call.endpoint}${search}`,
      method: call.method,
      // The events pass through as they are: no compression to undo on the way.
      headers: { ...call.headers, ...target.authHeaders, 'accept-encoding': 'identity' },
      ...(call.body ? { body: call.body } : {}),
      signal: call.signal,
      headersTimeout: target.attemptTimeoutMs,
      bodyTimeout: target.attemptTimeoutMs,
    });
  } catch {
    void reservation.refund().catch(() => {});
    const aborted = call.signal.aborted;
    if (aborted) permit?.release();
    else permit?.failure();
    metrics.failure(
      call.operation,
      aborted ? 'ERR_HTTP_ABORTED' : 'ERR_HTTP_NETWORK',
      performance.now() - started,
    );
    return { status: aborted ? 499 : 502, kind: aborted ? 'aborted' : 'unreachable' };
  }
  const status = answer.statusCode;
  reply.status(status);
  copyHeaders(reply, answer.headers);
  reply.header('x-gateway-cache', 'miss');
  if (status < 200 || status >= 300) {
    // An error comes whole and small: passed back as it is, secrets blanked.
    const text = await answer.body.text().catch(() => '');
    if (status >= 500) permit?.failure();
    else permit?.success();
    void reservation.commit().catch(() => {});
    metrics.failure(call.operation, `HTTP_${status}`, performance.now() - started);
    if (!reply.hasHeader('content-type')) reply.header('content-type', 'application/json; charset=utf-8');
    reply.send(redactSecrets(text, vendor.secrets));
    return undefined;
  }
  let tail = '';
  const relay = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      tail = (tail + chunk.toString('latin1')).slice(-TAIL_CHARS);
      done(null, chunk);
    },
  });
  void pipeline(answer.body, relay).then(
    () => {
      permit?.success();
      void reservation.commit(usageOf(tail, call.cost)).catch(() => {});
      metrics.success(call.operation, performance.now() - started);
    },
    () => {
      // Cut off midway (the caller left, the vendor broke off): the tokens were being spent.
      if (call.signal.aborted) permit?.release();
      else permit?.failure();
      void reservation.commit().catch(() => {});
      metrics.failure(call.operation, 'ERR_HTTP_NETWORK', performance.now() - started);
    },
  );
  if (!reply.hasHeader('content-type')) reply.header('content-type', 'text/event-stream');
  reply.send(relay);
  return undefined;
}

/** The stream's own count of tokens (its last `usage`), as the budget's cost; undefined keeps the estimate. */
function usageOf(tail: string, estimate: Cost): Cost | undefined {
  let total: string | undefined;
  for (const m of tail.matchAll(TOTAL_TOKENS)) total = m[1];
  if (total === undefined) return undefined;
  return { ...(typeof estimate === 'object' ? estimate : {}), tokens: Number(total) };
}

function retryAtOf(error: unknown): number | undefined {
  const retryAt = (error as { retryAt?: unknown } | null)?.retryAt;
  return typeof retryAt === 'number' && Number.isFinite(retryAt) ? retryAt : undefined;
}
