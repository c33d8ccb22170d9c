import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { bearerToken, keyAccepted, type SandboxContext } from './context.js';
import { hashId } from './random.js';
import { FakeContext, fakeFromSchema, type JsonSchema } from './schema-faker.js';

export function openaiError(message: string, type: string, code: string | null, param: string | null = null) {
  return { error: { message, type, param, code } };
}

/** Go-style durations as in x-ratelimit-reset-*: `12ms`, `1s`, `6m0s`, `1h2m3.5s`. */
export function goDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms));
  if (total < 1000) return `${total}ms`;
  const h = Math.floor(total / 3_600_000);
  const m = Math.floor((total % 3_600_000) / 60_000);
  const s = (total % 60_000) / 1000;
  const seconds = `${Number.isInteger(s) ? s : s.toFixed(3).replace(/0+$/, '')}s`;
  return `${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${seconds}`;
}

function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

interface ChatMessage {
  role?: unknown;
  content?: unknown;
}

function messageText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part) => (part && typeof part === 'object' && 'text' in part ? String(part.text) : ''))
      .join('\n');
  }
  return '';
}

const WINDOW_MS = 60_000;

function contentFor(body: Record<string, unknown>, prompt: string, lastUser: string, choice: number): string {
  const format = body.response_format as { type?: unknown; json_schema?: { schema?: unknown } } | undefined;
  const seed = `${String(body.model)}:${choice}:${prompt}`;
  if (format?.type === 'json_schema') {
    const schema = (format.json_schema?.schema ?? { type: 'object' }) as JsonSchema;
    return JSON.stringify(fakeFromSchema(schema, prompt, seed));
  }
  if (format?.type === 'json_object') {
    const ctx = new FakeContext(prompt, seed);
    return JSON.stringify({ summary: ctx.sentence(0), keywords: ctx.keywords.slice(0, 5) });
  }
  const ctx = new FakeContext(lastUser || prompt, seed);
  return `Sandbox reply (${ctx.keywords.slice(0, 3).join(', ')}): ${ctx.sentence(choice)}`;
}

