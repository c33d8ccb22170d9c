import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { generateAudio, parseOutputFormat } from './audio.js';
import { header, keyAccepted, queryOne, type SandboxContext } from './context.js';
import { hashId } from './random.js';

/** Real premade voice ids; any other 20-character alphanumeric id is accepted as a custom voice. */
const PREMADE_VOICES: Array<[string, string, string]> = [
  ['21m00Tcm4TlvDq8ikWAM', 'Rachel', 'female'],
  ['29vD33N1CtxCmqQRPOHJ', 'Drew', 'male'],
  ['2EiwWnXFnvU5JabPnv8n', 'Clyde', 'male'],
  ['AZnzlk1XvdvUeBnXmlld', 'Domi', 'female'],
  ['CYw3kZ02Hs0563khs1Fj', 'Dave', 'male'],
  ['D38z5RcWu1voky8WS1ja', 'Fin', 'male'],
  ['EXAVITQu4vr4xnSDxMaL', 'Sarah', 'female'],
  ['ErXwobaYiN019PkySvjV', 'Antoni', 'male'],
  ['GBv7mTt0atIp3Br8iCZE', 'Thomas', 'male'],
  ['IKne3meq5aSn9XLyUdCD', 'Charlie', 'male'],
  ['JBFqnCBsd6RMkjVDRZzb', 'George', 'male'],
  ['MF3mGyEYCl7XYWbV9V6O', 'Elli', 'female'],
];

interface ModelInfo {
  id: string;
  name: string;
  maxChars: number;
  costFactor: number;
  group: 'standard' | 'turbo';
}

const MODELS: ModelInfo[] = [
  {
    id: 'eleven_multilingual_v2',
    name: 'Eleven Multilingual v2',
    maxChars: 10_000,
    costFactor: 1,
    group: 'standard',
  },
  { id: 'eleven_v3', name: 'Eleven v3', maxChars: 3_000, costFactor: 1, group: 'standard' },
  { id: 'eleven_flash_v2_5', name: 'Eleven Flash v2.5', maxChars: 40_000, costFactor: 0.5, group: 'turbo' },
  { id: 'eleven_turbo_v2_5', name: 'Eleven Turbo v2.5', maxChars: 40_000, costFactor: 0.5, group: 'turbo' },
  { id: 'eleven_flash_v2', name: 'Eleven Flash v2', maxChars: 30_000, costFactor: 0.5, group: 'turbo' },
  { id: 'eleven_turbo_v2', name: 'Eleven Turbo v2', maxChars: 30_000, costFactor: 0.5, group: 'turbo' },
];

function elevenError(status: string, message: string) {
  return { detail: { status, message } };
}

function voiceResource(voiceId: string, name: string, gender: string) {
  return {
    voice_id: voiceId,
    name,
    samples: null,
    category: 'premade',
    fine_tuning: null,
    labels: { accent: 'american', gender, use_case: 'narration' },
    description: `Sandbox voice ${name}.`,
    preview_url: `https://storage.googleapis.com/sandbox/voices/${voiceId}.mp3`,
    available_for_tiers: [],
    settings: null,
    sharing: null,
    high_quality_base_model_ids: ['eleven_multilingual_v2', 'eleven_flash_v2_5'],
    verified_languages: null,
    safety_control: null,
    voice_verification: null,
    permission_on_resource: null,
    is_owner: false,
    is_legacy: false,
    is_mixed: false,
    created_at_unix: null,
  };
}

function modelResource(m: ModelInfo) {
  return {
    model_id: m.id,
    name: m.name,
    can_be_finetuned: m.group === 'standard',
    can_do_text_to_speech: true,
    can_do_voice_conversion: false,
    can_use_style: m.group === 'standard',
    can_use_speaker_boost: true,
    serves_pro_voices: false,
    token_cost_factor: m.costFactor,
    description: `${m.name} (sandbox).`,
    requires_alpha_access: false,
    max_characters_request_free_user: Math.min(2_500, m.maxChars),
    max_characters_request_subscribed_user: m.maxChars,
    maximum_text_length_per_request: m.maxChars,
    languages: [
      { language_id: 'en', name: 'English' },
      { language_id: 'es', name: 'Spanish' },
    ],
    model_rates: { character_cost_multiplier: m.costFactor },
    concurrency_group: m.group,
  };
}

function knownVoice(voiceId: string): boolean {
  return PREMADE_VOICES.some(([id]) => id === voiceId) || /^[A-Za-z0-9]{20}$/.test(voiceId);
}

