/**
 * What the gateway knows about each vendor: where its API lives, how it wants the key, what a call costs
 * in the provider's own units, which answers mean a spent quota, which GETs are cacheable, and its error
 * shape (so a caller's SDK reads a gateway refusal as a normal answer of that API).
 */
import {
  elevenLabsCharacterCost,
  elevenLabsWindows,
  openAiWindows,
  STABILITY_CREDIT_COSTS,
  stabilityWindows,
  youtubeCost,
  youtubeQuotaWindows,
} from '../apis/index.js';
import type { HttpAuth, HttpErrorKind, HttpResponse } from '../http/index.js';
import type { Cost, WindowSpec } from '../resilience/index.js';
import { asksForStream } from './gateway-stream.js';
import { endpointTemplate } from './metric-labels.js';

export type GatewayVendorName = 'youtube' | 'openai' | 'stability' | 'elevenlabs';
export const GATEWAY_VENDORS: readonly GatewayVendorName[] = ['youtube', 'openai', 'stability', 'elevenlabs'];

/** The real APIs' roots: `/gateway/<vendor>/<path>` goes to `<root><path>`. */
export const GATEWAY_ROOT_URLS: Readonly<Record<GatewayVendorName, string>> = Object.freeze({
  youtube: 'https://www.googleapis.com/',
  openai: 'https://api.openai.com/',
  stability: 'https://api.stability.ai/',
  elevenlabs: 'https://api.elevenlabs.io/',
});

/** The same roots on a sandbox (src/sandbox) at `sandboxUrl`. */
export function gatewaySandboxRoots(sandboxUrl: string): Record<GatewayVendorName, string> {
  const url = sandboxUrl.replace(/\/+$/, '');
  return {
    youtube: `${url}/youtube/`,
    openai: `${url}/openai/`,
    stability: `${url}/stability/`,
    elevenlabs: `${url}/elevenlabs/`,
  };
}

export interface VendorRules {
  readonly name: GatewayVendorName;
  /** The vendor key as the vendor expects it. */
  auth(key: string): HttpAuth;
  /** Query parameters a caller may not send on (credentials). */
  readonly secretQuery: ReadonlySet<string>;
  /** Metric label and cost lookup of a call (`videos.list`, `/v1/chat/completions`). */
  operation(method: string, path: string): string;
  /** Cost reserved before the call, in the provider's units. */
  cost(method: string, operation: string, body: Buffer | undefined): Cost;
  /**
   * Credits a call costs (Stability): reserved before it is sent, kept when it succeeds and given back
   * when it fails (the provider charges only successful generations).
   */
  credits?(method: string, path: string, body: Buffer | undefined): number;
  /** Cost read from the answer, replacing the estimate. */
  actualCost?(response: HttpResponse): Cost | undefined;
  /** Calls whose answer is streamed through as it arrives (OpenAI `stream: true`). */
  streams?(method: string, body: Buffer | undefined): boolean;
  /** GETs answered from the response cache. */
  cacheable(method: string, path: string): boolean;
  classifyError(body: unknown, status: number): HttpErrorKind | undefined;
  /** An error body in the vendor's shape. */
  errorBody(status: number, code: string, message: string): unknown;
  /** Default budget windows (one account's limits) when none is given. */
  defaultWindows(options: { creditsPerMonth?: number | undefined }): WindowSpec[];
}

