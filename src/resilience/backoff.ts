export interface BackoffOptions {
  /** Delay before the first retry. */
  initialDelayMs: number;
  /** Upper bound of any single delay. */
  maxDelayMs: number;
  /** Growth per attempt (2 = doubling). */
  factor?: number;
}

/**
 * "Full jitter" exponential backoff: a uniform random delay in [0, min(max, initial * factor^attempt)].
 * Spreading retries over the whole interval avoids synchronized retry storms after a shared outage.
 * `attempt` is 0 for the first retry. `random` gives a number in [0, 1); inject one for deterministic
 * delays. The result is a duration: callers sleep it on their own Clock.
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(options.maxDelayMs, options.initialDelayMs * (options.factor ?? 2) ** attempt);
  return Math.round(ceiling * random());
}

type HeaderValue = string | string[] | undefined;
type HeaderBag = Record<string, HeaderValue>;

function header(headers: HeaderBag, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Delay asked for by a server, in ms from `now`: `retry-after-ms`, then `Retry-After` in seconds or as
 * an HTTP date. Undefined when absent or unparsable. Header names must be lower-case (as undici gives them).
 */
export function parseRetryAfter(headers: HeaderBag, now: number): number | undefined {
  const ms = header(headers, 'retry-after-ms');
  if (ms !== undefined && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.ceil(Number(ms));
  const value = header(headers, 'retry-after')?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.ceil(Number(value) * 1000);
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

const DURATION_PART = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;

/**
 * Parses reset durations as OpenAI sends them in `x-ratelimit-reset-*` (`6m0s`, `1s`, `12ms`, `1h2m3.5s`);
 * a bare number is seconds. Undefined when unparsable.
 */
export function parseDuration(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = text.trim();
  if (/^\d+(\.\d+)?$/.test(value)) return Math.ceil(Number(value) * 1000);
  let total = 0;
  let consumed = 0;
  for (const match of value.matchAll(DURATION_PART)) {
    const n = Number(match[1]);
    const unit = match[2];
    total += unit === 'h' ? n * 3_600_000 : unit === 'm' ? n * 60_000 : unit === 's' ? n * 1000 : n;
    consumed += match[0].length;
  }
  return consumed === value.length && consumed > 0 ? Math.ceil(total) : undefined;
}
