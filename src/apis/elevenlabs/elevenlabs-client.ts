import { z } from 'zod';
import { ConfigError, InvalidArgumentError } from '../../core/index.js';
import type { HttpClient, HttpErrorKind, HttpResponse, ServiceMetrics } from '../../http/index.js';
import { Budget, type Cost, type WindowUsage } from '../../resilience/index.js';
import { mapSettled } from '../batch.js';
import { ApiResponseShapeError } from '../errors.js';
import {
  type CallOptions,
  headerValue,
  requestJson,
  requestOptions,
  type VendorHttpOptions,
  withDeadline,
} from '../shared.js';
import { type VendorPlumbing, vendorHttpClient } from '../vendor-http.js';
import { elevenLabsCharacterCost, elevenLabsWindows } from './elevenlabs-quota.js';
import { ELEVENLABS_MODEL_LIMITS, splitScript } from './split-script.js';

export const ELEVENLABS_BASE_URL = 'https://api.elevenlabs.io';
const ELEVENLABS = 'elevenlabs';
/** Rachel, a premade voice every account has. */
export const DEFAULT_VOICE_ID = '21m00Tcm4TlvDq8ikWAM';

export interface ElevenLabsClientOptions extends VendorHttpOptions, VendorPlumbing {
  apiKey: string;
  /** The plan's concurrent-request limit (Creator: 5 for multilingual v2). Ignored with `budget`. */
  maxConcurrentRequests?: number;
  /** Characters (credits) the client may spend per period; refused before sending past it. Default: no limit. */
  characterLimit?: number;
  /** When the character count resets (default: the first of next month, UTC). */
  nextCharacterReset?: (now: number) => number;
  defaultVoiceId?: string;
  defaultModelId?: string;
}

export interface VoiceSettings {
  stability?: number;
  similarity_boost?: number;
  style?: number;
  use_speaker_boost?: boolean;
  speed?: number;
}

export interface TextToSpeechOptions extends CallOptions {
  voiceId?: string;
  modelId?: string;
  /** e.g. mp3_44100_128 (default), pcm_16000, ulaw_8000. */
  outputFormat?: string;
  voiceSettings?: VoiceSettings;
  languageCode?: string;
  seed?: number;
  /** Text before/after this part, so intonation carries across parts (not billed). */
  previousText?: string;
  nextText?: string;
}

export interface SpeechAudio {
  audio: Buffer;
  contentType: string;
  /** From the `character-cost` header. */
  characterCost: number;
  requestId: string | undefined;
  /** Concurrent requests the account had when this one ran (`current-concurrent-requests`). */
  concurrentRequests: number | undefined;
}

export interface Alignment {
  characters: string[];
  characterStartTimesSeconds: number[];
  characterEndTimesSeconds: number[];
}

export interface TimedSpeechAudio extends SpeechAudio {
  alignment: Alignment | undefined;
  normalizedAlignment: Alignment | undefined;
}

export interface Voice {
  voiceId: string;
  name: string;
  category: string;
  labels: Record<string, string>;
  description: string | undefined;
  previewUrl: string | undefined;
}

export interface NarrationOptions extends Omit<TextToSpeechOptions, 'previousText' | 'nextText'> {
  /** Parts in flight at once; never more than the account's concurrency (default: that limit). */
  concurrency?: number;
  /** Smaller parts than the model allows (faster first audio). */
  maxPartChars?: number;
  locale?: string;
}

export interface NarrationPart {
  index: number;
  text: string;
  audio: Buffer;
  characterCost: number;
  requestId: string | undefined;
  /** `current-concurrent-requests` when this part ran (<= the account's limit). */
  concurrentRequests: number | undefined;
}

export interface Narration {
  /** In script order. */
  parts: NarrationPart[];
  /** The parts' bytes joined in order (valid for mp3 and raw pcm/ulaw/alaw output). */
  audio: Buffer;
  contentType: string;
  totalCharacterCost: number;
}

