import { z } from 'zod';
import { ConfigError } from '../../core/index.js';
import type { HttpClient, HttpErrorKind, ServiceMetrics } from '../../http/index.js';
import { Budget, type Reservation } from '../../resilience/index.js';
import { ApiError, ApiErrorCode, ApiResponseShapeError } from '../errors.js';
import {
  type CallOptions,
  headerValue,
  requestJson,
  requestOptions,
  type VendorHttpOptions,
} from '../shared.js';
import { type VendorPlumbing, vendorHttpClient } from '../vendor-http.js';
import { CreditLedger, type CreditLedgerOptions } from './credit-ledger.js';
import { stabilityWindows } from './stability-quota.js';

export const STABILITY_BASE_URL = 'https://api.stability.ai';
const STABILITY = 'stability';

export type StabilityModel = 'core' | 'ultra' | 'sd3';
export type Sd3Model =
  | 'sd3.5-large'
  | 'sd3.5-large-turbo'
  | 'sd3.5-medium'
  | 'sd3-large'
  | 'sd3-large-turbo'
  | 'sd3-medium';
export type AspectRatio = '21:9' | '16:9' | '3:2' | '5:4' | '1:1' | '4:5' | '2:3' | '9:16' | '9:21';
export type OutputFormat = 'png' | 'jpeg' | 'webp';

export interface StabilityClientOptions extends VendorHttpOptions, VendorPlumbing {
  apiKey: string;
  /** Requests per 10 s (default 150, Stability's limit). Ignored with `budget`. */
  requestsPer10s?: number;
  /** Credit limit and per-model prices. */
  credits?: CreditLedgerOptions;
  /** Sent as stability-client-id (identifies the app to Stability). */
  clientId?: string;
}

export interface GenerateImageOptions extends CallOptions {
  model?: StabilityModel;
  /** For model `sd3` (default sd3.5-large). */
  sd3Model?: Sd3Model;
  aspectRatio?: AspectRatio;
  outputFormat?: OutputFormat;
  /** 0-4294967294; 0 or absent = random. */
  seed?: number;
  negativePrompt?: string;
  /** core only. */
  stylePreset?: string;
}

export interface GeneratedImage {
  image: Buffer;
  contentType: string;
  seed: number;
  /** SUCCESS, or CONTENT_FILTERED (the image is blurred). */
  finishReason: string;
  model: string;
  credits: number;
  /** From the PNG header when the format is PNG. */
  width: number | undefined;
  height: number | undefined;
}

export interface GenerateImageV1Options extends CallOptions {
  engine?: string;
  width?: number;
  height?: number;
  /** 10-150 (default 30; SDXL price grows past 30). */
  steps?: number;
  cfgScale?: number;
  seed?: number;
  samples?: number;
  stylePreset?: string;
  negativePrompt?: string;
}

export interface VideoThumbnail extends GeneratedImage {
  prompt: string;
  aspectRatio: '16:9';
}

const SDXL = 'stable-diffusion-xl-1024-v1-0';
/** The only sizes SDXL 1.0 accepts on v1 (16:9 is 1344x768; 1280x720 is rejected). */
export const SDXL_DIMENSIONS: readonly string[] = [
  '1024x1024',
  '1152x896',
  '896x1152',
  '1216x832',
  '1344x768',
  '768x1344',
  '1536x640',
  '640x1536',
];

const v1ResponseSchema = z.object({
  artifacts: z.array(z.object({ base64: z.string(), seed: z.number(), finishReason: z.string() })).min(1),
});

const stabilityErrorSchema = z.object({ name: z.string() });

function classifyStabilityError(body: unknown, status: number): HttpErrorKind | undefined {
  // 402: the account is out of credits; retrying cannot help until someone pays.
  if (status === 402) return 'quota_exhausted';
  const parsed = stabilityErrorSchema.safeParse(body);
  if (parsed.success && parsed.data.name === 'rate_limit_exceeded') return 'rate_limited';
  return undefined;
}

function pngSize(image: Buffer): { width: number; height: number } | undefined {
  const PNG = '89504e470d0a1a0a';
  if (image.length < 24 || image.subarray(0, 8).toString('hex') !== PNG) return undefined;
  return { width: image.readUInt32BE(16), height: image.readUInt32BE(20) };
}

/**
 * An image cut short in transit still arrives as a 200 (no content-length to compare against): check
 * the format's end marker so a broken file is an error, not a result.
 */
function imageComplete(image: Buffer, contentType: string): boolean {
  if (image.length === 0) return false;
  if (contentType.includes('png')) return image.subarray(-8).toString('hex') === '49454e44ae426082';
  if (contentType.includes('jpeg'))
    return image[image.length - 2] === 0xff && image[image.length - 1] === 0xd9;
  if (contentType.includes('webp')) return image.length >= 12 && image.readUInt32LE(4) + 8 === image.length;
  return true;
}

