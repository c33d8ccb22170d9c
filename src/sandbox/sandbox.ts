import type { Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import Fastify, { type FastifyError, type FastifyReply, type FastifyRequest } from 'fastify';
import { redactSecrets, silentLogger, systemClock } from '../core/index.js';
import { CapacityGate, overloadedBody } from './capacity.js';
import {
  type ChaosMode,
  cloneConfig,
  defaultConfig,
  mergeConfig,
  type SandboxConfig,
  type SandboxConfigInput,
  type SandboxOptions,
  VENDORS,
  type Vendor,
} from './config.js';
import { freshState, makeRequestId, type SandboxContext } from './context.js';
import { registerElevenLabs } from './elevenlabs-routes.js';
import { SandboxError, SandboxErrorCode } from './errors.js';
import { openaiError, registerOpenAI } from './openai-routes.js';
import { Rng } from './random.js';
import { type RecordedRequest, RequestLog } from './request-log.js';
import { registerStability } from './stability-routes.js';
import { googleError, registerYouTube } from './youtube-routes.js';

export interface Sandbox {
  /** Base URL, e.g. `http://127.0.0.1:41234`; a client's base URL is `${url}/openai/v1` etc. */
  readonly url: string;
  readonly port: number;
  /** Every request received since start or the last reset(). */
  readonly requests: RequestLog;
  /** Live configuration: change it at runtime (chaos, latency, quotas). */
  readonly config: SandboxConfig;
  /** Per-vendor base URLs matching the real APIs' base URLs. */
  readonly baseUrls: Record<Vendor, string>;
  /** Clears the request log, counters, quotas and the chaos sequence, and restores the starting config. */
  reset(): void;
  close(): Promise<void>;
}

const SECRET_HEADERS = new Set([
  'authorization',
  'x-goog-api-key',
  'xi-api-key',
  'cookie',
  'proxy-authorization',
]);
const SECRET_QUERY = new Set(['key', 'access_token', 'oauth_token', 'api_key']);

declare module 'fastify' {
  interface FastifyRequest {
    sandboxVendor: Vendor | 'unknown';
    sandboxSeq: number;
    sandboxEntry: RecordedRequest | undefined;
    sandboxChaos: ChaosMode | undefined;
  }
}

function vendorOf(url: string): Vendor | 'unknown' {
  const first = url.split('/')[1]?.split('?')[0] ?? '';
  return (VENDORS as readonly string[]).includes(first) ? (first as Vendor) : 'unknown';
}

function redactHeaders(headers: FastifyRequest['headers'], secrets: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const text = Array.isArray(value) ? value.join(', ') : String(value);
    if (SECRET_HEADERS.has(name)) out[name] = /^Bearer\s/i.test(text) ? 'Bearer ***' : '***';
    else out[name] = redactSecrets(text, secrets);
  }
  return out;
}

function redactQuery(query: unknown): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries((query ?? {}) as Record<string, unknown>)) {
    if (SECRET_QUERY.has(name)) out[name] = '***';
    else out[name] = Array.isArray(value) ? value.map(String) : String(value);
  }
  return out;
}

/** Multipart fields as plain values; files become `{ filename, type, size }` (the bytes are not kept). */
async function parseMultipart(contentType: string, body: Buffer): Promise<Record<string, unknown>> {
  const form = await new Response(body, { headers: { 'content-type': contentType } }).formData();
  const out: Record<string, unknown> = {};
  for (const [name, value] of form.entries()) {
    out[name] =
      typeof value === 'string' ? value : { filename: value.name, type: value.type, size: value.size };
  }
  return out;
}

const GOOGLE_REASONS: Record<number, string> = {
  401: 'authError',
  403: 'forbidden',
  404: 'notFound',
  429: 'rateLimitExceeded',
};

function vendorErrorBody(vendor: Vendor | 'unknown', status: number, message: string, id: string): unknown {
  switch (vendor) {
    case 'youtube':
      return googleError(
        status,
        GOOGLE_REASONS[status] ?? (status >= 500 ? 'backendError' : 'badRequest'),
        message,
      );
    case 'openai':
      return openaiError(message, status >= 500 ? 'server_error' : 'invalid_request_error', null);
    case 'stability':
      return { id, name: status >= 500 ? 'internal_error' : 'bad_request', errors: [message] };
    case 'elevenlabs':
      return { detail: { status: status >= 500 ? 'internal_server_error' : 'invalid_request', message } };
    default:
      return { error: message };
  }
}

