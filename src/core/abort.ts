import { AbortedError, InvalidArgumentError, OpusError, TimeoutError } from './errors.js';

/** The error to throw for an aborted signal: the caller's own OpusError reason if it gave one. */
export function abortReason(signal: AbortSignal): OpusError {
  const reason: unknown = signal.reason;
  if (reason instanceof OpusError) return reason;
  if (reason instanceof Error && reason.name === 'TimeoutError') {
    return new TimeoutError('The operation timed out', { cause: reason });
  }
  return new AbortedError('The operation was aborted', { cause: reason });
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortReason(signal);
}

/** Combines optional signals; undefined when there are none (saves allocating on the hot path). */
export function combineSignals(...signals: Array<AbortSignal | undefined>): AbortSignal | undefined {
  const present = signals.filter((s): s is AbortSignal => s !== undefined);
  if (present.length === 0) return undefined;
  if (present.length === 1) return present[0];
  return AbortSignal.any(present);
}

/**
 * Races `promise` against `signal`. The underlying work is not cancelled (it may not support it),
 * but the caller stops waiting and gets an AbortedError or TimeoutError.
 */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (typeof (promise as PromiseLike<T> | null)?.then !== 'function')
    return Promise.reject(new InvalidArgumentError('raceSignal: the first argument must be a promise'));
  if (!signal) return promise;
  if (!(signal instanceof AbortSignal))
    return Promise.reject(new InvalidArgumentError('raceSignal: signal must be an AbortSignal'));
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/**
 * A signal that aborts with a TimeoutError after `ms` on the given clock, plus a dispose function
 * that clears the timer. Works with FakeClock, unlike AbortSignal.timeout.
 */
export function timeoutSignal(
  ms: number,
  clock: { setTimer(ms: number, cb: () => void): () => void },
  message = `Timed out after ${ms} ms`,
): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const dispose = clock.setTimer(ms, () =>
    controller.abort(new TimeoutError(message, { details: { timeoutMs: ms } })),
  );
  return { signal: controller.signal, dispose };
}