/** Stability AI image generation: v2beta (core, ultra, sd3) and the legacy v1 SDXL text-to-image. */
export class StabilityClient {
  readonly budget: Budget;
  readonly credits: CreditLedger;
  readonly #http: HttpClient;
  /** The budget's `credits` window is the account's monthly allowance, shared with whoever shares the budget. */
  readonly #budgetCredits: boolean;

  constructor(options: StabilityClientOptions) {
    if (!options.apiKey) throw new ConfigError('StabilityClient needs an apiKey');
    this.budget =
      options.budget ??
      new Budget({
        name: STABILITY,
        windows: stabilityWindows(options.requestsPer10s ?? 150),
        ...(options.clock ? { clock: options.clock } : {}),
      });
    this.credits = new CreditLedger(options.credits ?? {});
    this.#budgetCredits = this.budget.windows.some((w) => w.name === 'credits');
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    if (options.clientId) headers['stability-client-id'] = options.clientId;
    this.#http = vendorHttpClient(
      { ...options, headers, budget: this.budget },
      {
        service: STABILITY,
        baseUrl: options.baseUrl ?? STABILITY_BASE_URL,
        auth: { type: 'bearer', token: options.apiKey },
        // A request is one request; its credits are held apart (#holdCredits), kept only when it succeeds.
        costOf: () => ({ requests: 1 }),
      },
      classifyStabilityError,
    );
  }

  /**
   * Holds a generation's credits in this client's ledger (its own `credits.limit`) and, when the budget
   * has a `credits` window (`sharedBudgets`, the gateway's), in the budget now or not at all: a month
   * without room rejects with the budget's ERR_QUOTA_EXHAUSTED (transient, `retryAt` the next month).
   * Commit when the generation succeeded; refund otherwise (Stability charges only what it generated).
   */
  async #holdCredits(
    model: string,
    credits: number,
    signal: AbortSignal | undefined,
  ): Promise<{ commit(): void; refund(): void }> {
    const ledger = this.credits.reserve(model, credits);
    if (!this.#budgetCredits) return ledger;
    let reservation: Reservation;
    try {
      reservation = await this.budget.reserve(
        { credits },
        // Now or not at all: a deadline in the past never waits (a month's allowance is not worth a wait).
        { deadline: 0, ...(signal ? { signal } : {}) },
      );
    } catch (error) {
      ledger.refund();
      throw error;
    }
    return {
      commit: () => {
        ledger.commit();
        void reservation.commit().catch(() => {});
      },
      refund: () => {
        ledger.refund();
        void reservation.refund().catch(() => {});
      },
    };
  }

  /** One image from v2beta: multipart form in, image bytes out (`accept: image/*`). */
  async generateImage(prompt: string, options: GenerateImageOptions = {}): Promise<GeneratedImage> {
    const model = options.model ?? 'core';
    const format = options.outputFormat ?? 'png';
    if (model === 'sd3' && format === 'webp') {
      throw new ApiError(ApiErrorCode.InvalidRequest, STABILITY, 'sd3 outputs png or jpeg, not webp');
    }
    if (prompt.length === 0 || prompt.length > 10_000) {
      throw new ApiError(ApiErrorCode.InvalidRequest, STABILITY, 'prompt must be 1-10000 characters');
    }
    const priced = model === 'sd3' ? (options.sd3Model ?? 'sd3.5-large') : model;
    const credits = this.credits.priceOf(priced);
    const form = new FormData();
    form.set('prompt', prompt);
    form.set('output_format', format);
    if (options.aspectRatio) form.set('aspect_ratio', options.aspectRatio);
    if (options.seed !== undefined) form.set('seed', String(options.seed));
    if (options.negativePrompt) form.set('negative_prompt', options.negativePrompt);
    if (options.stylePreset && model === 'core') form.set('style_preset', options.stylePreset);
    if (model === 'sd3') form.set('model', priced);
    const hold = await this.#holdCredits(priced, credits, options.signal);
    // A repeat after a truncated image shares the first request's deadline.
    const call = {
      ...options,
      deadlineAt: options.deadlineAt ?? this.#http.deadlineAt(options.deadlineMs),
    };
    try {
      const once = async () => {
        const response = await this.#http.makeRequest(
          'POST',
          `v2beta/stable-image/generate/${model}`,
          requestOptions(call, {
            data: form,
            headers: { accept: 'image/*' },
            responseType: 'bytes',
            operation: `generate.${model}`,
            // Failed generations are free and a success is what we want: repeating after a failure is safe.
            retrySafe: true,
          }),
        );
        const image = response.data as Buffer;
        const contentType = headerValue(response.headers, 'content-type') ?? '';
        const seed = Number(headerValue(response.headers, 'seed'));
        const endpoint = `generate.${model}`;
        if (!contentType.startsWith('image/')) {
          throw new ApiResponseShapeError(
            STABILITY,
            endpoint,
            'content-type',
            `expected image/*, got ${contentType}`,
          );
        }
        if (!imageComplete(image, contentType)) {
          throw new ApiResponseShapeError(STABILITY, endpoint, 'body', 'image data is truncated', {
            garbled: true,
          });
        }
        return { response, image, contentType, seed };
      };
      const attempts = options.retries === 0 ? 1 : (options.retries ?? 2) + 1;
      let result: Awaited<ReturnType<typeof once>>;
      for (let attempt = 1; ; attempt++) {
        try {
          result = await once();
          break;
        } catch (error) {
          if (!(error instanceof ApiResponseShapeError && error.transient) || attempt >= attempts)
            throw error;
        }
      }
      const { response, image, contentType, seed } = result;
      hold.commit();
      const size = pngSize(image);
      return {
        image,
        contentType,
        seed: Number.isFinite(seed) ? seed : 0,
        finishReason: headerValue(response.headers, 'finish-reason') ?? 'SUCCESS',
        model: priced,
        credits,
        width: size?.width,
        height: size?.height,
      };
    } catch (error) {
      hold.refund();
      throw error;
    }
  }

  /**
   * Legacy v1 text-to-image (JSON in, base64 artifacts out). SDXL sizes the API would reject are
   * refused before sending.
   */
  async generateImageV1(prompt: string, options: GenerateImageV1Options = {}): Promise<GeneratedImage[]> {
    const engine = options.engine ?? SDXL;
    const width = options.width ?? 1024;
    const height = options.height ?? 1024;
    if (engine === SDXL && !SDXL_DIMENSIONS.includes(`${width}x${height}`)) {
      throw new ApiError(
        ApiErrorCode.InvalidRequest,
        STABILITY,
        `SDXL does not accept ${width}x${height}; allowed: ${SDXL_DIMENSIONS.join(', ')}`,
        { details: { width, height, engine } },
      );
    }
    const steps = options.steps ?? 30;
    const samples = options.samples ?? 1;
    const credits = this.credits.priceOf(engine, Math.max(1, steps / 30) * samples);
    const body: Record<string, unknown> = {
      text_prompts: [
        { text: prompt, weight: 1 },
        ...(options.negativePrompt ? [{ text: options.negativePrompt, weight: -1 }] : []),
      ],
      width,
      height,
      steps,
      samples,
      cfg_scale: options.cfgScale ?? 7,
    };
    if (options.seed !== undefined) body.seed = options.seed;
    if (options.stylePreset) body.style_preset = options.stylePreset;
    const hold = await this.#holdCredits(engine, credits, options.signal);
    try {
      const { value } = await requestJson(
        this.#http,
        'POST',
        `v1/generation/${encodeURIComponent(engine)}/text-to-image`,
        v1ResponseSchema,
        requestOptions(options, {
          data: body,
          headers: { accept: 'application/json' },
          operation: 'v1.text-to-image',
          retrySafe: true,
        }),
      );
      hold.commit();
      return value.artifacts.map((a) => {
        const image = Buffer.from(a.base64, 'base64');
        const size = pngSize(image);
        return {
          image,
          contentType: 'image/png',
          seed: a.seed,
          finishReason: a.finishReason,
          model: engine,
          credits: credits / value.artifacts.length,
          width: size?.width,
          height: size?.height,
        };
      });
    } catch (error) {
      hold.refund();
      throw error;
    }
  }

  /** A 16:9 thumbnail for a video from its title and description, with the prompt used. */
  async generateVideoThumbnail(
    title: string,
    description: string,
    options: Omit<GenerateImageOptions, 'aspectRatio'> = {},
  ): Promise<VideoThumbnail> {
    const summary = description.replace(/\s+/g, ' ').trim().slice(0, 400);
    const prompt = `Eye-catching YouTube video thumbnail, bold composition, vivid colours, no text. Topic: ${title.trim()}.${summary ? ` Context: ${summary}` : ''}`;
    const image = await this.generateImage(prompt, {
      stylePreset: 'cinematic',
      negativePrompt: 'text, watermark, logo, blurry',
      ...options,
      aspectRatio: '16:9',
    });
    return { ...image, prompt, aspectRatio: '16:9' };
  }

  getApiMetrics(): Promise<ServiceMetrics> {
    return this.#http.getApiMetrics();
  }

  close(): Promise<void> {
    return this.#http.close();
  }
}
