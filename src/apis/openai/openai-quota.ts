import type { HttpResponse } from '../../http/index.js';
import type { WindowSpec } from '../../resilience/index.js';

/** OpenAI: requests and tokens per minute (the tier's limits). Cost `{ requests: 1, tokens: estimate }`. */
export function openAiWindows(requestsPerMinute: number, tokensPerMinute: number): WindowSpec[] {
  return [
    { name: 'requests', limit: requestsPerMinute, windowMs: 60_000 },
    { name: 'tokens', limit: tokensPerMinute, windowMs: 60_000 },
  ];
}

/**
 * Actual cost of a completion (`usage.total_tokens`), for a budget with a `tokens` window: an
 * HttpClient's `actualCost`. Reads a parsed body or JSON text; undefined when the body has no usage.
 */
export function openAiUsageCost(response: HttpResponse): { requests: number; tokens: number } | undefined {
  let body: unknown = response.data;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  const total = (body as { usage?: { total_tokens?: unknown } } | null | undefined)?.usage?.total_tokens;
  return typeof total === 'number' ? { requests: 1, tokens: total } : undefined;
}
