import type { Vendor } from './config.js';

export interface RecordedRequest {
  /** Sequence number within this sandbox (starts at 1, reset() restarts it). */
  seq: number;
  vendor: Vendor | 'unknown';
  method: string;
  /** Path without the query string, including the vendor prefix. */
  path: string;
  query: Record<string, string | string[]>;
  /** Lower-case names; credentials replaced by `***`. */
  headers: Record<string, string>;
  /** Parsed JSON, multipart fields (files as `{ filename, type, size }`), text, or undefined. */
  body: unknown;
  /** Clock time (epoch ms) when the request arrived. */
  timestamp: number;
  /** Set once the response is sent; absent for reset or hung connections. */
  status?: number;
  /** The chaos outcome applied, if any. */
  chaos?: string;
}

export interface RequestFilter {
  vendor?: Vendor;
  method?: string;
  /** Substring or pattern the path must match. */
  path?: string | RegExp;
}

/** The sandbox's record of what clients sent, for assertions in tests. */
export class RequestLog implements Iterable<RecordedRequest> {
  #entries: RecordedRequest[] = [];

  add(entry: RecordedRequest): void {
    this.#entries.push(entry);
  }

  get length(): number {
    return this.#entries.length;
  }

  all(): RecordedRequest[] {
    return [...this.#entries];
  }

  filter(filter: RequestFilter | Vendor = {}): RecordedRequest[] {
    const f: RequestFilter = typeof filter === 'string' ? { vendor: filter } : filter;
    return this.#entries.filter(
      (e) =>
        (f.vendor === undefined || e.vendor === f.vendor) &&
        (f.method === undefined || e.method === f.method.toUpperCase()) &&
        (f.path === undefined ||
          (typeof f.path === 'string' ? e.path.includes(f.path) : f.path.test(e.path))),
    );
  }

  last(filter: RequestFilter | Vendor = {}): RecordedRequest | undefined {
    return this.filter(filter).at(-1);
  }

  clear(): void {
    this.#entries = [];
  }

  [Symbol.iterator](): Iterator<RecordedRequest> {
    return this.#entries[Symbol.iterator]();
  }
}
