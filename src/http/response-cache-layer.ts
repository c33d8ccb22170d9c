import { createHash } from 'node:crypto';
import { type Clock, type Logger, raceSignal, redactSecrets } from '../core/index.js';
import { type ApiMetricsCollector, httpChannels } from './api-metrics-collector.js';
import { abortError, HttpError } from './errors.js';
import type { CachedResponse, HttpResponse, RequestOptions } from './http-types.js';
import type { PreparedRequest } from './prepare-request.js';
import type { ResponseCache } from './response-cache.js';

export interface ResponseCacheLayerOptions {
  service: string;
  cache: ResponseCache<CachedResponse> | undefined;
  /** Cache GETs unless a call says otherwise. */
  enableCaching: boolean;
  cacheTtlMs: number;
  staleIfErrorMs: number;
  /** The query-parameter credential's name, left out of keys. */
  authQueryName: string | undefined;
  /** A fingerprint of the credential: keys of different credentials differ, none holds the credential. */
  credentialPrint: string;
  clock: Clock;
  logger: Logger;
  metrics: ApiMetricsCollector;
  secrets: readonly string[];
}

/** Sends a prepared call upstream; `stale` is the expired entry to serve if the service fails. */
export type SendUpstream = (
  prepared: PreparedRequest,
  options: RequestOptions,
  stale: CachedResponse | undefined,
) => Promise<HttpResponse>;

/**
 * The response cache and in-flight dedup in front of the client's sending: a fresh entry answers at
 * once, identical calls in flight share one upstream request, and a 2xx answer is stored for
 * `cacheTtlMs` (kept `staleIfErrorMs` longer, for the upstream side to serve when the service fails).
 * Cache failures are logged and never fail a call.
 */
export class ResponseCacheLayer {
  readonly #o: ResponseCacheLayerOptions;
  readonly #send: SendUpstream;
  readonly #inflight = new Map<string, Promise<HttpResponse>>();

  constructor(options: ResponseCacheLayerOptions, send: SendUpstream) {
    this.#o = options;
    this.#send = send;
  }

  /**
   * The call's cache key, or undefined when it is not cached: a GET when caching is on (the call's
   * `useCache`, else the client's `enableCaching`), a POST only with `useCache: true`. The key holds the
   * service, method, origin, path, sorted parameters without the credential, and the credential's
   * fingerprint (a POST's also a hash of its body); an explicit `cacheKey` wins.
   */
  keyFor(p: PreparedRequest, options: RequestOptions): string | undefined {
    if (!this.#o.cache) return undefined;
    if (p.method === 'GET') {
      if (!(options.useCache ?? this.#o.enableCaching)) return undefined;
    } else if (p.method === 'POST') {
      if (options.useCache !== true) return undefined;
    } else {
      return undefined;
    }
    if (options.cacheKey) return options.cacheKey;
    const [pathname, search = ''] = p.path.split('?');
    const params = new URLSearchParams(search);
    if (this.#o.authQueryName) params.delete(this.#o.authQueryName);
    params.sort();
    let key = `http:${this.#o.service}:${p.method}:${p.origin}${pathname}?${params.toString()}:${this.#o.credentialPrint}`;
    if (p.method === 'POST')
      key += `:${createHash('sha256')
        .update(p.body ?? '')
        .digest('base64url')
        .slice(0, 22)}`;
    return key;
  }

  /** The call through the cache (`maybe` may still be preparing: a FormData body). */
  async fetch<T>(
    maybe: PreparedRequest | Promise<PreparedRequest>,
    options: RequestOptions,
  ): Promise<HttpResponse<T>> {
    const prepared = await maybe;
    const cacheKey = this.keyFor(prepared, options);
    if (cacheKey === undefined) return (await this.#send(prepared, options, undefined)) as HttpResponse<T>;

    const o = this.#o;
    const cache = o.cache!;
    let cached: CachedResponse | undefined;
    try {
      cached = await cache.get(cacheKey, options.signal);
    } catch (error) {
      o.logger.warn({ service: o.service, err: this.#safe(error) }, 'response cache read failed');
    }
    if (cached && cached.freshUntil > o.clock.now()) {
      o.metrics.cache(prepared.operation, true);
      if (httpChannels.cache.hasSubscribers) httpChannels.cache.publish({ service: o.service, hit: true });
      return fromCache(cached, false) as HttpResponse<T>;
    }
    let shared = this.#inflight.get(cacheKey);
    if (!shared) {
      o.metrics.cache(prepared.operation, false);
      shared = this.#send(prepared, options, cached).then(async (response) => {
        if (!response.stale && response.status >= 200 && response.status < 300) {
          const ttlMs = options.cacheTtlMs ?? o.cacheTtlMs;
          const entry: CachedResponse = {
            status: response.status,
            headers: response.headers,
            data: response.data,
            requestId: response.requestId,
            freshUntil: o.clock.now() + ttlMs,
          };
          try {
            await cache.set(cacheKey, entry, {
              ttlMs: ttlMs + o.staleIfErrorMs,
              ...(options.cacheTags ? { tags: options.cacheTags } : {}),
            });
          } catch (error) {
            o.logger.warn({ service: o.service, err: this.#safe(error) }, 'response cache write failed');
          }
        }
        return response;
      });
      this.#inflight.set(cacheKey, shared);
      const clear = (): void => {
        this.#inflight.delete(cacheKey);
      };
      shared.then(clear, clear);
      return (await shared) as HttpResponse<T>;
    }
    o.metrics.cache(prepared.operation, true);
    const signal = options.signal;
    if (!signal) return (await shared) as HttpResponse<T>;
    // A joined caller's own signal still ends its wait; the shared request goes on for the others.
    try {
      return (await raceSignal(shared, signal)) as HttpResponse<T>;
    } catch (error) {
      // The shared call fails with HttpErrors only; anything else is raceSignal's answer to the signal.
      throw error instanceof HttpError && error !== signal.reason ? error : abortError(prepared, signal);
    }
  }

  #safe(error: unknown): string {
    return redactSecrets(error instanceof Error ? error.message : String(error), this.#o.secrets);
  }
}

/** A cached entry as a response (`stale`: served past its TTL because the service failed). */
export function fromCache(entry: CachedResponse, stale: boolean): HttpResponse {
  return {
    status: entry.status,
    headers: entry.headers,
    data: entry.data,
    requestId: entry.requestId,
    timing: { totalMs: 0, attempts: 0 },
    fromCache: true,
    stale,
  };
}