/** The spec's output_format enum: anything else is refused before sending. */
export const ELEVENLABS_OUTPUT_FORMATS: readonly string[] = [
  'mp3_22050_32',
  'mp3_44100_32',
  'mp3_44100_64',
  'mp3_44100_96',
  'mp3_44100_128',
  'mp3_44100_192',
  'pcm_8000',
  'pcm_16000',
  'pcm_22050',
  'pcm_24000',
  'pcm_44100',
  'pcm_48000',
  'ulaw_8000',
  'alaw_8000',
  'opus_48000_32',
  'opus_48000_64',
  'opus_48000_96',
  'opus_48000_128',
  'opus_48000_192',
];

const voicesSchema = z.object({
  voices: z.array(
    z.object({
      voice_id: z.string(),
      name: z.string(),
      category: z.string(),
      labels: z.record(z.string(), z.string()).nullable().optional(),
      description: z.string().nullable().optional(),
      preview_url: z.string().nullable().optional(),
    }),
  ),
});

const alignmentSchema = z.object({
  characters: z.array(z.string()),
  character_start_times_seconds: z.array(z.number()),
  character_end_times_seconds: z.array(z.number()),
});

const timestampsSchema = z.object({
  audio_base64: z.string(),
  alignment: alignmentSchema.nullable().optional(),
  normalized_alignment: alignmentSchema.nullable().optional(),
});

const elevenErrorSchema = z.object({ detail: z.object({ status: z.string() }) });

function classifyElevenLabsError(body: unknown): HttpErrorKind | undefined {
  const parsed = elevenErrorSchema.safeParse(body);
  if (!parsed.success) return undefined;
  const status = parsed.data.detail.status;
  // ElevenLabs reports a spent character quota as 401 quota_exceeded: not a credential problem.
  if (status === 'quota_exceeded') return 'quota_exhausted';
  if (status === 'too_many_concurrent_requests' || status === 'system_busy') return 'rate_limited';
  return undefined;
}

function toAlignment(a: z.output<typeof alignmentSchema> | null | undefined): Alignment | undefined {
  if (!a) return undefined;
  return {
    characters: a.characters,
    characterStartTimesSeconds: a.character_start_times_seconds,
    characterEndTimesSeconds: a.character_end_times_seconds,
  };
}

/**
 * ElevenLabs text to speech. Each request holds a slot of the account's concurrency limit in the
 * budget (so parallel narrations queue locally instead of drawing 429s) and reserves its characters;
 * the `character-cost` header replaces the estimate.
 */
export class ElevenLabsClient {
  readonly budget: Budget;
  readonly maxConcurrentRequests: number;
  readonly #http: HttpClient;
  readonly #voiceId: string;
  readonly #modelId: string;
  readonly #characters: boolean;
  #charactersUsed = 0;

