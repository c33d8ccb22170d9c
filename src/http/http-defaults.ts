import { ConfigError } from '../core/index.js';
import { ACCEPT_ENCODING } from './content-encodings.js';
import { checkStrategy, type EndpointStrategy } from './endpoint-strategy.js';
import type { HttpClientOptions } from './http-types.js';
import type { ArrayFormat } from './params.js';

/**
 * Every default of the HTTP client, in one table (docs/http.md, "Defaults", shows the same). All
 * durations are milliseconds.
 */
export const HTTP_DEFAULTS = {
  attemptTimeoutMs: 30_000,
  deadlineMs: 120_000,
  maxResponseBytes: 64 * 1024 * 1024,
  maxRetries: 3,
  retryDelayMs: 500,
  maxRetryDelayMs: 30_000,
  maxConnections: 100,
  /** Per host for the `baseUrl` origin: the service's own pool. */
  maxConnectionsPerHost: 100,
  /**
   * Per host for any other origin (an absolute URL, such as a signed download link) when
   * `maxConnectionsPerHost` is not given: side traffic, kept small.
   */
  otherOriginConnectionsPerHost: 10,
  keepAliveTimeoutMs: 10_000,
  allowH2: false,
  /** Streams at once on one HTTP/2 connection (a server's SETTINGS usually allow 100 or more). */
  maxConcurrentStreams: 100,
  endpointStrategy: 'primary-first' as EndpointStrategy,
  maxQueue: 1000,
  enableCaching: false,
  cacheTtlMs: 300_000,
  staleIfErrorMs: 0,
  userAgent: 'video-opusclip/0.1',
  /** `zstd` is added where the runtime decodes it (`zlib.zstdDecompress`: Node 22.15 / 23.8 and later). */
  acceptEncoding: ACCEPT_ENCODING,
  arrayFormat: 'repeat' as ArrayFormat,
  /** How long a spent quota pauses the budget when the service names no reset (no hook, no Retry-After). */
  quotaPauseMs: 3_600_000,
  /** Window reset assumed when `x-ratelimit-remaining-<window>` comes without its `-reset-` header. */
  rateLimitResetMs: 60_000,
} as const;

/** An `HttpClient`'s settings with every default applied: resolved once, when the client is built. */
export interface ResolvedHttpOptions {
  readonly attemptTimeoutMs: number;
  readonly deadlineMs: number;
  readonly maxResponseBytes: number;
  readonly maxRetries: number;
  readonly retryDelayMs: number;
  readonly maxRetryDelayMs: number;
  /** Connections of the `baseUrl` origin's pool (at least 1). */
  readonly connections: number;
  /** Connections per other origin. */
  readonly otherOriginConnections: number;
  readonly keepAliveTimeoutMs: number;
  readonly allowH2: boolean;
  readonly maxConcurrentStreams: number;
  readonly endpointStrategy: EndpointStrategy;
  /** Calls that may be pending at once: the connections plus `maxQueue`. */
  readonly pendingLimit: number;
  readonly enableCaching: boolean;
  readonly cacheTtlMs: number;
  readonly staleIfErrorMs: number;
  readonly userAgent: string;
  readonly arrayFormat: ArrayFormat;
}

/** Throws ConfigError for a `timeoutMs` option: a per-attempt bound and a whole-call bound have their own names. */
export function resolveHttpOptions(options: HttpClientOptions): ResolvedHttpOptions {
  if ('timeoutMs' in options) {
    throw new ConfigError(
      `HttpClient ${options.service}: timeoutMs is not an option; use attemptTimeoutMs (per attempt) or deadlineMs (the whole call)`,
    );
  }
  const d = HTTP_DEFAULTS;
  const connections = Math.max(
    1,
    Math.min(
      options.maxConnections ?? d.maxConnections,
      options.maxConnectionsPerHost ?? d.maxConnectionsPerHost,
    ),
  );
  const allowH2 = options.allowH2 ?? d.allowH2;
  const maxConcurrentStreams = Math.max(1, options.maxConcurrentStreams ?? d.maxConcurrentStreams);
  return {
    attemptTimeoutMs: options.attemptTimeoutMs ?? d.attemptTimeoutMs,
    deadlineMs: options.deadlineMs ?? d.deadlineMs,
    maxResponseBytes: options.maxResponseBytes ?? d.maxResponseBytes,
    maxRetries: options.maxRetries ?? d.maxRetries,
    retryDelayMs: options.retryDelayMs ?? d.retryDelayMs,
    maxRetryDelayMs: options.maxRetryDelayMs ?? d.maxRetryDelayMs,
    connections,
    otherOriginConnections: options.maxConnectionsPerHost ?? d.otherOriginConnectionsPerHost,
    keepAliveTimeoutMs: options.keepAliveTimeoutMs ?? d.keepAliveTimeoutMs,
    allowH2,
    maxConcurrentStreams,
    endpointStrategy: checkStrategy(options.service, options.endpointStrategy ?? d.endpointStrategy),
    // Over HTTP/2 a connection carries several calls at once.
    pendingLimit: connections * (allowH2 ? maxConcurrentStreams : 1) + (options.maxQueue ?? d.maxQueue),
    enableCaching: options.enableCaching ?? d.enableCaching,
    cacheTtlMs: options.cacheTtlMs ?? d.cacheTtlMs,
    staleIfErrorMs: options.staleIfErrorMs ?? d.staleIfErrorMs,
    userAgent: options.userAgent ?? d.userAgent,
    arrayFormat: options.arrayFormat ?? d.arrayFormat,
  };
}
