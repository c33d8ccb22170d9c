import type { IncomingHttpHeaders } from 'node:http';
import { type Dispatcher, errors, util } from 'undici';

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
 */
export function collectResponse(
  dispatcher: Dispatcher,
  options: Dispatcher.DispatchOptions,
  signal: AbortSignal | undefined,
  maxBytes = Number.POSITIVE_INFINITY,
): Promise<CollectedResponse> {
  return new Promise((resolve, reject) => {
    dispatcher.dispatch(options, new CollectingHandler(resolve, reject, signal, maxBytes));
  });
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

/** Chunks with the UTF-8 byte order mark skipped, decoded (what undici's `body.text()` does). */
export function utf8Text(chunks: readonly Buffer[]): string {
  const first = chunks[0];
  if (first === undefined) return '';
  const buffer = chunks.length === 1 ? first : Buffer.concat(chunks);
  const bom = buffer.length >= 3 && buffer[0] === 0xef && buffer[1] === 0xbb && buffer[2] === 0xbf;
  return buffer.toString('utf8', bom ? 3 : 0);
}

// undici's legacy handler interface, which its core calls directly (the newer one is adapted to it).
class CollectingHandler implements Dispatcher.DispatchHandler {
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

  constructor(
    resolve: (response: CollectedResponse) => void,
    reject: (error: unknown) => void,
    signal: AbortSignal | undefined,
    maxBytes: number,
  ) {
    this.#resolve = resolve;
    this.#reject = reject;
    this.#signal = signal;
    this.#maxBytes = maxBytes;
    if (signal && !signal.aborted) {
      this.#onAbort = () => this.#abort?.(abortReason(signal));
      signal.addEventListener('abort', this.#onAbort, { once: true });
    }
  }

  onConnect(abort: (reason?: Error) => void): void {
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
  }
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new errors.RequestAbortedError();
}
