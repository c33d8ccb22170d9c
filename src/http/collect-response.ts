import type { IncomingHttpHeaders } from 'node:http';
import { type Dispatcher, errors, util } from 'undici';
import { systemClock } from '../core/index.js';

/** A whole response: status, headers and the body's chunks as they arrived. */
export interface CollectedResponse {
  statusCode: number;
  headers: IncomingHttpHeaders;
  chunks: Buffer[];
}

/**
 * Sends `options` through `dispatcher` and resolves with the whole response. A dispatch handler of our
 * own rather than `dispatcher.request()`: the API answers are read whole anyway, so the Readable body
 * stream, its events and the AsyncResource that `request()` creates per call buy nothing here, and on
 * the client's hot path they cost about as much as the rest of the stack. Errors are undici's own, the
 * same that `request()` and its body raise; an abort ends the request with `signal.reason`.
 *
 * With a `watch`, the whole exchange (waiting for a connection, the headers and every byte of the body)
 * ends at `expiresAt` (`performance.now()` time) with a `DeadlineExceededError`, however the server
 * paces its bytes: undici's own timeouts only bound the silence between two chunks.
 */
export function collectResponse(
  dispatcher: Dispatcher,
  options: Dispatcher.DispatchOptions,
  signal: AbortSignal | undefined,
  maxBytes = Number.POSITIVE_INFINITY,
  watch?: DeadlineWatch,
  expiresAt = Number.POSITIVE_INFINITY,
): Promise<CollectedResponse> {
  return new Promise((resolve, reject) => {
    const handler = new CollectingHandler(resolve, reject, signal, maxBytes, watch, expiresAt);
    dispatcher.dispatch(options, handler);
  });
}

/** The exchange was still going when its deadline came: the request was ended, its socket closed. */
export class DeadlineExceededError extends Error {
  /** Whether the headers had arrived (the provider answered, its body did not finish in time). */
  readonly answered: boolean;
  readonly statusCode: number;

  constructor(statusCode: number) {
    super(
      statusCode > 0
        ? 'the deadline passed while the response body was arriving'
        : 'the deadline passed before the response headers arrived',
    );
    this.name = 'DeadlineExceededError';
    this.answered = statusCode > 0;
    this.statusCode = statusCode;
  }
}

const MAX_TIMER_MS = 2_147_483_647;

interface Expirable {
  readonly expiresAt: number;
  expire(): void;
}

/**
 * One timer for every exchange of a client, set for the earliest deadline among them, rather than a
 * timer per call. An exchange joins when it is dispatched and leaves when it ends; when the timer fires
 * it ends the exchanges whose deadline has come and sets itself for the next one. Exchanges that end in
 * time only cost a Set insertion and deletion; the timer is re-created only when an exchange's deadline
 * is earlier than the one it is set for. Runs on real time (`performance.now()` and `systemClock`'s
 * timer, whatever clock the client was given), as the sockets do.
 */
export class DeadlineWatch {
  readonly #entries = new Set<Expirable>();
  #cancel: (() => void) | undefined;
  #armedAt = Number.POSITIVE_INFINITY;

  /** Exchanges being watched (for tests and metrics). */
  get size(): number {
    return this.#entries.size;
  }

  add(entry: Expirable): void {
    this.#entries.add(entry);
    if (entry.expiresAt < this.#armedAt) this.#arm(entry.expiresAt);
  }

  delete(entry: Expirable): void {
    // The timer stays set: clearing and re-creating it per call is what the watch exists to avoid.
    this.#entries.delete(entry);
  }

  /** Stops the timer; exchanges still watched are left to their own timeouts. */
  close(): void {
    this.#cancel?.();
    this.#cancel = undefined;
    this.#armedAt = Number.POSITIVE_INFINITY;
    this.#entries.clear();
  }

  #arm(at: number): void {
    this.#cancel?.();
    this.#armedAt = at;
    // A timer fires at once for a delay past 2^31 - 1 ms; a far deadline is re-checked then instead.
    this.#cancel = systemClock.setTimer(Math.min(MAX_TIMER_MS, at - performance.now()), this.#sweep);
  }