  constructor(options: ElevenLabsClientOptions) {
    if (!options.apiKey) throw new ConfigError('ElevenLabsClient needs an apiKey');
    this.maxConcurrentRequests = options.maxConcurrentRequests ?? 5;
    this.#voiceId = options.defaultVoiceId ?? DEFAULT_VOICE_ID;
    this.#modelId = options.defaultModelId ?? 'eleven_multilingual_v2';
    const windows = elevenLabsWindows({
      characters: options.characterLimit,
      nextReset: options.nextCharacterReset,
      concurrent: this.maxConcurrentRequests,
    });
    this.#characters = options.characterLimit !== undefined;
    this.budget =
      options.budget ??
      new Budget({ name: ELEVENLABS, windows, ...(options.clock ? { clock: options.clock } : {}) });
    this.#http = vendorHttpClient(
      { ...options, budget: this.budget },
      {
        service: ELEVENLABS,
        baseUrl: options.baseUrl ?? ELEVENLABS_BASE_URL,
        auth: { type: 'header', name: 'xi-api-key', value: options.apiKey },
        // Reads (voices, models) cost no characters and hold no generation slot.
        costOf: () => 0,
        actualCost: (response): Cost | undefined => {
          const cost = elevenLabsCharacterCost(response);
          return cost && { ...cost, concurrent: 1 };
        },
      },
      classifyElevenLabsError,
    );
  }

  /** Speech for `text` as audio bytes (not JSON). */
  async textToSpeech(text: string, options: TextToSpeechOptions = {}): Promise<SpeechAudio> {
    const response = await this.#tts('', text, options, 'bytes');
    const audio = response.data as Buffer;
    const contentType = headerValue(response.headers, 'content-type') ?? '';
    if (!contentType.startsWith('audio/') && !contentType.startsWith('application/octet-stream')) {
      throw new ApiResponseShapeError(
        ELEVENLABS,
        'text-to-speech',
        'content-type',
        `expected audio, got ${contentType}`,
      );
    }
    return this.#speech(response, audio, contentType);
  }

  /** Audio plus per-character timings (for burned-in captions). */
  async textToSpeechWithTimestamps(
    text: string,
    options: TextToSpeechOptions = {},
  ): Promise<TimedSpeechAudio> {
    const response = await this.#tts('/with-timestamps', text, options, 'text');
    let body: unknown;
    try {
      body = typeof response.data === 'string' ? JSON.parse(response.data) : response.data;
    } catch (error) {
      throw new ApiResponseShapeError(
        ELEVENLABS,
        'text-to-speech.with-timestamps',
        '',
        'body is not valid JSON',
        // Cut short or garbled in transit: transient (not repeated here: a synthesis is billed).
        { cause: error, garbled: true },
      );
    }
    const parsed = timestampsSchema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ApiResponseShapeError(
        ELEVENLABS,
        'text-to-speech.with-timestamps',
        issue?.path.map(String).join('.') ?? '',
        issue?.message ?? 'invalid',
      );
    }
    const audio = Buffer.from(parsed.data.audio_base64, 'base64');
    return {
      ...this.#speech(response, audio, formatContentType(options.outputFormat)),
      alignment: toAlignment(parsed.data.alignment),
      normalizedAlignment: toAlignment(parsed.data.normalized_alignment),
    };
  }

  /** The voices available to the account (`GET /v1/voices`). */
  async getAvailableVoices(options?: CallOptions): Promise<Voice[]> {
    const { value } = await requestJson(
      this.#http,
      'GET',
      'v1/voices',
      voicesSchema,
      requestOptions(options, { operation: 'voices.list' }),
    );
    return value.voices.map((v) => ({
      voiceId: v.voice_id,
      name: v.name,
      category: v.category,
      labels: v.labels ?? {},
      description: v.description ?? undefined,
      previewUrl: v.preview_url ?? undefined,
    }));
  }

  /**
   * Speech for a whole script: the script split on sentence boundaries under the model's
   * character limit, parts generated with bounded concurrency (never above the account's limit), and
   * returned in script order. Neighbouring text is sent as context so the parts sound continuous.
   */
  async generateVideoNarration(script: string, options: NarrationOptions = {}): Promise<Narration> {
    const modelId = options.modelId ?? this.#modelId;
    const modelLimit = ELEVENLABS_MODEL_LIMITS[modelId] ?? 3_000;
    const limit = Math.min(modelLimit, options.maxPartChars ?? modelLimit);
    const texts = splitScript(script, limit, options.locale);
    if (texts.length === 0) throw new InvalidArgumentError('generateVideoNarration: the script is empty');
    const concurrency = Math.max(
      1,
      Math.min(options.concurrency ?? this.maxConcurrentRequests, this.maxConcurrentRequests),
    );
    const { concurrency: _c, maxPartChars: _m, locale: _l, ...rest } = options;
    // One deadline for the whole narration, every part included.
    const tts = withDeadline(this.#http, rest);
    const results = await mapSettled(
      texts,
      async (text, index) => {
        const context: TextToSpeechOptions = { ...tts, modelId };
        const before = texts[index - 1];
        const after = texts[index + 1];
        if (before) context.previousText = before.slice(-300);
        if (after) context.nextText = after.slice(0, 300);
        const speech = await this.textToSpeech(text, context);
        return {
          index,
          text,
          audio: speech.audio,
          characterCost: speech.characterCost,
          requestId: speech.requestId,
          concurrentRequests: speech.concurrentRequests,
          contentType: speech.contentType,
        };
      },
      { concurrency, ...(options.signal ? { signal: options.signal } : {}) },
    );
    const parts: Array<NarrationPart & { contentType: string }> = [];
    for (const r of results) {
      // A narration with a hole is useless: fail with the first part's error (in script order).
      if (!r.ok) throw r.error;
      parts.push(r.value);
    }
    return {
      parts: parts.map(({ contentType: _ct, ...p }) => p),
      audio: Buffer.concat(parts.map((p) => p.audio)),
      contentType: parts[0]!.contentType,
      totalCharacterCost: parts.reduce((n, p) => n + p.characterCost, 0),
    };
  }

  /** Characters billed so far by this client, summed from the `character-cost` headers. */
  get charactersUsed(): number {
    return this.#charactersUsed;
  }

  quotaUsage(): Promise<WindowUsage[]> {
    return this.budget.usage();
  }

  getApiMetrics(): Promise<ServiceMetrics> {
    return this.#http.getApiMetrics();
  }

  close(): Promise<void> {
    return this.#http.close();
  }

  #tts(
    variant: '' | '/with-timestamps',
    text: string,
    options: TextToSpeechOptions,
    responseType: 'bytes' | 'text',
  ): Promise<HttpResponse> {
    if (text.length === 0) throw new InvalidArgumentError('textToSpeech: text is empty');
    const modelId = options.modelId ?? this.#modelId;
    const limit = ELEVENLABS_MODEL_LIMITS[modelId];
    if (limit !== undefined && text.length > limit) {
      throw new InvalidArgumentError(
        `textToSpeech: ${text.length} characters exceed ${modelId}'s limit of ${limit}; use generateVideoNarration`,
      );
    }
    const outputFormat = options.outputFormat ?? 'mp3_44100_128';
    if (!ELEVENLABS_OUTPUT_FORMATS.includes(outputFormat)) {
      throw new InvalidArgumentError(
        `textToSpeech: unknown output format ${outputFormat} (one of ${ELEVENLABS_OUTPUT_FORMATS.join(', ')})`,
      );
    }
    const body: Record<string, unknown> = { text, model_id: modelId };
    if (options.voiceSettings) body.voice_settings = options.voiceSettings;
    if (options.languageCode) body.language_code = options.languageCode;
    if (options.seed !== undefined) body.seed = options.seed;
    if (options.previousText) body.previous_text = options.previousText;
    if (options.nextText) body.next_text = options.nextText;
    const voiceId = options.voiceId ?? this.#voiceId;
    const cost: Cost = this.#characters ? { characters: text.length, concurrent: 1 } : { concurrent: 1 };
    return this.#http.makeRequest(
      'POST',
      `v1/text-to-speech/${encodeURIComponent(voiceId)}${variant}`,
      requestOptions(options, {
        params: { output_format: outputFormat },
        data: body,
        headers: { accept: variant ? 'application/json' : 'audio/*' },
        responseType,
        operation: `text-to-speech${variant.replace('/', '.')}`,
        // Failed syntheses are not billed; 429 too_many_concurrent_requests is meant to be retried.
        retrySafe: true,
        cost,
      }),
    );
  }

  #speech(response: HttpResponse, audio: Buffer, contentType: string): SpeechAudio {
    const concurrent = Number(headerValue(response.headers, 'current-concurrent-requests'));
    const cost = elevenLabsCharacterCost(response)?.characters ?? 0;
    this.#charactersUsed += cost;
    return {
      audio,
      contentType,
      characterCost: cost,
      requestId: headerValue(response.headers, 'request-id') ?? response.requestId,
      concurrentRequests: Number.isFinite(concurrent) ? concurrent : undefined,
    };
  }
}

function formatContentType(format: string | undefined): string {
  const kind = (format ?? 'mp3_44100_128').split('_')[0];
  switch (kind) {
    case 'mp3':
      return 'audio/mpeg';
    case 'pcm':
      return 'audio/pcm';
    case 'ulaw':
      return 'audio/basic';
    case 'alaw':
      return 'audio/alaw';
    case 'opus':
      return 'audio/opus';
    default:
      return 'application/octet-stream';
  }
}
