import { ConfigError } from '../core/index.js';
import type { HttpAuth } from './auth.js';
import { HTTP_DEFAULTS } from './http-defaults.js';
import type { HttpMethod, RequestOptions } from './http-types.js';
import { type ArrayFormat, encodeParams } from './params.js';

/** One call, ready to send: where, what, and under which names it is counted and reported. */
export interface PreparedRequest {
  service: string;
  method: HttpMethod;
  origin: string;
  /** Path with the query string (the credential included when it travels as a query parameter). */
  path: string;
  /** Path without the query string: error messages, channels, logs. */
  endpoint: string;
  /** Metric label and cost lookup. */
  operation: string;
  headers: Record<string, string>;
  body: string | Buffer | undefined;
  sameOrigin: boolean;
}

/** What every call of a client shares: its origin, base path, default headers and credential. */
export interface RequestTarget {
  readonly service: string;
  /** `URL#origin` is a computed getter; read once. */
  readonly origin: string;
  readonly basePath: string;
  /** Lower-case names; shared (not copied) by calls that add nothing to it. */
  readonly defaultHeaders: Record<string, string>;
  /** `name=value` of a query-parameter credential, or ''. */
  readonly authQuery: string;
  /** The query-parameter credential's name, left out of cache keys. */
  readonly authQueryName: string | undefined;
  readonly arrayFormat: ArrayFormat;
}

/** Resolves a client's base URL, headers and credential; throws ConfigError for an invalid `baseUrl`. */
export function requestTarget(options: {
  service: string;
  baseUrl: string;
  auth?: HttpAuth | undefined;
  headers?: Record<string, string> | undefined;
  userAgent: string;
  arrayFormat: ArrayFormat;
}): RequestTarget {
  let base: URL;
  try {
    base = new URL(options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`);
  } catch (error) {
    throw new ConfigError(`Invalid baseUrl for ${options.service}`, { cause: error });
  }
  const defaultHeaders: Record<string, string> = {
    'user-agent': options.userAgent,
    'accept-encoding': HTTP_DEFAULTS.acceptEncoding,
    ...lower(options.headers ?? {}),
  };
  const auth = options.auth;
  if (auth?.type === 'bearer') defaultHeaders.authorization = `Bearer ${auth.token}`;
  if (auth?.type === 'header') defaultHeaders[auth.name.toLowerCase()] = auth.value;
  const authQueryName = auth?.type === 'query' ? (auth.name ?? 'key') : undefined;
  return {
    service: options.service,
    origin: base.origin,
    basePath: base.pathname,
    defaultHeaders,
    authQuery:
      auth?.type === 'query' ? `${encodeURIComponent(authQueryName!)}=${encodeURIComponent(auth.value)}` : '',
    authQueryName,
    arrayFormat: options.arrayFormat,
  };
}

/**
 * The request for `endpoint` (relative to the base URL, or absolute) with `options`' parameters,
 * headers and body. Synchronous except for a FormData body, which is serialized first (multipart, with a
 * generated boundary) and buffered so a retry can send it again. Credentials only travel to the
 * target's own origin.
 */
export function prepareRequest(
  target: RequestTarget,
  method: HttpMethod,
  endpoint: string,
  options: RequestOptions,
): PreparedRequest | Promise<PreparedRequest> {
  let origin = target.origin;
  let pathname: string;
  let search = '';
  if (isAbsolute(endpoint)) {
    const url = new URL(endpoint);
    origin = url.origin;
    pathname = url.pathname;
    search = url.search.slice(1);
  } else {
    // Relative endpoints extend the base path; a plain concatenation avoids a URL parse per call.
    const rel = endpoint.charCodeAt(0) === 47 ? endpoint.replace(/^\/+/, '') : endpoint;
    const q = rel.indexOf('?');
    pathname = target.basePath + (q < 0 ? rel : rel.slice(0, q));
    if (q >= 0) search = rel.slice(q + 1);
  }
  const sameOrigin = origin === target.origin;
  const query = options.params ? encodeParams(options.params, target.arrayFormat) : '';
  if (query) search = search ? `${search}&${query}` : query;
  if (sameOrigin && target.authQuery) search = search ? `${search}&${target.authQuery}` : target.authQuery;
  const path = search ? `${pathname}?${search}` : pathname;
  const data = options.data;
  const defaults = target.defaultHeaders;
  // undici only reads the headers object, so a plain same-origin call shares the defaults (no copy per call).
  const shared = sameOrigin && !options.headers && !options.idempotencyKey && data == null;
  const headers: Record<string, string> = shared
    ? defaults
    : sameOrigin
      ? { ...defaults }
      : { 'user-agent': defaults['user-agent']!, 'accept-encoding': defaults['accept-encoding']! };
  if (options.headers) Object.assign(headers, lower(options.headers));
  if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;
  const prepared: PreparedRequest = {
    service: target.service,
    method,
    origin,
    path,
    endpoint: pathname,
    operation: options.operation ?? pathname,
    headers,
    body: undefined,
    sameOrigin,
  };
  if (data === undefined || data === null) return prepared;
  if (data instanceof FormData) {
    const encoded = new Response(data);
    headers['content-type'] = encoded.headers.get('content-type')!;
    return encoded.arrayBuffer().then((buffer) => {
      prepared.body = Buffer.from(buffer);
      return prepared;
    });
  }
  if (typeof data === 'string') {
    prepared.body = data;
  } else if (data instanceof Uint8Array) {
    prepared.body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    headers['content-type'] ??= 'application/octet-stream';
  } else {
    prepared.body = JSON.stringify(data);
    headers['content-type'] ??= 'application/json';
  }
  return prepared;
}

/** `http://` or `https://`, any case, without a regular expression per call. */
function isAbsolute(endpoint: string): boolean {
  const c = endpoint.charCodeAt(0);
  if (c !== 104 && c !== 72) return false;
  return /^https?:\/\//i.test(endpoint);
}

function lower(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = v;
  return out;
}