/** Starts the emulator on 127.0.0.1 (by default on a free port). */
export async function createSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const clock = options.clock ?? systemClock;
  const initial = defaultConfig();
  if (options.config) mergeConfig(initial, options.config as object);
  const config = cloneConfig(initial);
  const keys = options.keys ?? {};
  const secrets = Object.values(keys).flat();
  const log = new RequestLog();
  // Reseeded whenever config.chaos.seed changes, so a test can set a seed at runtime and get a known sequence.
  let chaosSeed = config.chaos.seed;
  let chaosRng = new Rng(chaosSeed);
  let latencyRng = new Rng(chaosSeed + 1);
  const hung = new Set<Socket>();
  const capacity = new CapacityGate(() => config.capacity);

  const ctx: SandboxContext = {
    config,
    clock,
    logger: options.logger ?? silentLogger,
    keys,
    state: freshState(),
    requestId: (request) =>
      makeRequestId(
        request.sandboxVendor === 'unknown' ? 'youtube' : request.sandboxVendor,
        request.sandboxSeq,
      ),
  };

  const app = Fastify({ logger: false, bodyLimit: 12 * 1024 * 1024, forceCloseConnections: true });
  app.decorateRequest('sandboxVendor', 'unknown');
  app.decorateRequest('sandboxSeq', 0);
  app.decorateRequest('sandboxEntry', undefined);
  app.decorateRequest('sandboxChaos', undefined);

  app.addContentTypeParser(
    'multipart/form-data',
    { parseAs: 'buffer' },
    async (request: FastifyRequest, body: Buffer) =>
      parseMultipart(String(request.headers['content-type']), body),
  );
  app.addContentTypeParser('*', { parseAs: 'buffer' }, async (_request: FastifyRequest, body: Buffer) =>
    body.length === 0 ? undefined : body.toString('utf8'),
  );

  app.addHook('onRequest', async (request) => {
    request.sandboxVendor = vendorOf(request.url);
    request.sandboxSeq = ++ctx.state.seq;
  });

  const record = (request: FastifyRequest): RecordedRequest => {
    const entry: RecordedRequest = {
      seq: request.sandboxSeq,
      vendor: request.sandboxVendor,
      method: request.method,
      path: request.url.split('?')[0] ?? request.url,
      query: redactQuery(request.query),
      headers: redactHeaders(request.headers, secrets),
      body: request.body,
      timestamp: clock.now(),
    };
    request.sandboxEntry = entry;
    log.add(entry);
    return entry;
  };

  app.addHook('preHandler', async (request, reply) => {
    const entry = record(request);

    const vendor = request.sandboxVendor;
    if (capacity.limits(vendor)) {
      const response = reply.raw;
      const pending = capacity.admit(vendor, (leave) => response.once('close', leave));
      const admission = pending instanceof Promise ? await pending : pending;
      if (admission.outcome === 'gone') {
        reply.hijack();
        return reply;
      }
      if (admission.outcome === 'refused') {
        const { status, retryAfterMs } = config.capacity;
        entry.chaos = 'overloaded';
        if (retryAfterMs > 0) reply.header('retry-after', String(Math.ceil(retryAfterMs / 1000)));
        return reply
          .code(status)
          .send(overloadedBody(vendor, status, makeRequestId(vendor, request.sandboxSeq)));
      }
      // The worker stays busy until the answer is sent or the client goes away.
      response.once('close', admission.release);
    }

    const { fixedMs, jitterMs } = config.latency;
    const delay = fixedMs + (jitterMs > 0 ? latencyRng.next() * jitterMs : 0);
    if (delay > 0) await clock.sleep(delay);

    const fault = config.faults.find(
      (f) =>
        f.times > 0 &&
        f.vendor === request.sandboxVendor &&
        (f.urlIncludes === undefined || request.url.includes(f.urlIncludes)),
    );
    if (fault) {
      fault.times--;
      entry.chaos = 'scripted';
      if (fault.retryAfterMs !== undefined) {
        reply.header('retry-after', String(Math.ceil(fault.retryAfterMs / 1000)));
      }
      return reply
        .code(fault.status)
        .send(
          vendorErrorBody(
            request.sandboxVendor,
            fault.status,
            fault.message ?? `Scripted fault ${fault.status} (sandbox).`,
            makeRequestId('stability', request.sandboxSeq),
          ),
        );
    }

    const chaos = config.chaos;
    if (chaos.seed !== chaosSeed) {
      chaosSeed = chaos.seed;
      chaosRng = new Rng(chaosSeed);
    }
    const applies =
      chaos.vendors.length === 0 ||
      (request.sandboxVendor !== 'unknown' && chaos.vendors.includes(request.sandboxVendor));
    if (!applies || chaos.errorRate <= 0 || chaos.modes.length === 0) return;
    if (!chaosRng.chance(chaos.errorRate)) return;
    const mode = chaosRng.pick(chaos.modes);
    entry.chaos = mode;
    request.sandboxChaos = mode;
    if (mode === 'reset') {
      reply.hijack();
      request.raw.socket.destroy();
      return reply;
    }
    if (mode === 'timeout') {
      // Hang until the client gives up; close() destroys what is left.
      reply.hijack();
      const socket = request.raw.socket;
      hung.add(socket);
      socket.once('close', () => hung.delete(socket));
      return reply;
    }
    if (mode === 'error') {
      const status = chaosRng.chance(0.5) ? 500 : 503;
      const message =
        status === 500 ? 'Internal error (sandbox chaos).' : 'Service unavailable (sandbox chaos).';
      return reply
        .code(status)
        .send(
          vendorErrorBody(
            request.sandboxVendor,
            status,
            message,
            makeRequestId('stability', request.sandboxSeq),
          ),
        );
    }
    return undefined;
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const mode = request.sandboxChaos;
    if (mode !== 'malformed' && mode !== 'slow') return payload;
    if (
      payload === null ||
      payload === undefined ||
      (typeof payload !== 'string' && !Buffer.isBuffer(payload))
    ) {
      return payload;
    }
    const bytes = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
    reply.removeHeader('content-length');
    if (mode === 'malformed') return bytes.subarray(0, Math.max(1, Math.floor(bytes.length / 2)));
    const out = new PassThrough();
    const pieces = 8;
    const size = Math.ceil(bytes.length / pieces);
    const step = config.chaos.slowBodyMs / pieces;
    void (async () => {
      for (let i = 0; i < bytes.length; i += size) {
        out.write(bytes.subarray(i, i + size));
        await clock.sleep(step);
      }
      out.end();
    })().catch((error: unknown) => out.destroy(error as Error));
    return out;
  });

  app.addHook('onResponse', async (request, reply) => {
    if (request.sandboxEntry) request.sandboxEntry.status = reply.statusCode;
  });

  app.setErrorHandler((error: FastifyError, request, reply: FastifyReply) => {
    // A body that failed to parse never reached preHandler; it still belongs in the log.
    if (!request.sandboxEntry) record(request);
    const status =
      error.statusCode && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
    if (status >= 500)
      ctx.logger.error({ err: redactSecrets(String(error.message), secrets) }, 'sandbox handler failed');
    const message =
      error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error instanceof SyntaxError
        ? 'We could not parse the JSON body of your request.'
        : redactSecrets(error.message, secrets);
    return reply
      .code(status)
      .send(
        vendorErrorBody(
          request.sandboxVendor,
          status,
          message,
          makeRequestId('stability', request.sandboxSeq),
        ),
      );
  });

  app.setNotFoundHandler((request, reply) => {
    const message = `Unknown sandbox route: ${request.method} ${request.url.split('?')[0]}`;
    return reply
      .code(404)
      .send(
        vendorErrorBody(request.sandboxVendor, 404, message, makeRequestId('stability', request.sandboxSeq)),
      );
  });

  registerYouTube(app, ctx);
  registerOpenAI(app, ctx);
  registerStability(app, ctx);
  registerElevenLabs(app, ctx);

  try {
    await app.listen({ port: options.port ?? 0, host: options.host ?? '127.0.0.1' });
  } catch (error) {
    throw new SandboxError(SandboxErrorCode.Server, 'The sandbox could not start listening', {
      cause: error,
      details: { port: options.port ?? 0 },
    });
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 0);
  const host = options.host && options.host !== '0.0.0.0' ? options.host : '127.0.0.1';
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  let closed = false;

  return {
    url,
    port,
    requests: log,
    config,
    baseUrls: {
      youtube: `${url}/youtube/`,
      openai: `${url}/openai/v1`,
      stability: `${url}/stability`,
      elevenlabs: `${url}/elevenlabs`,
    },
    reset() {
      log.clear();
      ctx.state = freshState();
      // Arrays and sets are replaced wholesale by the merge, so nothing is shared with `initial`.
      mergeConfig(config, cloneConfig(initial) as unknown as SandboxConfigInput);
      chaosSeed = config.chaos.seed;
      chaosRng = new Rng(chaosSeed);
      latencyRng = new Rng(chaosSeed + 1);
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const socket of hung) socket.destroy();
      await app.close();
    },
  };
}
