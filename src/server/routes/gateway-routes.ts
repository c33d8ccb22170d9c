import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import { Counter, type Registry } from 'prom-client';
import { fingerprint, redactSecrets } from '../../core/index.js';
import { HttpError, HttpErrorCode, type HttpMethod } from '../../http/index.js';
import type { Reservation } from '../../resilience/index.js';
import { presentedKey } from '../api-key-auth.js';
import type { Gateway, GatewayVendor } from '../create-gateway.js';
import { ServerError, ServerErrorCode } from '../errors.js';
import { GatewayCallerLimit } from '../gateway-caller-limit.js';
import { forwardStream } from '../gateway-stream.js';
import { isGatewayVendor } from '../gateway-vendors.js';
import { gatewaySchemas } from '../route-schemas.js';

export interface GatewayRouteOptions {
  gateway: Gateway;
  registry: Registry;
  /** Whether callers present a service key (then the metrics name the caller by its fingerprint). */
  authenticated: boolean;
}

/** Request headers passed on to the vendor; everything else (the caller's credentials first) stays. */
const FORWARDED_REQUEST_HEADERS = ['content-type', 'accept', 'accept-language', 'openai-beta'];

/** Response headers passed back; hop-by-hop, encoding and cookie headers are not. */
const FORWARDED_RESPONSE_HEADERS = [
  'content-type',
  'content-disposition',
  'retry-after',
  'request-id',
  'x-request-id',
  'openai-model',
  'openai-processing-ms',
  'openai-version',
  'character-cost',
  'history-item-id',
  'finish-reason',
  'seed',
  'etag',
  'last-modified',
];

const STATUS_CLASSES = ['0xx', '1xx', '2xx', '3xx', '4xx', '5xx'];

/** Longest error body the HTTP layer keeps (`bodyExcerpt`); one this long may be cut, so it is rebuilt. */
const EXCERPT_LENGTH = 300;

/**
 * The vendor gateway: `/gateway/<vendor>/<the vendor's path>` for every method, forwarded with the
 * account key the service holds; per-caller limit and metrics, the account's budget, cache, retries
 * and breaker (in the vendor's HttpClient).
 */
