import type { z } from 'zod';
import { ConfigError, InvalidArgumentError } from '../../core/index.js';
import type { HttpClient, HttpErrorKind, ServiceMetrics } from '../../http/index.js';
import { Budget, type WindowUsage } from '../../resilience/index.js';
import { type BatchResult, mapSettled } from '../batch.js';
import { ApiError, ApiErrorCode, ApiResponseShapeError } from '../errors.js';
import {
  type CallOptions,
  parseShape,
  requestJson,
  requestOptions,
  type VendorHttpOptions,
  withDeadline,
} from '../shared.js';
import type { TimedSegment } from '../transcript.js';
import { type VendorPlumbing, vendorHttpClient } from '../vendor-http.js';
import { type ClipCandidate, type HighlightSelection, validateHighlights } from './highlights.js';
import { openAiUsageCost, openAiWindows } from './openai-quota.js';
import {
  analysisSchema,
  type ChatCompletion,
  CONTENT_TYPES,
  captionsSchema,
  chatCompletionSchema,
  highlightsSchema,
  openAiErrorSchema,
} from './schemas.js';

export const OPENAI_BASE_URL = 'https://api.openai.com/v1';
const OPENAI = 'openai';

export interface OpenAIClientOptions extends VendorHttpOptions, VendorPlumbing {
  apiKey: string;
  /** Default model for every method (default gpt-4o-mini). */
  model?: string;
  organization?: string;
  project?: string;
  /** The account tier's limits; the budget waits instead of provoking 429s. Ignored with `budget`. */
  requestsPerMinute?: number;
  tokensPerMinute?: number;
}

export type ChatMessage = { role: 'system' | 'developer' | 'user' | 'assistant'; content: string };

/** The subset of CreateChatCompletionRequest this client sends. */
export interface ChatCompletionRequest {
  model: string;
  messages: ChatMessage[];
  max_completion_tokens?: number;
  temperature?: number;
  top_p?: number;
  n?: number;
  stop?: string | string[];
  seed?: number;
  response_format?:
    | { type: 'text' }
    | { type: 'json_object' }
    | {
        type: 'json_schema';
        json_schema: { name: string; description?: string; schema: Record<string, unknown>; strict: boolean };
      };
}

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

export interface GenerateTextOptions extends CallOptions {
  model?: string;
  maxTokens?: number;
  temperature?: number;
  system?: string;
}

export interface GeneratedText {
  text: string;
  usage: TokenUsage;
  model: string;
  finishReason: string | null;
}

export type CaptionStyle = 'engaging' | 'informative' | 'funny' | 'dramatic' | 'minimal';

export interface GenerateCaptionsOptions extends CallOptions {
  style?: CaptionStyle;
  language?: string;
  /** Captions wanted (1-20, default 3). */
  count?: number;
  model?: string;
}

export interface VideoAnalysis {
  contentType: (typeof CONTENT_TYPES)[number];
  targetAudience: string;
  /** 1-10. */
  viralPotential: number;
  hashtags: string[];
  bestPostingTime: string;
  improvements: string[];
  summary: string;
  usage: TokenUsage;
}

export interface SelectHighlightsOptions extends CallOptions {
  /** Clips wanted (default 3). */
  count?: number;
  /** Shortest clip (default 15 000 ms). */
  minClipMs?: number;
  /** Longest clip (default 60 000 ms). */
  maxClipMs?: number;
  model?: string;
}

export interface BatchCaptionsOptions extends GenerateCaptionsOptions {
  /** Transcripts in flight at once (default 4). */
  concurrency?: number;
}

function classifyOpenAiError(body: unknown, status: number): HttpErrorKind | undefined {
  const parsed = openAiErrorSchema.safeParse(body);
  // insufficient_quota is a billing state: retrying cannot help, unlike rate_limit_exceeded.
  if (status === 429 && parsed.success && parsed.data.error.code === 'insufficient_quota')
    return 'quota_exhausted';
  return undefined;
}

function usageOf(completion: ChatCompletion): TokenUsage {
  const u = completion.usage;
  return {
    promptTokens: u?.prompt_tokens ?? 0,
    completionTokens: u?.completion_tokens ?? 0,
    totalTokens: u?.total_tokens ?? 0,
  };
}

/** Strict structured outputs need every property required and no extra ones. */
function strictObject(properties: Record<string, unknown>): Record<string, unknown> {
  return { type: 'object', properties, required: Object.keys(properties), additionalProperties: false };
}

/** `/chat/completions` as a resource (openai-node style): `client.chat.completions.create(body)`. */
export class ChatCompletions {
  constructor(private readonly http: HttpClient) {}