function json(body: Buffer | undefined): Record<string, unknown> | undefined {
  if (!body || body.length === 0) return undefined;
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function googleReason(body: unknown): string | undefined {
  const errors = (body as { error?: { errors?: Array<{ reason?: unknown }> } } | null)?.error?.errors;
  const reason = Array.isArray(errors) ? errors[0]?.reason : undefined;
  return typeof reason === 'string' ? reason : undefined;
}

const YOUTUBE_WRITE_UNITS = 50;
/** The JSON keys that bound a completion's tokens (chat, newer chat models, the responses API). */
const MAX_TOKEN_KEYS = ['"max_tokens"', '"max_completion_tokens"', '"max_output_tokens"'].map((k) =>
  Buffer.from(k, 'latin1'),
);
const TOTAL_TOKENS = /"total_tokens"\s*:\s*(\d+)/;

/** The number after the first `"max_tokens"`-like key of a JSON body, without decoding the body. */
function maxTokensOf(body: Buffer): number | undefined {
  for (const key of MAX_TOKEN_KEYS) {
    const at = body.indexOf(key);
    if (at < 0) continue;
    let i = at + key.length;
    while (isSpace(body[i])) i++;
    if (body[i] !== 58 /* : */) continue;
    i++;
    while (isSpace(body[i])) i++;
    let value = 0;
    const start = i;
    for (let c = body[i]; c !== undefined && c >= 48 && c <= 57; c = body[++i]) value = value * 10 + c - 48;
    if (i > start) return value;
  }
  return undefined;
}

function isSpace(c: number | undefined): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

const youtube: VendorRules = {
  name: 'youtube',
  auth: (key) => ({ type: 'query', name: 'key', value: key }),
  secretQuery: new Set(['key', 'access_token', 'oauth_token']),
  operation(method, path) {
    // youtube/v3/<resource>[/<id>]: list, download (a caption's body), insert, update, delete.
    const m = /^youtube\/v3\/([A-Za-z]+)(\/[^/]+)?/.exec(path);
    if (!m) return endpointTemplate(`/${path}`);
    const resource = m[1]!;
    if (method === 'GET') return `${resource}.${m[2] ? 'download' : 'list'}`;
    const verb = { POST: 'insert', PUT: 'update', DELETE: 'delete' }[method] ?? method.toLowerCase();
    return `${resource}.${verb}`;
  },
  cost(method, operation) {
    if (method === 'GET') return youtubeCost(operation);
    return { units: youtubeCost(operation).units === 1 ? YOUTUBE_WRITE_UNITS : youtubeCost(operation).units };
  },
  cacheable: (method) => method === 'GET',
  classifyError(body, status) {
    const reason = googleReason(body);
    if (reason === 'quotaExceeded' || reason === 'dailyLimitExceeded') return 'quota_exhausted';
    if (reason === 'rateLimitExceeded' || reason === 'userRateLimitExceeded') return 'rate_limited';
    return status === 403 ? 'forbidden' : undefined;
  },
  errorBody: (status, code, message) => ({
    error: { code: status, message, errors: [{ message, domain: 'gateway', reason: code }] },
  }),
  defaultWindows: () => youtubeQuotaWindows(10_000),
};

const openai: VendorRules = {
  name: 'openai',
  auth: (key) => ({ type: 'bearer', token: key }),
  secretQuery: new Set(),
  operation: (_method, path) => endpointTemplate(`/${path}`),
  cost(_method, operation, body) {
    if (!operation.endsWith('/completions') && !operation.endsWith('/responses')) {
      return { requests: 1, tokens: 0 };
    }
    // Prompt (about 4 bytes a token) plus the most the completion may take; the usage replaces it.
    // A scan of the bytes rather than a parse: the body is forwarded as it is, this reads one number of it.
    const completion = (body && maxTokensOf(body)) ?? 256;
    return { requests: 1, tokens: Math.ceil((body?.length ?? 0) / 4) + completion };
  },
  actualCost(response) {
    const data = response.data;
    if (!(data instanceof Uint8Array)) return undefined;
    // `usage` comes last in a completion: read the tail, not the whole answer.
    const tail = Buffer.from(data.buffer, data.byteOffset, data.byteLength)
      .subarray(Math.max(0, data.byteLength - 512))
      .toString('latin1');
    const total =
      TOTAL_TOKENS.exec(tail)?.[1] ?? TOTAL_TOKENS.exec(Buffer.from(data).toString('latin1'))?.[1];
    return total === undefined ? undefined : { requests: 1, tokens: Number(total) };
  },
  streams: (method, body) => method === 'POST' && asksForStream(body),
  cacheable: () => false,
  classifyError(body, status) {
    const code = (body as { error?: { code?: unknown } } | null)?.error?.code;
    if (status === 429 && code === 'insufficient_quota') return 'quota_exhausted';
    return undefined;
  },
  errorBody: (status, code, message) => ({
    error: {
      message,
      type: status === 429 ? 'rate_limit_exceeded' : status >= 500 ? 'server_error' : 'invalid_request_error',
      param: null,
      code,
    },
  }),
  defaultWindows: () => openAiWindows(500, 200_000),
};

/** The price of a model Stability has no published price for: the dearest one, so a reservation covers it. */
const UNKNOWN_MODEL_CREDITS = Math.max(...Object.values(STABILITY_CREDIT_COSTS));
const SDXL = 'stable-diffusion-xl-1024-v1-0';

/** The text of a multipart form's field `name` (a plain text part), without parsing the whole form. */
function formField(body: Buffer, name: string): string | undefined {
  const at = body.indexOf(`name="${name}"`);
  if (at < 0) return undefined;
  const start = body.indexOf('\r\n\r\n', at);
  if (start < 0) return undefined;
  const end = body.indexOf('\r\n', start + 4);
  return body.toString('utf8', start + 4, end < 0 ? body.length : end);
}

/** Credits of a Stability generation by its endpoint and model (STABILITY_CREDIT_COSTS); 0 for other calls. */
function stabilityCredits(method: string, path: string, body: Buffer | undefined): number {
  if (method !== 'POST') return 0;
  const v2 = /^v2beta\/stable-image\/generate\/([a-z0-9.-]+)$/.exec(path);
  if (v2) {
    // sd3 takes the model in a form field (default sd3.5-large); core and ultra are their own model.
    const model = v2[1] === 'sd3' ? ((body && formField(body, 'model')) ?? 'sd3.5-large') : v2[1]!;
    return STABILITY_CREDIT_COSTS[model] ?? UNKNOWN_MODEL_CREDITS;
  }
  const v1 = /^v1\/generation\/([a-z0-9.-]+)\/(?:text|image)-to-image/.exec(path);
  if (v1) {
    // SDXL's price is for up to 30 steps and one image; more of either cost proportionally more.
    const fields = json(body);
    const steps = typeof fields?.steps === 'number' ? fields.steps : 30;
    const samples = typeof fields?.samples === 'number' ? fields.samples : 1;
    const price = STABILITY_CREDIT_COSTS[v1[1]!] ?? STABILITY_CREDIT_COSTS[SDXL]!;
    return price * Math.max(1, steps / 30) * Math.max(1, samples);
  }
  return 0;
}

/** The first instant of the next UTC month: when a monthly credit allowance starts again. */
function nextUtcMonth(now: number): number {
  const date = new Date(now);
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
}

const stability: VendorRules = {
  name: 'stability',
  auth: (key) => ({ type: 'bearer', token: key }),
  secretQuery: new Set(),
  operation: (_method, path) => endpointTemplate(`/${path}`),
  cost: () => ({ requests: 1 }),
  credits: stabilityCredits,
  cacheable: () => false,
  classifyError: () => undefined,
  errorBody: (_status, code, message) => ({ id: code, name: code, errors: [message] }),
  defaultWindows: ({ creditsPerMonth }) => [
    ...stabilityWindows(150),
    {
      name: 'credits',
      kind: 'calendar',
      // Without an allowance the credits are counted (the quota metrics show them), never refused.
      limit: creditsPerMonth ?? Number.MAX_SAFE_INTEGER,
      nextReset: nextUtcMonth,
    },
  ],
};

const elevenlabs: VendorRules = {
  name: 'elevenlabs',
  auth: (key) => ({ type: 'header', name: 'xi-api-key', value: key }),
  secretQuery: new Set(),
  operation: (_method, path) => endpointTemplate(`/${path}`),
  cost(_method, operation, body) {
    if (!operation.includes('text-to-speech')) return { concurrent: 1, characters: 0 };
    const text = json(body)?.text;
    return { concurrent: 1, characters: typeof text === 'string' ? text.length : 0 };
  },
  actualCost(response) {
    const cost = elevenLabsCharacterCost(response);
    return cost ? { concurrent: 1, characters: cost.characters } : undefined;
  },
  cacheable: (method, path) => method === 'GET' && !path.includes('/user'),
  classifyError(body, status) {
    const detail = (body as { detail?: { status?: unknown } } | null)?.detail?.status;
    if (status === 401 && detail === 'quota_exceeded') return 'quota_exhausted';
    return undefined;
  },
  errorBody: (_status, code, message) => ({ detail: { status: code, message } }),
  defaultWindows: () => elevenLabsWindows({ concurrent: 5 }),
};

export const VENDOR_RULES: Readonly<Record<GatewayVendorName, VendorRules>> = Object.freeze({
  youtube,
  openai,
  stability,
  elevenlabs,
});

export function isGatewayVendor(name: string): name is GatewayVendorName {
  return (GATEWAY_VENDORS as readonly string[]).includes(name);
}
