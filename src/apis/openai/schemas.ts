import { z } from 'zod';

const usageSchema = z.object({
  prompt_tokens: z.number().int().nonnegative(),
  completion_tokens: z.number().int().nonnegative(),
  total_tokens: z.number().int().nonnegative(),
});

export const chatCompletionSchema = z.object({
  id: z.string(),
  object: z.literal('chat.completion'),
  created: z.number(),
  model: z.string(),
  choices: z
    .array(
      z.object({
        index: z.number().int(),
        message: z.object({
          role: z.literal('assistant'),
          content: z.string().nullable(),
          refusal: z.string().nullable().optional(),
        }),
        finish_reason: z.string().nullable(),
      }),
    )
    .min(1),
  usage: usageSchema.optional(),
});
export type ChatCompletion = z.output<typeof chatCompletionSchema>;

export const openAiErrorSchema = z.object({
  error: z.object({ code: z.string().nullable().optional(), type: z.string().optional() }),
});

export const CONTENT_TYPES = [
  'education',
  'entertainment',
  'gaming',
  'music',
  'news',
  'sports',
  'technology',
  'lifestyle',
  'business',
  'comedy',
  'other',
] as const;

export const analysisSchema = z.object({
  content_type: z.enum(CONTENT_TYPES),
  target_audience: z.string().min(1),
  viral_potential: z.number().int().min(1).max(10),
  hashtags: z.array(z.string().min(1)),
  best_posting_time: z.string().min(1),
  improvements: z.array(z.string().min(1)),
  summary: z.string(),
});

export const captionsSchema = z.object({ captions: z.array(z.string()) });

export const highlightsSchema = z.object({
  highlights: z.array(
    z.object({
      start: z.number(),
      end: z.number(),
      title: z.string(),
      caption: z.string(),
      score: z.number(),
    }),
  ),
});