export function registerElevenLabs(app: FastifyInstance, ctx: SandboxContext): void {
  const authenticate = (request: FastifyRequest, reply: FastifyReply): boolean => {
    const key = header(request, 'xi-api-key');
    if (!key) {
      reply
        .code(401)
        .send(
          elevenError(
            'needs_authorization',
            'Neither authorization header nor xi-api-key received, please provide one.',
          ),
        );
      return false;
    }
    if (!keyAccepted(key, ctx.keys.elevenlabs)) {
      reply.code(401).send(elevenError('invalid_api_key', 'Invalid API key'));
      return false;
    }
    return true;
  };
  const validation = (reply: FastifyReply, loc: Array<string | number>, msg: string, type: string) =>
    reply.code(422).send({ detail: [{ loc, msg, type }] });

  for (const variant of ['', '/stream', '/with-timestamps'] as const) {
    app.post<{ Params: { voiceId: string } }>(
      `/elevenlabs/v1/text-to-speech/:voiceId${variant}`,
      async (request, reply) => {
        const requestId = hashId(`el:${ctx.requestId(request)}`, 20);
        reply.header('request-id', requestId);
        if (!authenticate(request, reply)) return reply;
        const body = (request.body ?? {}) as Record<string, unknown>;
        if (typeof body.text !== 'string')
          return validation(reply, ['body', 'text'], 'Field required', 'missing');
        const formatName = queryOne(request.query, 'output_format') ?? 'mp3_44100_128';
        const format = parseOutputFormat(formatName);
        if (!format) {
          return validation(
            reply,
            ['query', 'output_format'],
            `Input should be a valid output format, got '${formatName}'`,
            'enum',
          );
        }
        if (format.kind === 'opus') {
          return validation(
            reply,
            ['query', 'output_format'],
            'opus output is not supported by the sandbox',
            'unsupported',
          );
        }
        const voiceId = request.params.voiceId;
        if (!knownVoice(voiceId)) {
          return reply
            .code(400)
            .send(elevenError('voice_not_found', `A voice with the voice_id ${voiceId} was not found.`));
        }
        const modelId = typeof body.model_id === 'string' ? body.model_id : 'eleven_multilingual_v2';
        const model = MODELS.find((m) => m.id === modelId);
        if (!model)
          return reply
            .code(400)
            .send(elevenError('model_not_found', `A model with model ID ${modelId} does not exist.`));
        const text = body.text;
        if (text.length > model.maxChars) {
          return reply
            .code(400)
            .send(
              elevenError(
                'max_character_limit_exceeded',
                `You are sending ${text.length} characters with a single request, but the maximum allowed for ${model.id} is ${model.maxChars} characters.`,
              ),
            );
        }
        const cfg = ctx.config.elevenlabs;
        const state = ctx.state.elevenlabs;
        const cost = Math.ceil(text.length * model.costFactor);
        const remaining = cfg.characterLimit - state.charactersUsed;
        if (cost > remaining) {
          return reply
            .code(401)
            .send(
              elevenError(
                'quota_exceeded',
                `This request exceeds your quota of ${cfg.characterLimit}. You have ${Math.max(0, remaining)} credits remaining, while ${cost} credits are required for this request.`,
              ),
            );
        }
        if (state.inFlight >= cfg.maxConcurrentRequests) {
          reply.header('current-concurrent-requests', String(state.inFlight));
          reply.header('maximum-concurrent-requests', String(cfg.maxConcurrentRequests));
          return reply
            .code(429)
            .send(
              elevenError(
                'too_many_concurrent_requests',
                `Too many concurrent requests. Your current subscription allows ${cfg.maxConcurrentRequests} concurrent requests.`,
              ),
            );
        }
        state.inFlight++;
        const concurrent = state.inFlight;
        try {
          if (cfg.generationMs > 0) await ctx.clock.sleep(cfg.generationMs);
        } finally {
          state.inFlight--;
        }
        state.charactersUsed += cost;
        const durationMs = Math.max(1, text.length) * cfg.msPerCharacter;
        const audio = generateAudio(format, durationMs);
        reply.header('character-cost', String(cost));
        reply.header('current-concurrent-requests', String(concurrent));
        reply.header('maximum-concurrent-requests', String(cfg.maxConcurrentRequests));
        if (variant === '/with-timestamps') {
          const characters = [...text];
          const perChar = durationMs / 1000 / Math.max(1, characters.length);
          const round = (n: number): number => Math.round(n * 1000) / 1000;
          const alignment = {
            characters,
            character_start_times_seconds: characters.map((_, i) => round(i * perChar)),
            character_end_times_seconds: characters.map((_, i) => round((i + 1) * perChar)),
          };
          return { audio_base64: audio.toString('base64'), alignment, normalized_alignment: alignment };
        }
        reply.type(format.contentType);
        if (variant === '/stream') {
          const chunkSize = 4096;
          const chunks: Buffer[] = [];
          for (let i = 0; i < audio.length; i += chunkSize) chunks.push(audio.subarray(i, i + chunkSize));
          return reply.send(Readable.from(chunks));
        }
        return reply.send(audio);
      },
    );
  }

  app.get('/elevenlabs/v1/voices', async (request, reply) => {
    if (!authenticate(request, reply)) return reply;
    return { voices: PREMADE_VOICES.map(([id, name, gender]) => voiceResource(id, name, gender)) };
  });

  app.get<{ Params: { voiceId: string } }>('/elevenlabs/v1/voices/:voiceId', async (request, reply) => {
    if (!authenticate(request, reply)) return reply;
    const found = PREMADE_VOICES.find(([id]) => id === request.params.voiceId);
    if (!found) {
      return reply
        .code(400)
        .send(
          elevenError(
            'voice_not_found',
            `A voice with the voice_id ${request.params.voiceId} was not found.`,
          ),
        );
    }
    return voiceResource(...found);
  });

  app.get('/elevenlabs/v2/voices', async (request, reply) => {
    if (!authenticate(request, reply)) return reply;
    const pageSize = Number(queryOne(request.query, 'page_size') ?? '10');
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 100) {
      return validation(
        reply,
        ['query', 'page_size'],
        'Input should be less than or equal to 100',
        'less_than_equal',
      );
    }
    const search = queryOne(request.query, 'search')?.toLowerCase();
    let voices = PREMADE_VOICES.filter(([, name]) => !search || name.toLowerCase().includes(search));
    if (queryOne(request.query, 'sort') === 'name')
      voices = [...voices].sort((a, b) => a[1].localeCompare(b[1]));
    if (queryOne(request.query, 'sort_direction') === 'desc') voices = [...voices].reverse();
    const token = queryOne(request.query, 'next_page_token');
    let offset = 0;
    if (token) {
      const decoded = Number(
        Buffer.from(token, 'base64url')
          .toString('utf8')
          .replace(/^voices:/, ''),
      );
      if (!Number.isInteger(decoded) || decoded < 0 || decoded > voices.length) {
        return validation(reply, ['query', 'next_page_token'], 'Invalid page token', 'value_error');
      }
      offset = decoded;
    }
    const page = voices.slice(offset, offset + pageSize);
    const hasMore = offset + pageSize < voices.length;
    return {
      voices: page.map(([id, name, gender]) => voiceResource(id, name, gender)),
      has_more: hasMore,
      total_count: voices.length,
      next_page_token: hasMore ? Buffer.from(`voices:${offset + pageSize}`).toString('base64url') : null,
    };
  });

  app.get('/elevenlabs/v1/models', async (request, reply) => {
    if (!authenticate(request, reply)) return reply;
    return MODELS.map(modelResource);
  });

  app.get('/elevenlabs/v1/user/subscription', async (request, reply) => {
    if (!authenticate(request, reply)) return reply;
    const cfg = ctx.config.elevenlabs;
    const nextReset = Math.floor(ctx.clock.now() / 1000) + 30 * 86_400;
    return {
      tier: cfg.tier,
      character_count: ctx.state.elevenlabs.charactersUsed,
      character_limit: cfg.characterLimit,
      max_character_limit_extension: null,
      can_extend_character_limit: false,
      allowed_to_extend_character_limit: false,
      next_character_count_reset_unix: nextReset,
      voice_slots_used: 0,
      professional_voice_slots_used: 0,
      voice_limit: 30,
      max_voice_add_edits: null,
      voice_add_edit_counter: 0,
      professional_voice_limit: 1,
      can_extend_voice_limit: false,
      can_use_instant_voice_cloning: true,
      can_use_professional_voice_cloning: true,
      currency: 'usd',
      status: 'active',
      billing_period: 'monthly_period',
      character_refresh_period: 'monthly_period',
      next_invoice: null,
      has_open_invoices: false,
      pending_change: null,
    };
  });
}