  async create(body: ChatCompletionRequest, options?: CallOptions): Promise<ChatCompletion> {
    // Reserve an estimate now; the response's usage replaces it when the call commits.
    const promptChars = body.messages.reduce((n, m) => n + m.content.length, 0);
    const formatChars = body.response_format ? JSON.stringify(body.response_format).length : 0;
    const tokens = Math.ceil((promptChars + formatChars) / 4);
    const reserve = tokens + (body.max_completion_tokens ?? 1024) * (body.n ?? 1);
    const { value } = await requestJson(
      this.http,
      'POST',
      'chat/completions',
      chatCompletionSchema,
      // A completion has no side effect beyond its cost, so a failed one may be repeated.
      requestOptions(options, {
        data: body,
        operation: 'chat.completions',
        retrySafe: true,
        cost: { requests: 1, tokens: reserve },
      }),
    );
    return value;
  }
}

/**
 * OpenAI chat completions on the project's HttpClient (not the SDK): retries, the requests/tokens
 * budget, the breaker, metrics and typed errors apply exactly as for the other vendors. Works with any
 * OpenAI-compatible server through `baseUrl`.
 */
export class OpenAIClient {
  readonly chat: { completions: ChatCompletions };
  readonly budget: Budget;
  readonly model: string;
  readonly #http: HttpClient;

  constructor(options: OpenAIClientOptions) {
    if (!options.apiKey) throw new ConfigError('OpenAIClient needs an apiKey');
    this.model = options.model ?? 'gpt-4o-mini';
    this.budget =
      options.budget ??
      new Budget({
        name: OPENAI,
        windows: openAiWindows(options.requestsPerMinute ?? 500, options.tokensPerMinute ?? 200_000),
        ...(options.clock ? { clock: options.clock } : {}),
      });
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    if (options.organization) headers['openai-organization'] = options.organization;
    if (options.project) headers['openai-project'] = options.project;
    this.#http = vendorHttpClient(
      { ...options, headers, budget: this.budget },
      {
        service: OPENAI,
        baseUrl: options.baseUrl ?? OPENAI_BASE_URL,
        auth: { type: 'bearer', token: options.apiKey },
        actualCost: openAiUsageCost,
      },
      classifyOpenAiError,
    );
    this.chat = { completions: new ChatCompletions(this.#http) };
  }

  /** One completion's text and its token usage. */
  async generateText(prompt: string, options: GenerateTextOptions = {}): Promise<GeneratedText> {
    const messages: ChatMessage[] = [];
    if (options.system) messages.push({ role: 'system', content: options.system });
    messages.push({ role: 'user', content: prompt });
    const completion = await this.chat.completions.create(
      {
        model: options.model ?? this.model,
        messages,
        ...(options.maxTokens === undefined ? {} : { max_completion_tokens: options.maxTokens }),
        ...(options.temperature === undefined ? {} : { temperature: options.temperature }),
      },
      options,
    );
    const choice = completion.choices[0]!;
    return {
      text: choice.message.content ?? '',
      usage: usageOf(completion),
      model: completion.model,
      finishReason: choice.finish_reason,
    };
  }

  /** Social captions for a transcript, through structured output (never by splitting lines). */
  async generateCaptions(transcript: string, options: GenerateCaptionsOptions = {}): Promise<string[]> {
    const count = options.count ?? 3;
    if (!Number.isInteger(count) || count < 1 || count > 20) {
      throw new InvalidArgumentError('generateCaptions: count must be an integer from 1 to 20');
    }
    const style = options.style ?? 'engaging';
    const language = options.language ?? 'en';
    const schema = strictObject({
      captions: { type: 'array', items: { type: 'string' }, minItems: count, maxItems: count },
    });
    const { value } = await this.#structured(
      'video_captions',
      schema,
      captionsSchema,
      `You write short ${style} social-media captions for video clips, in language "${language}". Answer with exactly ${count} captions, each under 150 characters.`,
      `Transcript:\n${transcript}`,
      options,
    );
    const captions = value.captions.map((c) => c.trim()).filter((c) => c.length > 0);
    if (captions.length === 0) {
      throw new ApiError(ApiErrorCode.ModelOutput, OPENAI, 'generateCaptions: the model returned no caption');
    }
    return captions.slice(0, count);
  }