  readonly #sweep = (): void => {
    this.#cancel = undefined;
    this.#armedAt = Number.POSITIVE_INFINITY;
    const now = performance.now();
    let next = Number.POSITIVE_INFINITY;
    for (const entry of this.#entries) {
      // setTimeout may fire up to a millisecond early by performance.now().
      if (entry.expiresAt <= now + 1) {
        this.#entries.delete(entry);
        entry.expire();
      } else if (entry.expiresAt < next) {
        next = entry.expiresAt;
      }
    }
    if (next !== Number.POSITIVE_INFINITY) this.#arm(next);
  };
}

/** The body passed `maxBytes` (announced by content-length, or as it arrived): the request was ended. */
export class BodyTooLargeError extends Error {
  readonly statusCode: number;
  readonly limit: number;

  constructor(statusCode: number, limit: number) {
    super(`the response body exceeds ${limit} bytes`);
    this.name = 'BodyTooLargeError';
    this.statusCode = statusCode;
    this.limit = limit;
  }
}

// undici's legacy handler interface, which its core calls directly (the newer one is adapted to it).
class CollectingHandler implements Dispatcher.DispatchHandler, Expirable {
  readonly #resolve: (response: CollectedResponse) => void;
  readonly #reject: (error: unknown) => void;
  readonly #signal: AbortSignal | undefined;
  #abort: ((reason?: Error) => void) | undefined;
  #onAbort: (() => void) | undefined;
  #statusCode = 0;
  #headers: IncomingHttpHeaders = {};
  readonly #chunks: Buffer[] = [];
  readonly #maxBytes: number;
  #bytes = 0;
  readonly #watch: DeadlineWatch | undefined;
  readonly expiresAt: number;
  /** Why the exchange was ended before undici started it (abort or deadline while queued). */
  #ended: Error | undefined;

  constructor(
    resolve: (response: CollectedResponse) => void,
    reject: (error: unknown) => void,
    signal: AbortSignal | undefined,
    maxBytes: number,
    watch: DeadlineWatch | undefined,
    expiresAt: number,
  ) {
    this.#resolve = resolve;
    this.#reject = reject;
    this.#signal = signal;
    this.#maxBytes = maxBytes;
    this.expiresAt = expiresAt;
    if (signal && !signal.aborted) {
      this.#onAbort = () => this.#end(abortReason(signal));
      signal.addEventListener('abort', this.#onAbort, { once: true });
    }
    this.#watch = watch;
    watch?.add(this);
  }

  /** The watch's deadline came. */
  expire(): void {
    this.#end(new DeadlineExceededError(this.#statusCode));
  }

  /**
   * Ends the exchange with `reason`: through undici once it has started it (undici then calls onError
   * and closes the socket), at once while it still waits in the pool's queue (undici drops it on start).
   */
  #end(reason: Error): void {
    if (this.#abort) {
      this.#abort(reason);
      return;
    }
    this.#ended = reason;
    this.onError(reason);
  }

  onConnect(abort: (reason?: Error) => void): void {
    if (this.#ended) {
      abort(this.#ended);
      return;
    }
    if (this.#signal?.aborted) {
      abort(abortReason(this.#signal));
      return;
    }
    this.#abort = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[]): boolean {
    // 1xx informational answers precede the real one.
    if (statusCode < 200) return true;
    this.#statusCode = statusCode;
    this.#headers = util.parseHeaders(rawHeaders) as IncomingHttpHeaders;
    const announced = Number(this.#headers['content-length']);
    if (announced > this.#maxBytes) this.#tooLarge();
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.#bytes += chunk.length;
    if (this.#bytes > this.#maxBytes) {
      this.#tooLarge();
      return false;
    }
    this.#chunks.push(chunk);
    return true;
  }

  #tooLarge(): void {
    // undici then calls onError with this error; what arrived so far is dropped.
    this.#chunks.length = 0;
    this.#abort?.(new BodyTooLargeError(this.#statusCode, this.#maxBytes));
  }

  onComplete(): void {
    this.#done();
    this.#resolve({ statusCode: this.#statusCode, headers: this.#headers, chunks: this.#chunks });
  }

  onError(error: Error): void {
    this.#done();
    this.#reject(error);
  }

  #done(): void {
    if (this.#onAbort) this.#signal!.removeEventListener('abort', this.#onAbort);
    this.#onAbort = undefined;
    this.#watch?.delete(this);
  }
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new errors.RequestAbortedError();
}
