import { isTransient, OpusError, raceSignal } from '../core/index.js';
import { DatabaseError, DbErrorCode } from '../db/index.js';
import { StoreError } from '../store/index.js';
import { ServerError, ServerErrorCode } from './errors.js';

export type Dependency = 'database' | 'redis';

/** Database failures that mean "the database is not there" rather than "this query is wrong". */
const DB_DOWN: ReadonlySet<string> = new Set([
  DbErrorCode.ConnectFailed,
  DbErrorCode.ConnectionLost,
  DbErrorCode.Timeout,
  DbErrorCode.PoolExhausted,
  DbErrorCode.Closed,
  DbErrorCode.Busy,
]);

/**
 * Bounds one call to the database or Redis: the call gets a signal that fires at the deadline or when
 * the client goes away, and the caller stops waiting at the deadline even when the call ignores the
 * signal (a BullMQ command waits for Redis to come back for ever). A dependency that fails or does not
 * answer in time becomes a 503 `ERR_SERVER_UNAVAILABLE` naming it; a refused input (StoreError,
 * ServerError) passes through unchanged.
 */
export async function withDeadline<T>(
  dependency: Dependency,
  timeoutMs: number,
  clientGone: AbortSignal | undefined,
  call: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const deadline = AbortSignal.timeout(timeoutMs);
  const signal = clientGone ? AbortSignal.any([deadline, clientGone]) : deadline;
  try {
    return await raceSignal(
      Promise.resolve().then(() => call(signal)),
      signal,
    );
  } catch (error) {
    if (error instanceof ServerError) throw error;
    if (error instanceof StoreError && !isTransient(error)) throw error;
    if (dependency === 'database' && !isDatabaseDown(error) && !deadline.aborted) throw error;
    const what = dependency === 'database' ? 'The database' : 'Redis';
    const message = deadline.aborted
      ? `${what} did not answer within ${timeoutMs} ms`
      : `${what} is unavailable`;
    throw new ServerError(ServerErrorCode.Unavailable, 503, message, {
      cause: error,
      details: { dependency },
    });
  }
}

function isDatabaseDown(error: unknown): boolean {
  if (error instanceof DatabaseError) return DB_DOWN.has(error.code) || isTransient(error);
  return error instanceof OpusError && isTransient(error);
}
