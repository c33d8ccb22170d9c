import { ConfigError } from '../core/index.js';
import { Budget, type WindowSpec } from '../resilience/index.js';
import type { HttpClientOptions } from './http-types.js';

/** A flat service configuration: a key, a few limits and the client's usual knobs. Durations in ms. */
export interface APIConfig {
  baseUrl: string;
  /** Sent as a bearer token (pass `auth` in `extra` for another scheme). */
  apiKey?: string;
  attemptTimeoutMs?: number;
  maxRetries?: number;
  retryDelayMs?: number;
  /** Requests per minute: an in-memory sliding window. */
  rateLimitPerMinute?: number;
  /** Requests per hour: an in-memory sliding window. */
  rateLimitPerHour?: number;
  enableCaching?: boolean;
  cacheTtlMs?: number;
  maxConnections?: number;
  maxConnectionsPerHost?: number;
  userAgent?: string;
  headers?: Record<string, string>;
}

/** Second-valued names a config may still carry, and the millisecond option each maps to. */
const SECOND_VALUED = { timeout: 'attemptTimeoutMs', retryDelay: 'retryDelayMs', cacheTtl: 'cacheTtlMs' };

/**
 * Client options for `config`: `apiKey` becomes a bearer token (`extra.auth` wins), the two rate limits
 * one in-memory sliding-window `Budget`; everything else carries over as is. `extra` wins over `config`.
 * Throws ConfigError for a duration given in seconds (`timeout`, `retryDelay`, `cacheTtl`).
 */
export function clientOptionsFromApiConfig(
  service: string,
  config: APIConfig,
  extra: Partial<HttpClientOptions> = {},
): HttpClientOptions {
  for (const [name, option] of Object.entries(SECOND_VALUED)) {
    if (name in config) {
      throw new ConfigError(`APIConfig of ${service}: ${name} is not an option; give ${option} in ms`);
    }
  }
  const options: HttpClientOptions = { service, baseUrl: config.baseUrl };
  if (config.apiKey) options.auth = { type: 'bearer', token: config.apiKey };
  if (config.attemptTimeoutMs !== undefined) options.attemptTimeoutMs = config.attemptTimeoutMs;
  if (config.maxRetries !== undefined) options.maxRetries = config.maxRetries;
  if (config.retryDelayMs !== undefined) options.retryDelayMs = config.retryDelayMs;
  if (config.enableCaching !== undefined) options.enableCaching = config.enableCaching;
  if (config.cacheTtlMs !== undefined) options.cacheTtlMs = config.cacheTtlMs;
  if (config.maxConnections !== undefined) options.maxConnections = config.maxConnections;
  if (config.maxConnectionsPerHost !== undefined)
    options.maxConnectionsPerHost = config.maxConnectionsPerHost;
  if (config.userAgent !== undefined) options.userAgent = config.userAgent;
  if (config.headers !== undefined) options.headers = config.headers;
  const windows: WindowSpec[] = [];
  if (config.rateLimitPerMinute)
    windows.push({ name: 'minute', limit: config.rateLimitPerMinute, windowMs: 60_000 });
  if (config.rateLimitPerHour)
    windows.push({ name: 'hour', limit: config.rateLimitPerHour, windowMs: 3_600_000 });
  if (windows.length > 0) {
    options.budget = new Budget({ name: service, windows, ...(extra.clock ? { clock: extra.clock } : {}) });
  }
  return { ...options, ...extra };
}
