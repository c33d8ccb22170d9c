import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { header, type SandboxContext } from './context.js';
import { dimensionsFor, generateImage, IMAGE_CONTENT_TYPES, type ImageFormat } from './images.js';
import { hashId, hashSeed } from './random.js';

const ASPECT_RATIOS = ['21:9', '16:9', '3:2', '5:4', '1:1', '4:5', '2:3', '9:16', '9:21'];
const STYLE_PRESETS = [
  'enhance',
  'anime',
  'photographic',
  'digital-art',
  'comic-book',
  'fantasy-art',
  'line-art',
  'analog-film',
  'neon-punk',
  'isometric',
  'low-poly',
  'origami',
  'modeling-compound',
  'cinematic',
  '3d-model',
  'pixel-art',
  'tile-texture',
];
/** Credits per generation (Dec-2024 prices; failed generations are free). */
const SD3_CREDITS: Record<string, number> = {
  'sd3.5-large': 6.5,
  'sd3.5-large-turbo': 4,
  'sd3.5-medium': 3.5,
  'sd3-large': 6.5,
  'sd3-large-turbo': 4,
  'sd3-medium': 3.5,
};
const V2_ENDPOINTS = {
  core: { formats: ['png', 'jpeg', 'webp'], credits: 3 },
  ultra: { formats: ['png', 'jpeg', 'webp'], credits: 8 },
  sd3: { formats: ['png', 'jpeg'], credits: 6.5 },
} as const;
const SDXL = 'stable-diffusion-xl-1024-v1-0';
const SDXL_SIZES = [
  '1024x1024',
  '1152x896',
  '896x1152',
  '1216x832',
  '1344x768',
  '768x1344',
  '1536x640',
  '640x1536',
];
const V1_ENGINES = [SDXL, 'stable-diffusion-v1-6'];

type Fields = Record<string, unknown>;