export async function gatewayRoutes(app: FastifyInstance, options: GatewayRouteOptions): Promise<void> {
  const { gateway } = options;
  const limit = new GatewayCallerLimit(gateway.callerRequestsPerMinute, gateway.clock);
  const requests = new Counter({
    name: 'opusclip_gateway_requests_total',
    help: 'Requests through the vendor gateway by caller (a fingerprint of its service key), vendor and status class',
    labelNames: ['caller', 'vendor', 'status_class'],
    registers: [options.registry],
  });
  const callers = new WeakMap<FastifyRequest, string>();
  // Only accepted keys reach the handler, so this holds one entry per configured key.
  const fingerprints = new Map<string, string>();
  const callerOf = (request: FastifyRequest): string => {
    if (!options.authenticated) return 'anonymous';
    const key = presentedKey(request) ?? '';
    let print = fingerprints.get(key);
    if (print === undefined) {
      print = fingerprint(key);
      fingerprints.set(key, print);
    }
    return print;
  };

  // The body goes to the vendor as the caller sent it: JSON, multipart, audio or nothing.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  // One child counter per caller, vendor and status class: a label lookup per request, not a hash of labels.
  const series = new Map<string, Counter.Internal>();
  app.addHook('onResponse', (request, reply, done) => {
    const name = (request.params as { vendor?: string } | undefined)?.vendor ?? '';
    const caller = callers.get(request) ?? (options.authenticated ? 'unauthenticated' : 'anonymous');
    const vendor = isGatewayVendor(name) ? name : 'unknown';
    const statusClass = STATUS_CLASSES[Math.floor(reply.statusCode / 100)] ?? 'other';
    const key = `${caller} ${vendor} ${statusClass}`;
    let child = series.get(key);
    if (!child) {
      child = requests.labels({ caller, vendor, status_class: statusClass });
      series.set(key, child);
    }
    child.inc();
    done();
  });

  const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const name = (request.params as { vendor: string }).vendor;
    const vendor = isGatewayVendor(name) ? gateway.vendors.get(name) : undefined;
    if (!vendor) {
      throw new ServerError(
        ServerErrorCode.NotFound,
        404,
        `No vendor '${name.slice(0, 40)}' behind the gateway (it serves: ${[...gateway.vendors.keys()].join(', ') || 'none'})`,
        { details: { field: 'vendor' } },
      );
    }
    const caller = callerOf(request);
    callers.set(request, caller);
    const refusal = limit.active ? await limit.take(caller) : undefined;
    if (refusal) {
      return vendorError(
        reply,
        vendor,
        429,
        ServerErrorCode.GatewayCallerLimited,
        `This caller sent more than ${gateway.callerRequestsPerMinute} gateway requests in a minute`,
        refusal.retryAt - gateway.clock.now(),
      );
    }
    const target = forwardedTarget(request.url, name, vendor);
    const method = request.method as HttpMethod;
    const body = Buffer.isBuffer(request.body) && request.body.length > 0 ? request.body : undefined;
    const headers: Record<string, string> = {};
    for (const h of FORWARDED_REQUEST_HEADERS) {
      const value = request.headers[h];
      if (typeof value === 'string') headers[h] = value;
    }
    const idempotencyKey = request.headers['idempotency-key'];
    const operation = vendor.rules.operation(method, target.path);
    if (vendor.stream && vendor.rules.streams?.(method, body)) {
      const now = gateway.clock.now();
      const refusal = await forwardStream(
        reply,
        vendor,
        vendor.stream,
        {
          method,
          endpoint: target.endpoint,
          operation,
          headers:
            typeof idempotencyKey === 'string' && idempotencyKey
              ? { ...headers, 'idempotency-key': idempotencyKey }
              : headers,
          body,
          cost: vendor.rules.cost(method, operation, body),
          signal: request.clientGone.signal,
          deadlineAt: now + gateway.deadlineMs,
          now,
        },
        copyHeaders,
      );
      return refusal
        ? refuse(reply, vendor, refusal.kind, untilRetry(refusal.retryAt, gateway.clock.now()))
        : reply;
    }
    const credits = vendor.rules.credits?.(method, target.path, body) ?? 0;
    let hold: Reservation | undefined;
    if (credits > 0) {
      const held = await holdCredits(vendor, credits, gateway.clock.now());
      if ('refused' in held) {
        return vendorError(
          reply,
          vendor,
          429,
          ServerErrorCode.GatewayBudgetExhausted,
          `The ${vendor.rules.name} account's budget has no room for this call's ${credits} credits`,
          held.retryAt === undefined ? undefined : held.retryAt - gateway.clock.now(),
        );
      }
      hold = held;
    }
    try {
      const response = await vendor.http.makeRequest<Buffer | Uint8Array>(method, target.endpoint, {
        ...(body ? { data: body } : {}),
        headers,
        responseType: 'bytes',
        operation,
        cost: vendor.rules.cost(method, operation, body),
        useCache: method === 'GET' && vendor.rules.cacheable(method, target.path),
        signal: request.clientGone.signal,
        ...(typeof idempotencyKey === 'string' && idempotencyKey ? { idempotencyKey } : {}),
      });
      void hold?.commit().catch(() => {});
      reply.status(response.status);
      copyHeaders(reply, response.headers);
      if (!reply.hasHeader('content-type')) reply.header('content-type', 'application/octet-stream');
      reply.header('x-gateway-cache', response.fromCache ? 'hit' : 'miss');
      const data = response.data;
      return reply.send(
        Buffer.isBuffer(data)
          ? data
          : data instanceof Uint8Array
            ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
            : Buffer.from(typeof data === 'string' ? data : JSON.stringify(data ?? '')),
      );
    } catch (error) {
      // A call that failed costs no credits: the provider charges only what it generated.
      void hold?.refund().catch(() => {});
      if (!(error instanceof HttpError)) throw error;
      return relayError(reply, vendor, error, gateway.clock.now());
    }
  };

  const methods: HTTPMethods[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
  for (const method of methods) {
    app.route({
      method,
      url: '/gateway/:vendor/*',
      schema: gatewaySchemas[method as keyof typeof gatewaySchemas],
      bodyLimit: gateway.bodyLimit,
      handler,
    });
  }
}

/**
 * Reserves `credits` on the account's budget now or not at all (a caller gets an answer, not a wait): the
 * reservation, or when the call could go (undefined when no wait helps: the cost is over the allowance).
 */
async function holdCredits(
  vendor: GatewayVendor,
  credits: number,
  now: number,
): Promise<Reservation | { refused: true; retryAt: number | undefined }> {
  const cost = { credits };
  const ready = vendor.budget.tryReserveNow(cost);
  if (ready) return ready;
  try {
    return await vendor.budget.reserve(cost, { deadline: now });
  } catch (error) {
    const retryAt = (error as { retryAt?: unknown }).retryAt;
    return {
      refused: true,
      retryAt: typeof retryAt === 'number' && Number.isFinite(retryAt) ? retryAt : undefined,
    };
  }
}

/** Where a gateway request goes: the vendor path and query, the caller's credentials left out. */
function forwardedTarget(
  url: string,
  vendor: string,
  rules: GatewayVendor,
): { path: string; endpoint: string } {
  const q = url.indexOf('?');
  const path = url.slice(`/gateway/${vendor}/`.length, q < 0 ? url.length : q);
  // The path stays under the vendor's root: no `.` or `..` segment, however encoded. A path without a
  // dot, percent sign or backslash has none: the common case skips the split and decoding.
  if (/[.%\\]/.test(path)) checkSegments(path);
  if (q < 0) return { path, endpoint: path };
  const query = new URLSearchParams(url.slice(q + 1));
  for (const name of rules.rules.secretQuery) query.delete(name);
  const search = query.toString();
  return { path, endpoint: search ? `${path}?${search}` : path };
}