  /** A typed, validated analysis of a video from its title and description. */
  async analyzeVideoContent(
    title: string,
    description: string,
    options: CallOptions & { model?: string } = {},
  ): Promise<VideoAnalysis> {
    const schema = strictObject({
      content_type: { type: 'string', enum: [...CONTENT_TYPES] },
      target_audience: { type: 'string' },
      viral_potential: { type: 'integer', minimum: 1, maximum: 10 },
      hashtags: { type: 'array', items: { type: 'string' } },
      best_posting_time: { type: 'string' },
      improvements: { type: 'array', items: { type: 'string' } },
      summary: { type: 'string' },
    });
    const { value, usage } = await this.#structured(
      'video_analysis',
      schema,
      analysisSchema,
      'You analyse videos for short-form social media. viral_potential is an integer from 1 (low) to 10 (high); hashtags start with #; best_posting_time names a weekday and local time.',
      `Title: ${title}\nDescription: ${description}`,
      options,
    );
    return {
      contentType: value.content_type,
      targetAudience: value.target_audience,
      viralPotential: value.viral_potential,
      hashtags: value.hashtags.map((h) => (h.startsWith('#') ? h : `#${h.replace(/\s+/g, '')}`)),
      bestPostingTime: value.best_posting_time,
      improvements: value.improvements,
      summary: value.summary,
      usage,
    };
  }

  /**
   * Clip candidates from a timed transcript, checked against its time range and each other: invalid
   * bounds are clamped or the clip dropped, overlaps resolved by score, and every change reported.
   */
  async selectHighlights(
    segments: readonly TimedSegment[],
    options: SelectHighlightsOptions = {},
  ): Promise<HighlightSelection & { usage: TokenUsage }> {
    if (segments.length === 0)
      throw new InvalidArgumentError('selectHighlights: the transcript has no segments');
    const limits = {
      count: options.count ?? 3,
      minClipMs: options.minClipMs ?? 15_000,
      maxClipMs: options.maxClipMs ?? 60_000,
    };
    if (limits.minClipMs <= 0 || limits.maxClipMs < limits.minClipMs || limits.count < 1) {
      throw new InvalidArgumentError('selectHighlights: need 0 < minClipMs <= maxClipMs and count >= 1');
    }
    const schema = strictObject({
      highlights: {
        type: 'array',
        items: strictObject({
          start: { type: 'number' },
          end: { type: 'number' },
          title: { type: 'string' },
          caption: { type: 'string' },
          score: { type: 'number', minimum: 0, maximum: 1 },
        }),
      },
    });
    const transcript = segments
      .map((s) => `[${s.start.toFixed(2)}-${s.end.toFixed(2)}] ${s.text}`)
      .join('\n');
    const { value, usage } = await this.#structured(
      'video_highlights',
      schema,
      highlightsSchema,
      `You pick the most engaging moments of a video for short clips. Propose up to ${limits.count} non-overlapping clips, each ${limits.minClipMs / 1000}-${limits.maxClipMs / 1000} seconds long, with start and end in seconds taken from the transcript's timestamps, a short title, a caption, and a score from 0 to 1.`,
      `Timed transcript:\n${transcript}`,
      options,
    );
    const candidates: ClipCandidate[] = value.highlights.map((h) => ({ ...h }));
    return { ...validateHighlights(candidates, segments, limits), usage };
  }

  /** generateCaptions for many transcripts: one result or typed error per transcript, in input order. */
  batchGenerateCaptions(
    transcripts: readonly string[],
    options: BatchCaptionsOptions = {},
  ): Promise<Array<BatchResult<string[]>>> {
    const { concurrency, ...rest } = options ?? ({} as BatchCaptionsOptions);
    // One deadline for the whole batch when the caller gave one.
    const call = withDeadline(this.#http, rest);
    return mapSettled(transcripts, (t) => this.generateCaptions(t, call), {
      concurrency: concurrency ?? 4,
      ...(rest.signal ? { signal: rest.signal } : {}),
    });
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

  async #structured<S extends z.ZodType>(
    name: string,
    jsonSchema: Record<string, unknown>,
    schema: S,
    system: string,
    user: string,
    options: CallOptions & { model?: string },
  ): Promise<{ value: z.output<S>; usage: TokenUsage }> {
    const completion = await this.chat.completions.create(
      {
        model: options.model ?? this.model,
        messages: [
          { role: 'system', content: system },
          { role: 'user', content: user },
        ],
        response_format: { type: 'json_schema', json_schema: { name, schema: jsonSchema, strict: true } },
      },
      options,
    );
    const choice = completion.choices[0]!;
    const endpoint = `chat.completions (${name})`;
    if (choice.message.refusal) {
      throw new ApiError(
        ApiErrorCode.ModelOutput,
        OPENAI,
        `${name}: the model refused: ${choice.message.refusal}`,
      );
    }
    if (choice.finish_reason === 'length') {
      throw new ApiError(
        ApiErrorCode.ModelOutput,
        OPENAI,
        `${name}: the answer was cut off at the token limit`,
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(choice.message.content ?? '');
    } catch (error) {
      throw new ApiResponseShapeError(OPENAI, endpoint, 'choices.0.message.content', 'not valid JSON', {
        cause: error,
      });
    }
    return { value: parseShape(schema, parsed, OPENAI, endpoint), usage: usageOf(completion) };
  }
}
