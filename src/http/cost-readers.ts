import type { HttpResponse } from './http-client.js';

/** Actual token cost of an OpenAI answer (`usage.total_tokens`), for a budget with a `tokens` window. */
export function openAiUsageCost(response: HttpResponse): { requests: number; tokens: number } | undefined {
  const usage = (response.data as { usage?: { total_tokens?: unknown } } | undefined)?.usage;
  const tokens = typeof usage?.total_tokens === 'number' ? usage.total_tokens : undefined;
  return tokens === undefined ? undefined : { requests: 1, tokens };
}

/** Actual character cost of an ElevenLabs answer (`character-cost` header), for a `characters` window. */
export function elevenLabsCharacterCost(response: HttpResponse): { characters: number } | undefined {
  const raw = response.headers['character-cost'];
  const value = Number(Array.isArray(raw) ? raw[0] : raw);
  return Number.isFinite(value) && value >= 0 ? { characters: value } : undefined;
}
