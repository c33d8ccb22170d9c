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
  options: ApiClientsOptions & { baseUrls?: Partial<ReturnType<typeof sandboxBaseUrls>> },
): ApiClients {
  const http = options.http ?? {};
  const cache = options.cache instanceof Cache ? responseCacheFrom(options.cache) : options.cache;
  const shared = cache ? { cache } : {};
  const base = (vendor: keyof ReturnType<typeof sandboxBaseUrls>) =>
    options.baseUrls?.[vendor] ? { baseUrl: options.baseUrls[vendor] } : {};
  const youtube = options.youtube
    ? new YouTubeClient({ ...http, ...shared, ...options.youtube, ...base('youtube') })
    : undefined;
  const openai = options.openai
    ? new OpenAIClient({ ...http, ...shared, ...options.openai, ...base('openai') })
    : undefined;
  const stability = options.stability
    ? new StabilityClient({ ...http, ...shared, ...options.stability, ...base('stability') })
    : undefined;
  const elevenlabs = options.elevenlabs
    ? new ElevenLabsClient({ ...http, ...shared, ...options.elevenlabs, ...base('elevenlabs') })
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
