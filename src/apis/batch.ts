import { OpusError, throwIfAborted } from '../core/index.js';
import { ApiErrorCode } from './errors.js';

/** One entry of a partial-failure report: same order as the inputs, never a shorter list. */
export type BatchResult<T> = { ok: true; value: T } | { ok: false; error: OpusError };

export interface MapSettledOptions {
  /** Items in flight at once (default 4). */
  concurrency?: number;
  signal?: AbortSignal;
}

function asOpusError(error: unknown): OpusError {
  if (error instanceof OpusError) return error;
  return new OpusError(ApiErrorCode.Unexpected, error instanceof Error ? error.message : String(error), {
    cause: error,
  });
}

/**
 * Runs `fn` over `items` with at most `concurrency` in flight and reports each outcome in input order.
 * An abort stops starting new items; those not started are reported as aborted, not dropped.
 */
export async function mapSettled<I, T>(
  items: readonly I[],
  fn: (item: I, index: number) => Promise<T>,
  options: MapSettledOptions = {},
): Promise<Array<BatchResult<T>>> {
  const results = new Array<BatchResult<T>>(items.length);
  const limit = Math.max(1, Math.floor(options.concurrency ?? 4));
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      try {
        throwIfAborted(options.signal);
        results[i] = { ok: true, value: await fn(items[i] as I, i) };
      } catch (error) {
        results[i] = { ok: false, error: asOpusError(error) };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Splits `items` into consecutive chunks of at most `size`. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
