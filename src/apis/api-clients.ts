import { Cache } from '../cache/index.js';
import type { CachedResponse, ResponseCache } from '../http/index.js';
import { ElevenLabsClient, type ElevenLabsClientOptions } from './elevenlabs/elevenlabs-client.js';
import { OpenAIClient, type OpenAIClientOptions } from './openai/openai-client.js';
import { responseCacheFrom } from './response-cache-adapter.js';
import type { VendorHttpOptions } from './shared.js';
import { StabilityClient, type StabilityClientOptions } from './stability/stability-client.js';
import { YouTubeClient, type YouTubeClientOptions } from './youtube/youtube-client.js';

export interface ApiClientsOptions {
  youtube?: YouTubeClientOptions;
  openai?: OpenAIClientOptions;
  stability?: StabilityClientOptions;
  elevenlabs?: ElevenLabsClientOptions;
  /** HTTP settings applied to every vendor (a vendor's own settings win). */
  http?: VendorHttpOptions;
  /**
   * One response cache for every vendor: the application's `Cache` (memory, or L1 + Redis shared across
   * processes) or any ResponseCache (e.g. MemoryResponseCache). Calls use it when they pass `cache`.
   */
  cache?: Cache | ResponseCache<CachedResponse>;
}

/** The four APIs, as named in `baseUrls`. */
export type ApiVendor = 'youtube' | 'openai' | 'stability' | 'elevenlabs';

export interface ApiClients {
  youtube: YouTubeClient | undefined;
  openai: OpenAIClient | undefined;
  stability: StabilityClient | undefined;
  elevenlabs: ElevenLabsClient | undefined;
  close(): Promise<void>;
}

/** Base URLs of the four APIs as served by a sandbox at `sandboxUrl` (see src/sandbox). */
export function sandboxBaseUrls(sandboxUrl: string): {
  youtube: string;
  openai: string;
  stability: string;
  elevenlabs: string;
} {
  const url = sandboxUrl.replace(/\/+$/, '');
  return {
    youtube: `${url}/youtube/`,
    openai: `${url}/openai/v1`,
    stability: `${url}/stability`,
    elevenlabs: `${url}/elevenlabs`,
  };
}

/**
 * Builds the configured vendors' clients. Switching between the real APIs and a sandbox is one line:
 * `createApiClients({ ...config, baseUrls: sandboxBaseUrls(sandbox.url) })`.
 */
export function createApiClients(
  options: ApiClientsOptions & { baseUrls?: Partial<Record<ApiVendor, string | readonly string[]>> },
): ApiClients {
  const http = options.http ?? {};
  const cache = options.cache instanceof Cache ? responseCacheFrom(options.cache) : options.cache;
  const shared = cache ? { cache } : {};
  // A list becomes the vendor's `baseUrls` (several endpoints), a string its `baseUrl`; either replaces
  // what the vendor's own options say.
  const base = (vendor: ApiVendor): { baseUrl?: string; baseUrls?: readonly string[] } => {
    const given = options.baseUrls?.[vendor];
    if (!given || given.length === 0) return {};
    return typeof given === 'string' ? { baseUrl: given } : { baseUrls: given };
  };
  const place = <T extends { baseUrl?: string; baseUrls?: readonly string[] }>(
    own: T,
    vendor: ApiVendor,
  ): T => {
    const where = base(vendor);
    if (where.baseUrl === undefined && where.baseUrls === undefined) return own;
    const { baseUrl: _url, baseUrls: _urls, ...rest } = own;
    return { ...rest, ...where } as T;
  };
  const youtube = options.youtube
    ? new YouTubeClient(place({ ...http, ...shared, ...options.youtube }, 'youtube'))
    : undefined;
  const openai = options.openai
    ? new OpenAIClient(place({ ...http, ...shared, ...options.openai }, 'openai'))
    : undefined;
  const stability = options.stability
    ? new StabilityClient(place({ ...http, ...shared, ...options.stability }, 'stability'))
    : undefined;
  const elevenlabs = options.elevenlabs
    ? new ElevenLabsClient(place({ ...http, ...shared, ...options.elevenlabs }, 'elevenlabs'))
    : undefined;
  return {
    youtube,
    openai,
    stability,
    elevenlabs,
    async close() {
      await Promise.all([youtube?.close(), openai?.close(), stability?.close(), elevenlabs?.close()]);
    },
  };
}