export function registerOpenAI(app: FastifyInstance, ctx: SandboxContext): void {
  const authenticate = (request: FastifyRequest, reply: FastifyReply): boolean => {
    const token = bearerToken(request);
    if (!token) {
      reply
        .code(401)
        .send(
          openaiError(
            "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username and password. You can obtain an API key from https://platform.openai.com/account/api-keys.",
            'invalid_request_error',
            null,
          ),
        );
      return false;
    }
    if (!keyAccepted(token, ctx.keys.openai)) {
      // The real message echoes a masked key; the sandbox echoes none of it.
      reply
        .code(401)
        .send(
          openaiError(
            'Incorrect API key provided: sk-***. You can find your API key at https://platform.openai.com/account/api-keys.',
            'invalid_request_error',
            'invalid_api_key',
          ),
        );
      return false;
    }
    return true;
  };

  const common = (reply: FastifyReply, request: FastifyRequest): void => {
    reply.header('x-request-id', ctx.requestId(request));
    reply.header('openai-version', '2020-10-01');
    reply.header('openai-organization', 'org-sandbox');
    reply.header('openai-processing-ms', '1');
  };

  app.get('/openai/v1/models', async (request, reply) => {
    common(reply, request);
    if (!authenticate(request, reply)) return reply;
    return {
      object: 'list',
      data: ctx.config.openai.models.map((id) => ({
        id,
        object: 'model',
        created: 1_715_000_000,
        owned_by: 'system',
      })),
    };
  });

  app.post('/openai/v1/chat/completions', async (request, reply) => {
    common(reply, request);
    if (!authenticate(request, reply)) return reply;
    const body = request.body as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
      return reply
        .code(400)
        .send(
          openaiError('We could not parse the JSON body of your request.', 'invalid_request_error', null),
        );
    }
    if (typeof body.model !== 'string' || body.model === '') {
      return reply
        .code(400)
        .send(openaiError('you must provide a model parameter', 'invalid_request_error', null));
    }
    if (!Array.isArray(body.messages) || body.messages.length === 0) {
      return reply
        .code(400)
        .send(
          openaiError(
            "Missing required parameter: 'messages'.",
            'invalid_request_error',
            'missing_required_parameter',
            'messages',
          ),
        );
    }
    const model = body.model;
    if (!ctx.config.openai.models.includes(model)) {
      return reply
        .code(404)
        .send(
          openaiError(
            `The model \`${model}\` does not exist or you do not have access to it.`,
            'invalid_request_error',
            'model_not_found',
          ),
        );
    }
    const messages = body.messages as ChatMessage[];
    const prompt = messages.map((m) => messageText(m.content)).join('\n');
    const format = body.response_format as { type?: unknown } | undefined;
    if (format?.type === 'json_object' && !/json/i.test(prompt)) {
      return reply
        .code(400)
        .send(
          openaiError(
            "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
            'invalid_request_error',
            null,
            'messages',
          ),
        );
    }
    const lastUser = messageText([...messages].reverse().find((m) => m.role === 'user')?.content);
    const promptTokens = estimateTokens(prompt);

    const cfg = ctx.config.openai;
    const state = ctx.state.openai;
    const now = ctx.clock.now();
    if (now - state.windowStart >= WINDOW_MS) {
      state.windowStart = now;
      state.requests = 0;
      state.tokens = 0;
    }
    const resetMs = state.windowStart + WINDOW_MS - now;
    const setLimitHeaders = (): void => {
      reply.header('x-ratelimit-limit-requests', String(cfg.requestsPerMinute));
      reply.header('x-ratelimit-limit-tokens', String(cfg.tokensPerMinute));
      reply.header(
        'x-ratelimit-remaining-requests',
        String(Math.max(0, cfg.requestsPerMinute - state.requests)),
      );
      reply.header('x-ratelimit-remaining-tokens', String(Math.max(0, cfg.tokensPerMinute - state.tokens)));
      reply.header('x-ratelimit-reset-requests', goDuration(resetMs));
      reply.header('x-ratelimit-reset-tokens', goDuration(resetMs));
    };
    if (state.totalTokens + promptTokens > cfg.quotaTokens) {
      setLimitHeaders();
      return reply
        .code(429)
        .send(
          openaiError(
            'You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.',
            'insufficient_quota',
            'insufficient_quota',
          ),
        );
    }
    const overRequests = state.requests + 1 > cfg.requestsPerMinute;
    const overTokens = state.tokens + promptTokens > cfg.tokensPerMinute;
    if (overRequests || overTokens) {
      setLimitHeaders();
      const seconds = Math.max(1, Math.ceil(resetMs / 1000));
      const what = overRequests
        ? `requests per min (RPM): Limit ${cfg.requestsPerMinute}, Used ${state.requests}, Requested 1`
        : `tokens per min (TPM): Limit ${cfg.tokensPerMinute}, Used ${state.tokens}, Requested ${promptTokens}`;
      return reply
        .code(429)
        .header('retry-after', String(seconds))
        .header('x-should-retry', 'true')
        .send(
          openaiError(
            `Rate limit reached for ${model} in organization org-sandbox on ${what}. Please try again in ${goDuration(resetMs)}.`,
            overRequests ? 'requests' : 'tokens',
            'rate_limit_exceeded',
          ),
        );
    }

    const n = typeof body.n === 'number' && body.n >= 1 ? Math.min(8, Math.floor(body.n)) : 1;
    const maxTokens =
      typeof body.max_completion_tokens === 'number'
        ? body.max_completion_tokens
        : typeof body.max_tokens === 'number'
          ? body.max_tokens
          : Number.POSITIVE_INFINITY;
    let completionTokens = 0;
    const choices = Array.from({ length: n }, (_, index) => {
      let content = contentFor(body, prompt, lastUser, index);
      let finishReason = 'stop';
      if (estimateTokens(content) > maxTokens) {
        content = content.slice(0, Math.max(0, maxTokens * 4));
        finishReason = 'length';
      }
      completionTokens += estimateTokens(content);
      return {
        index,
        message: { role: 'assistant', content, refusal: null, annotations: [] },
        logprobs: null,
        finish_reason: finishReason,
      };
    });
    state.requests++;
    state.tokens += promptTokens + completionTokens;
    state.totalTokens += promptTokens + completionTokens;
    setLimitHeaders();

    const id = `chatcmpl-${hashId(`chat:${ctx.requestId(request)}`, 29)}`;
    const created = Math.floor(now / 1000);
    const usage = {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: {
        reasoning_tokens: 0,
        audio_tokens: 0,
        accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0,
      },
    };
    if (body.stream === true) {
      const base = { id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_sandbox' };
      const events: unknown[] = [];
      for (const choice of choices) {
        const text = choice.message.content;
        events.push({
          ...base,
          choices: [
            {
              index: choice.index,
              delta: { role: 'assistant', content: '', refusal: null },
              logprobs: null,
              finish_reason: null,
            },
          ],
        });
        for (let i = 0; i < text.length; i += 24) {
          events.push({
            ...base,
            choices: [
              {
                index: choice.index,
                delta: { content: text.slice(i, i + 24) },
                logprobs: null,
                finish_reason: null,
              },
            ],
          });
        }
        events.push({
          ...base,
          choices: [{ index: choice.index, delta: {}, logprobs: null, finish_reason: choice.finish_reason }],
        });
      }
      const options = body.stream_options as { include_usage?: unknown } | undefined;
      if (options?.include_usage === true) events.push({ ...base, choices: [], usage });
      const frames = [...events.map((e) => `data: ${JSON.stringify(e)}\n\n`), 'data: [DONE]\n\n'];
      reply.type('text/event-stream; charset=utf-8');
      const pace = ctx.config.openai.streamEventDelayMs;
      if (pace <= 0) return reply.send(frames.join(''));
      // Paced: each event after its own pause, as a model writes its answer.
      const clock = ctx.clock;
      return reply.send(
        Readable.from(
          (async function* () {
            for (const frame of frames) {
              await clock.sleep(pace);
              yield frame;
            }
          })(),
        ),
      );
    }
    return {
      id,
      object: 'chat.completion',
      created,
      model,
      choices,
      usage,
      service_tier: 'default',
      system_fingerprint: 'fp_sandbox',
    };
  });
}
