import type { HttpHeaders } from './http-types.js';

/** The first value of a header (undici gives repeated headers as an array). */
export function firstHeader(headers: HttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * The provider's id for the request, from the first of the usual headers present. Read by literal
 * names: a keyed lookup per candidate showed in profiles (every answer takes this path).
 */
export function requestIdOf(headers: HttpHeaders): string | undefined {
  const v =
    headers['x-request-id'] ||
    headers['request-id'] ||
    headers['x-goog-request-id'] ||
    headers['x-amzn-requestid'] ||
    headers['cf-ray'];
  const first = Array.isArray(v) ? v[0] : v;
  return first ? first.slice(0, 128) : undefined;
}