export function registerStability(app: FastifyInstance, ctx: SandboxContext): void {
  const errorId = (request: FastifyRequest): string =>
    hashId(`stability-error:${ctx.requestId(request)}`, 32);
  const v2Error = (
    request: FastifyRequest,
    reply: FastifyReply,
    status: number,
    name: string,
    errors: string[],
  ) => reply.code(status).send({ id: errorId(request), name, errors });
  const v1Error = (
    request: FastifyRequest,
    reply: FastifyReply,
    status: number,
    name: string,
    message: string,
  ) => reply.code(status).send({ id: errorId(request), name, message });

  /** undefined when the key is fine, else the message of the 401. */
  const authProblem = (request: FastifyRequest): string | undefined => {
    const auth = header(request, 'authorization')?.trim();
    if (!auth) return 'missing authorization header';
    const key = auth.replace(/^Bearer\s+/i, '');
    const allowed = ctx.keys.stability;
    if (key === '' || (allowed !== undefined && !allowed.includes(key))) return 'Incorrect API key provided';
    return undefined;
  };

  /** The 150-per-10-s window with a timeout after it is exceeded; true when the request may go on. */
  const withinRateLimit = (request: FastifyRequest, reply: FastifyReply, v1: boolean): boolean => {
    const cfg = ctx.config.stability;
    const state = ctx.state.stability;
    const now = ctx.clock.now();
    const limited = (): boolean => {
      const text = `You have exceeded the rate limit of ${cfg.requestsPerWindow} requests within a ${cfg.windowMs / 1000} second period, and have been timed out for ${cfg.timeoutMs / 1000} seconds.`;
      if (v1) v1Error(request, reply, 429, 'rate_limit_exceeded', text);
      else v2Error(request, reply, 429, 'rate_limit_exceeded', [text]);
      return false;
    };
    if (now < state.blockedUntil) return limited();
    if (now - state.windowStart >= cfg.windowMs) {
      state.windowStart = now;
      state.requests = 0;
    }
    state.requests++;
    if (state.requests > cfg.requestsPerWindow) {
      state.blockedUntil = now + cfg.timeoutMs;
      return limited();
    }
    return true;
  };

  const balance = (): number => ctx.config.stability.credits - ctx.state.stability.creditsUsed;

  const seedFor = (given: unknown, prompt: string, request: FastifyRequest): number => {
    const n = Number(given);
    if (Number.isInteger(n) && n > 0) return n;
    return (hashSeed(`seed:${prompt}:${ctx.requestId(request)}`) % 4294967294) + 1;
  };

  for (const endpoint of ['core', 'ultra', 'sd3'] as const) {
    app.post(`/stability/v2beta/stable-image/generate/${endpoint}`, async (request, reply) => {
      reply.header('x-request-id', ctx.requestId(request));
      const problem = authProblem(request);
      if (problem) return v2Error(request, reply, 401, 'unauthorized', [problem]);
      if (!withinRateLimit(request, reply, false)) return reply;
      const contentType = header(request, 'content-type') ?? '';
      if (!contentType.startsWith('multipart/form-data')) {
        return v2Error(request, reply, 400, 'bad_request', ['content-type: must be multipart/form-data']);
      }
      const fields = (request.body ?? {}) as Fields;
      const errors: string[] = [];
      const prompt = typeof fields.prompt === 'string' ? fields.prompt : '';
      if (prompt.length === 0) errors.push('prompt: is required');
      else if (prompt.length > 10_000) errors.push('prompt: must be at most 10000 characters');
      const aspect = typeof fields.aspect_ratio === 'string' ? fields.aspect_ratio : '1:1';
      if (!ASPECT_RATIOS.includes(aspect))
        errors.push(`aspect_ratio: must be one of ${ASPECT_RATIOS.join(', ')}`);
      const format = (typeof fields.output_format === 'string' ? fields.output_format : 'png') as ImageFormat;
      const allowedFormats: readonly string[] = V2_ENDPOINTS[endpoint].formats;
      if (!allowedFormats.includes(format))
        errors.push(`output_format: must be one of ${allowedFormats.join(', ')}`);
      if (fields.seed !== undefined) {
        const seed = Number(fields.seed);
        if (!Number.isFinite(seed) || seed < 0 || seed > 4294967294)
          errors.push('seed: must be between 0 and 4294967294');
      }
      if (
        endpoint === 'core' &&
        fields.style_preset !== undefined &&
        !STYLE_PRESETS.includes(String(fields.style_preset))
      ) {
        errors.push(`style_preset: must be one of ${STYLE_PRESETS.join(', ')}`);
      }
      let credits: number = V2_ENDPOINTS[endpoint].credits;
      if (endpoint === 'sd3') {
        const model = typeof fields.model === 'string' ? fields.model : 'sd3.5-large';
        const price = SD3_CREDITS[model];
        if (price === undefined) errors.push(`model: must be one of ${Object.keys(SD3_CREDITS).join(', ')}`);
        else credits = price;
      }
      if (fields.image !== undefined && fields.strength === undefined && endpoint !== 'core') {
        errors.push('strength: is required when image is provided');
      }
      if (errors.length > 0) return v2Error(request, reply, 400, 'bad_request', errors);
      if (prompt.includes('[moderated]')) {
        return v2Error(request, reply, 403, 'content_moderation', [
          'Your request was flagged by our content moderation system, as a result your request was denied and you were not charged.',
        ]);
      }
      if (balance() < credits) {
        return v2Error(request, reply, 402, 'payment_required', [
          'You lack sufficient credits to make this request. Please purchase more credits and try again.',
        ]);
      }
      ctx.state.stability.creditsUsed += credits;
      const seed = seedFor(fields.seed, prompt, request);
      const finishReason = prompt.includes('[filtered]') ? 'CONTENT_FILTERED' : 'SUCCESS';
      const { width, height } = dimensionsFor(aspect, ctx.config.stability.imageLongSide);
      const image = generateImage(format, width, height, seed);
      const accept = header(request, 'accept') ?? 'image/*';
      if (accept.includes('application/json')) {
        // A Buffer keeps fastify from re-serialising the unquoted `type=image/png` parameter.
        return reply
          .header('content-type', `application/json; type=${IMAGE_CONTENT_TYPES[format]}`)
          .send(
            Buffer.from(
              JSON.stringify({ image: image.toString('base64'), finish_reason: finishReason, seed }),
            ),
          );
      }
      return reply
        .header('finish-reason', finishReason)
        .header('seed', String(seed))
        .type(IMAGE_CONTENT_TYPES[format])
        .send(image);
    });
  }

  app.post<{ Params: { engine: string } }>(
    '/stability/v1/generation/:engine/text-to-image',
    async (request, reply) => {
      reply.header('x-request-id', ctx.requestId(request));
      const problem = authProblem(request);
      if (problem) return v1Error(request, reply, 401, 'unauthorized', problem);
      if (!withinRateLimit(request, reply, true)) return reply;
      const engine = request.params.engine;
      if (!V1_ENGINES.includes(engine))
        return v1Error(request, reply, 404, 'not_found', `engine: ${engine} not found`);
      const body = (request.body ?? {}) as Record<string, unknown>;
      const prompts = body.text_prompts;
      if (
        !Array.isArray(prompts) ||
        prompts.length === 0 ||
        prompts.some((p) => typeof p?.text !== 'string')
      ) {
        return v1Error(
          request,
          reply,
          400,
          'bad_request',
          'text_prompts: is required and must contain at least one prompt with text',
        );
      }
      const defaultSide = engine === SDXL ? 1024 : 512;
      const width = typeof body.width === 'number' ? body.width : defaultSide;
      const height = typeof body.height === 'number' ? body.height : defaultSide;
      if (engine === SDXL && !SDXL_SIZES.includes(`${width}x${height}`)) {
        return v1Error(
          request,
          reply,
          400,
          'invalid_height_or_width',
          `for stable-diffusion-xl-1024-v1-0 the allowed dimensions are ${SDXL_SIZES.join(', ')}, but we received ${width}x${height}`,
        );
      }
      if (width % 64 !== 0 || height % 64 !== 0 || width < 128 || height < 128) {
        return v1Error(
          request,
          reply,
          400,
          'invalid_height_or_width',
          'height and width must be specified in increments of 64',
        );
      }
      const samples = typeof body.samples === 'number' ? body.samples : 1;
      const accept = header(request, 'accept') ?? 'application/json';
      const wantsPng = accept.includes('image/png');
      if (!Number.isInteger(samples) || samples < 1 || samples > 10) {
        return v1Error(request, reply, 400, 'bad_request', 'samples: must be between 1 and 10');
      }
      if (wantsPng && samples > 1) {
        return v1Error(
          request,
          reply,
          400,
          'invalid_samples',
          'Sample count may only be greater than 1 when the accept header is set to `application/json`',
        );
      }
      const steps = typeof body.steps === 'number' ? body.steps : 30;
      const credits = 0.9 * Math.max(1, steps / 30) * samples;
      if (balance() < credits) {
        return v1Error(
          request,
          reply,
          402,
          'payment_required',
          'You lack sufficient credits to make this request.',
        );
      }
      ctx.state.stability.creditsUsed += credits;
      const prompt = prompts.map((p: { text: string }) => p.text).join(' ');
      const dims = dimensionsFor(`${width}:${height}`, ctx.config.stability.imageLongSide);
      const baseSeed = seedFor(body.seed, prompt, request);
      const artifacts = Array.from({ length: samples }, (_, i) => {
        const seed = (baseSeed + i) % 4294967295;
        return {
          base64: generateImage('png', dims.width, dims.height, seed).toString('base64'),
          seed,
          finishReason: prompt.includes('[filtered]') ? 'CONTENT_FILTERED' : 'SUCCESS',
        };
      });
      if (wantsPng) {
        const first = artifacts[0]!;
        return reply
          .header('finish-reason', first.finishReason)
          .header('seed', String(first.seed))
          .type('image/png')
          .send(Buffer.from(first.base64, 'base64'));
      }
      return { artifacts };
    },
  );

  app.get('/stability/v1/user/balance', async (request, reply) => {
    reply.header('x-request-id', ctx.requestId(request));
    const problem = authProblem(request);
    if (problem) return v1Error(request, reply, 401, 'unauthorized', problem);
    return { credits: Math.round(balance() * 1000) / 1000 };
  });
}
