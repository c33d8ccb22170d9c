import type { Clock, Logger } from '../core/index.js';

export type Vendor = 'youtube' | 'openai' | 'stability' | 'elevenlabs';
export const VENDORS: readonly Vendor[] = ['youtube', 'openai', 'stability', 'elevenlabs'];

export type ChaosMode = 'error' | 'reset' | 'timeout' | 'malformed' | 'slow';

export interface ChaosConfig {
  /** Share of requests (0-1) that get a chaos outcome instead of the normal one. */
  errorRate: number;
  /** Outcomes drawn from, uniformly. */
  modes: ChaosMode[];
  /** Vendors chaos applies to; empty means all. */
  vendors: Vendor[];
  /** Seed of the chaos draw: the same seed and request order give the same outcomes. */
  seed: number;
  /** How long a `slow` body takes to trickle out. */
  slowBodyMs: number;
}

/**
 * An answer given instead of the normal one, to the next `times` requests that match: deterministic
 * faults for tests (a 429 with Retry-After, a 401, a 503), where chaos draws them at random.
 */
export interface ScriptedFault {
  vendor: Vendor;
  /** Only requests whose URL (path and query) contains this, e.g. `/youtube/v3/videos` or `id=abc`. */
  urlIncludes?: string;
  /** The HTTP status to answer with (4xx or 5xx), in the vendor's own error shape. */
  status: number;
  /** How many matching requests get the fault; each one spends one. */
  times: number;
  /** Sent as Retry-After, in whole seconds (rounded up): the header's unit. */
  retryAfterMs?: number;
  message?: string;
}

export interface LatencyConfig {
  fixedMs: number;
  /** Uniform extra delay in [0, jitterMs], drawn from a seeded generator. */
  jitterMs: number;
}

/**
 * A vendor backend with a fixed number of workers: it serves `concurrent` requests at once (each taking
 * the configured latency), keeps up to `queue` more waiting in order (their latency grows with the
 * queue), and refuses the rest for load, the way OpenAI or ElevenLabs answer when overloaded.
 */
export interface CapacityConfig {
  /** Requests served at once per vendor; 0 (the default) means no limit. */
  concurrent: number;
  /** Requests waiting for a worker beyond those; more are refused. */
  queue: number;
  /** The refusal's status: 429 (default) or 503, in the vendor's own error shape. */
  status: 429 | 503;
  /** Sent with a refusal as Retry-After, in whole seconds (rounded up); 0 sends none. */
  retryAfterMs: number;
  /** Vendors limited, each with its own workers; empty means all. */
  vendors: Vendor[];
}

export type YouTubeMethod =
  | 'videos.list'
  | 'captions.list'
  | 'captions.download'
  | 'search.list'
  | 'channels.list'
  | 'playlistItems.list';

export interface YouTubeConfig {
  /** Units per Pacific day (the real default project allocation is 10,000). */
  dailyQuotaUnits: number;
  costs: Record<YouTubeMethod, number>;
  /** `pool`: search.list costs `costs['search.list']` units; `bucket`: its own N calls per day. */
  searchQuota: 'pool' | 'bucket';
  searchCallsPerDay: number;
  /** Video ids treated as absent on top of the built-in rule (see isMissingVideoId). */
  missingVideoIds: Set<string>;
}

export interface OpenAIConfig {
  requestsPerMinute: number;
  tokensPerMinute: number;
  /** Total tokens the account may spend before 429 insufficient_quota; Infinity for no limit. */
  quotaTokens: number;
  models: string[];
  /** Pause before each server-sent event of a `stream: true` answer (0: the whole stream at once). */
  streamEventDelayMs: number;
}

export interface StabilityConfig {
  /** The real limit: 150 requests per 10 s, then a timeout. */
  requestsPerWindow: number;
  windowMs: number;
  /** How long an offender keeps getting 429 after exceeding the window. */
  timeoutMs: number;
  /** Starting balance for /v1/user/balance; each generation subtracts its credit cost. */
  credits: number;
  /** Long side of generated images in pixels (kept small for speed). */
  imageLongSide: number;
}

export interface ElevenLabsConfig {
  maxConcurrentRequests: number;
  characterLimit: number;
  /** Audio length per character of text. */
  msPerCharacter: number;
  /** Time a TTS request holds a concurrency slot before answering. */
  generationMs: number;
  tier: string;
}

export interface SandboxConfig {
  latency: LatencyConfig;
  capacity: CapacityConfig;
  chaos: ChaosConfig;
  /** Scripted faults, consulted in order before chaos; spent ones stay with `times: 0`. */
  faults: ScriptedFault[];
  youtube: YouTubeConfig;
  openai: OpenAIConfig;
  stability: StabilityConfig;
  elevenlabs: ElevenLabsConfig;
}

/** Explicit valid keys per vendor; a vendor left out accepts any non-empty key. */
export interface SandboxKeys {
  youtube?: string[];
  /** OAuth access tokens accepted as `Authorization: Bearer` (captions need one). */
  youtubeOAuth?: string[];
  openai?: string[];
  stability?: string[];
  elevenlabs?: string[];
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends Set<unknown> | unknown[] ? T[K] : DeepPartial<T[K]> };
export type SandboxConfigInput = DeepPartial<SandboxConfig>;

export interface SandboxOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  clock?: Clock;
  logger?: Logger;
  keys?: SandboxKeys;
  config?: SandboxConfigInput;
}

export function defaultConfig(): SandboxConfig {
  return {
    latency: { fixedMs: 0, jitterMs: 0 },
    capacity: { concurrent: 0, queue: 0, status: 429, retryAfterMs: 1000, vendors: [] },
    chaos: {
      errorRate: 0,
      modes: ['error', 'reset', 'timeout', 'malformed', 'slow'],
      vendors: [],
      seed: 1,
      slowBodyMs: 500,
    },
    faults: [],
    youtube: {
      dailyQuotaUnits: 10_000,
      costs: {
        'videos.list': 1,
        'channels.list': 1,
        'playlistItems.list': 1,
        'captions.list': 50,
        'captions.download': 200,
        'search.list': 100,
      },
      searchQuota: 'pool',
      searchCallsPerDay: 100,
      missingVideoIds: new Set(),
    },
    openai: {
      requestsPerMinute: 500,
      tokensPerMinute: 200_000,
      quotaTokens: Number.POSITIVE_INFINITY,
      models: ['gpt-4o-mini', 'gpt-4o', 'gpt-4.1-mini', 'gpt-5-mini'],
      streamEventDelayMs: 0,
    },
    stability: {
      requestsPerWindow: 150,
      windowMs: 10_000,
      timeoutMs: 60_000,
      credits: 1000,
      imageLongSide: 128,
    },
    elevenlabs: {
      maxConcurrentRequests: 5,
      characterLimit: 100_000,
      msPerCharacter: 60,
      generationMs: 0,
      tier: 'creator',
    },
  };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Set);
}

/** Deep-merges `patch` into `target` in place, so references to config sections stay valid. */
export function mergeConfig(target: object, patch: object): void {
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    const current = (target as Record<string, unknown>)[key];
    if (isPlainObject(value) && isPlainObject(current)) mergeConfig(current, value);
    else (target as Record<string, unknown>)[key] = value instanceof Set ? new Set(value) : value;
  }
}

export function cloneConfig(config: SandboxConfig): SandboxConfig {
  const copy = structuredClone({ ...config, youtube: { ...config.youtube, missingVideoIds: [] } });
  return { ...copy, youtube: { ...copy.youtube, missingVideoIds: new Set(config.youtube.missingVideoIds) } };
}