function checkSegments(path: string): void {
  for (const segment of path.split('/')) {
    let decoded = segment;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      throw badPath();
    }
    if (decoded === '.' || decoded === '..' || decoded.includes('/') || decoded.includes('\\'))
      throw badPath();
  }
}

function badPath(): ServerError {
  return new ServerError(ServerErrorCode.BadRequest, 400, 'The vendor path may not climb out of its API', {
    details: { field: 'url' },
  });
}

function copyHeaders(reply: FastifyReply, headers: Record<string, string | string[] | undefined>): void {
  for (const h of FORWARDED_RESPONSE_HEADERS) {
    const value = headers[h];
    if (value !== undefined) reply.header(h, value);
  }
}

/** A failed forward: the vendor's own answer when it gave one, else the gateway's refusal in its shape. */
function relayError(reply: FastifyReply, vendor: GatewayVendor, error: HttpError, now: number): FastifyReply {
  if (error.status !== undefined && error.code !== HttpErrorCode.ResponseTooLarge) {
    // The vendor answered: its status and body (secrets blanked; rebuilt when the excerpt may be cut).
    reply.status(error.status);
    copyHeaders(reply, error.headers);
    const excerpt = redactSecrets(error.bodyExcerpt ?? '', vendor.secrets);
    if (excerpt.length > 0 && excerpt.length < EXCERPT_LENGTH) return reply.send(excerpt);
    reply.header('content-type', 'application/json; charset=utf-8');
    return reply.send(
      vendor.rules.errorBody(error.status, 'upstream_error', `${vendor.rules.name} answered ${error.status}`),
    );
  }
  return refuse(reply, vendor, refusalKind(error.code), untilRetry(error.retryAt, now), error.code);
}

/** Why the gateway answers for the vendor: its own refusal, or a call that got no usable answer. */
type RefusalKind = 'budget' | 'breaker' | 'timeout' | 'aborted' | 'unreachable';

function refusalKind(code: string): RefusalKind {
  switch (code) {
    case HttpErrorCode.QuotaExhausted:
    case HttpErrorCode.RateLimited:
      return 'budget';
    case HttpErrorCode.CircuitOpen:
    case HttpErrorCode.QueueFull:
      return 'breaker';
    case HttpErrorCode.Timeout:
      return 'timeout';
    case HttpErrorCode.Aborted:
      return 'aborted';
    default:
      return 'unreachable';
  }
}

function untilRetry(retryAt: number | undefined, now: number): number | undefined {
  return retryAt === undefined ? undefined : retryAt - now;
}

/** The gateway's refusal of a call (forwarded or streamed), in the vendor's error shape. */
function refuse(
  reply: FastifyReply,
  vendor: GatewayVendor,
  kind: RefusalKind,
  untilRetryMs: number | undefined,
  errorCode?: string,
): FastifyReply {
  const name = vendor.rules.name;
  switch (kind) {
    case 'budget':
      return vendorError(
        reply,
        vendor,
        429,
        ServerErrorCode.GatewayBudgetExhausted,
        `The ${name} account's budget has no room for this call now`,
        untilRetryMs ?? 1000,
      );
    case 'breaker':
      return vendorError(
        reply,
        vendor,
        503,
        ServerErrorCode.GatewayUpstream,
        `${name} is failing; the gateway is not sending to it for now`,
        untilRetryMs ?? 5000,
      );
    case 'timeout':
      return vendorError(
        reply,
        vendor,
        504,
        ServerErrorCode.GatewayUpstream,
        `${name} did not answer in time`,
      );
    case 'aborted':
      // The caller went away: nobody reads this answer.
      return vendorError(
        reply,
        vendor,
        499,
        ServerErrorCode.GatewayUpstream,
        'The caller closed the request',
      );
    case 'unreachable':
      return vendorError(
        reply,
        vendor,
        502,
        ServerErrorCode.GatewayUpstream,
        errorCode === undefined
          ? `${name} could not be reached`
          : `${name} could not be reached or answered unusably (${errorCode})`,
      );
  }
}

/** An error of the gateway itself, in the vendor's error shape, with Retry-After when given. */
function vendorError(
  reply: FastifyReply,
  vendor: GatewayVendor,
  status: number,
  code: string,
  message: string,
  retryAfterMs?: number,
): FastifyReply {
  if (retryAfterMs !== undefined)
    reply.header('retry-after', String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
  return reply
    .status(status)
    .type('application/json; charset=utf-8')
    .send(vendor.rules.errorBody(status, code, message));
}
