import { endSpan, startSpan } from '../core/tracing.js';
import { safeKey } from './log-fields.js';

export interface LoaderContext {
  key: string;
  /** Aborted when the cache is closed. */
  signal: AbortSignal;
}

/** Produces the value of a missing key (a database read, an API call). */
export type Loader<T> = (context: LoaderContext) => Promise<T> | T;

/** Runs `loader` for `key` inside a trace span named `name` (only loads get one: hits must stay cheap). */
export async function runLoader<T>(
  name: string,
  key: string,
  loader: Loader<T>,
  signal: AbortSignal,
): Promise<T> {
  const span = startSpan(name, { 'opusclip.cache.key': safeKey(key) });
  try {
    const value = await loader({ key, signal });
    endSpan(span);
    return value;
  } catch (error) {
    endSpan(span, error);
    throw error;
  }
}
