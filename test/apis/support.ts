import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { after, before, beforeEach } from 'node:test';
import { Agent, type Dispatcher } from 'undici';
import type { Logger } from '../../src/core/index.js';
import {
  ContractValidator,
  createSandbox,
  type Sandbox,
  type SandboxOptions,
  type Vendor,
} from '../../src/sandbox/index.js';

export const KEYS = {
  youtube: 'yt-key-TOPSECRET-0001',
  youtubeOAuth: 'ya29.oauth-TOPSECRET-0002',
  openai: 'sk-TOPSECRET-openai-0003',
  stability: 'sk-TOPSECRET-stability-0004',
  elevenlabs: 'el-TOPSECRET-0005',
};
const SECRETS = Object.values(KEYS);

/** One validator per process: the specs are parsed and compiled once. */
const validator = new ContractValidator();

export function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  return createSandbox({
    keys: {
      youtube: [KEYS.youtube],
      youtubeOAuth: [KEYS.youtubeOAuth],
      openai: [KEYS.openai],
      stability: [KEYS.stability],
      elevenlabs: [KEYS.elevenlabs],
    },
    ...options,
  });
}

/** A response as the client received it off the wire. */
export interface Exchange {
  method: string;
  path: string;
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * An undici Agent whose interceptor keeps every response's status, headers and raw body, so contract
 * tests can validate exactly what the clients received. Passed to the clients as `dispatcher`.
 */
export function recordingDispatcher(): {
  dispatcher: Dispatcher;
  exchanges: Exchange[];
  close: () => Promise<void>;
} {
  const agent = new Agent({ connections: 32 });
  const exchanges: Exchange[] = [];
  const dispatcher = agent.compose((dispatch) => (opts, handler) => {
    const chunks: Buffer[] = [];
    let status = 0;
    let headers: IncomingHttpHeaders = {};
    const wrapped: Dispatcher.DispatchHandler = {
      onRequestStart: (c, ctx) => handler.onRequestStart?.(c, ctx),
      onRequestUpgrade: (c, s, h, socket) => handler.onRequestUpgrade?.(c, s, h, socket),
      onResponseStart: (c, s, h, m) => {
        status = s;
        headers = h;
        handler.onResponseStart?.(c, s, h, m);
      },
      onResponseData: (c, chunk) => {
        chunks.push(Buffer.from(chunk));
        handler.onResponseData?.(c, chunk);
      },
      onResponseEnd: (c, trailers) => {
        exchanges.push({
          method: String(opts.method),
          path: String(opts.path).split('?')[0] ?? '',
          status,
          headers,
          body: Buffer.concat(chunks),
        });
        handler.onResponseEnd?.(c, trailers);
      },
      onResponseError: (c, error) => handler.onResponseError?.(c, error),
    };
    return dispatch(opts, wrapped);
  });
  return { dispatcher, exchanges, close: () => agent.close() };
}

/** Every request the sandbox logged for `vendor` must satisfy the vendor's spec. */
export function assertRequestsFollowSpec(sandbox: Sandbox, vendor: Vendor): number {
  const entries = sandbox.requests.filter(vendor);
  for (const entry of entries) {
    const result = validator.validateRequest(vendor, {
      method: entry.method,
      path: entry.path,
      query: entry.query,
      headers: entry.headers,
      body: entry.body,
    });
    assert.deepEqual(
      result.issues,
      [],
      `${entry.method} ${entry.path} request should follow the ${vendor} spec`,
    );
  }
  return entries.length;
}

/** Every response received for `vendor` (by path prefix) must satisfy the vendor's spec. */
export function assertResponsesFollowSpec(exchanges: readonly Exchange[], vendor: Vendor): number {
  const mine = exchanges.filter((e) => e.path.startsWith(`/${vendor}/`));
  for (const e of mine) {
    const contentType = String(e.headers['content-type'] ?? '');
    const body = contentType.includes('json')
      ? JSON.parse(e.body.toString('utf8'))
      : contentType.startsWith('text/') || contentType.includes('subrip')
        ? e.body.toString('utf8')
        : e.body;
    const result = validator.validateResponse(vendor, e.method, e.path, {
      status: e.status,
      contentType,
      body,
    });
    assert.deepEqual(
      result.issues,
      [],
      `${e.method} ${e.path} → ${e.status} should follow the ${vendor} spec`,
    );
  }
  return mine.length;
}

/** A logger that keeps every line (to check no secret is ever logged). */
export function capturingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (obj: Record<string, unknown>, msg?: string): void => {
    lines.push(
      JSON.stringify({ ...obj, msg }, (_k, v) =>
        v instanceof Error ? { message: v.message, stack: v.stack } : v,
      ),
    );
  };
  return { lines, debug: push, info: push, warn: push, error: push };
}

/** Serialises an error fully (message, details, cause chain, toJSON) for secret checks. */
export function dumpError(error: unknown): string {
  const parts: string[] = [];
  let e: unknown = error;
  for (let i = 0; i < 6 && e; i++) {
    if (e instanceof Error) {
      parts.push(e.message, String(e.stack));
      const json = (e as { toJSON?: () => unknown }).toJSON?.();
      parts.push(JSON.stringify(json ?? {}));
      parts.push(JSON.stringify((e as { details?: unknown }).details ?? {}));
      e = e.cause;
    } else {
      parts.push(String(e));
      break;
    }
  }
  return parts.join('\n');
}

export function assertNoSecrets(text: string): void {
  for (const secret of SECRETS) assert.ok(!text.includes(secret), `a secret leaked: ...${secret.slice(-6)}`);
}

/** Awaits a rejection and returns the error (assert.rejects cannot hand it back). */
export async function caught(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string };
  }
  assert.fail('expected a rejection');
}

export const FAST_RETRIES = { retryDelayMs: 5, maxRetryDelayMs: 40, attemptTimeoutMs: 2_000 } as const;

/**
 * One sandbox per describe block (reset before each test) and a factory for clients, all closed after
 * the block. Call it inside describe(); `ready` receives the sandbox once it listens.
 */
export function useSandboxClients<C extends { close(): Promise<void> }, O>(
  make: (sandbox: Sandbox, extra: Partial<O>) => C,
  ready: (sandbox: Sandbox) => void,
  options: SandboxOptions = {},
): (extra?: Partial<O>) => C {
  let sandbox: Sandbox | undefined;
  const clients: C[] = [];
  before(async () => {
    sandbox = await startSandbox(options);
    ready(sandbox);
  });
  beforeEach(() => sandbox!.reset());
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await sandbox?.close();
  });
  return (extra = {}) => {
    const c = make(sandbox!, extra);
    clients.push(c);
    return c;
  };
}
