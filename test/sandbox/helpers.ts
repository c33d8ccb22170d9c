import assert from 'node:assert/strict';
import { type Dispatcher, request } from 'undici';
import { ContractValidator, type Vendor } from '../../src/sandbox/index.js';

/** One validator for the whole process: specs are parsed and schemas compiled once. */
const validator = new ContractValidator();

export interface Call {
  status: number;
  headers: Headers;
  contentType: string;
  /** Parsed JSON when the response is JSON, else the raw bytes. */
  body: unknown;
  bytes: Buffer;
  // biome-ignore lint/suspicious/noExplicitAny: test convenience for reading parsed JSON bodies.
  json: any;
}

export interface CallInit {
  headers?: Record<string, string>;
  body?: string | FormData;
}

/**
 * undici's `request` (lighter than fetch, which matters for the rate-limit and chaos loops); fetch for
 * multipart bodies, because the global FormData belongs to node's bundled undici, not the package.
 */
export async function call(base: string, method: string, path: string, init: CallInit = {}): Promise<Call> {
  let status: number;
  let bytes: Buffer;
  const headers = new Headers();
  if (init.body instanceof FormData) {
    const res = await fetch(`${base}${path}`, { method, body: init.body, headers: init.headers ?? {} });
    status = res.status;
    bytes = Buffer.from(await res.arrayBuffer());
    for (const [name, value] of res.headers) headers.set(name, value);
  } else {
    const options: Parameters<typeof request>[1] = { method: method as Dispatcher.HttpMethod };
    if (init.headers) options.headers = init.headers;
    if (init.body !== undefined) options.body = init.body;
    const res = await request(`${base}${path}`, options);
    status = res.statusCode;
    bytes = Buffer.from(await res.body.arrayBuffer());
    for (const [name, value] of Object.entries(res.headers)) {
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
  }
  const contentType = headers.get('content-type') ?? '';
  const body = contentType.includes('json') ? JSON.parse(bytes.toString('utf8')) : bytes;
  return { status, headers, contentType, body, bytes, json: body };
}

/** Asserts the response matches the vendor's spec for this operation and status. */
export function assertContract(vendor: Vendor, method: string, path: string, res: Call): void {
  const result = validator.validateResponse(vendor, method, path, {
    status: res.status,
    contentType: res.contentType,
    body: res.body,
  });
  assert.deepEqual(result.issues, [], `${method} ${path} → ${res.status} should match the ${vendor} spec`);
}

export function jsonInit(body: unknown, headers: Record<string, string> = {}): CallInit {
  return { headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}
