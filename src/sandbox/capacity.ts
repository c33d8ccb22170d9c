import type { CapacityConfig, Vendor } from './config.js';
import { openaiError } from './openai-routes.js';
import { googleError } from './youtube-routes.js';

/** One vendor's workers: how many requests they serve now and who waits for one. */
interface Workers {
  busy: number;
  waiting: Array<() => void>;
}

/** What a vendor's backend does with one request under `sandbox.config.capacity`. */
export type Admission =
  /** Served now or after its wait in the queue: call `release` once, when its answer is done. */
  | { outcome: 'admitted'; release: () => void }
  /** Refused for load: no worker and the queue full. */
  | { outcome: 'refused' }
  /** The client went away while the request waited in the queue. */
  | { outcome: 'gone' };

/**
 * The emulated backends' workers, one set per vendor, sized from the live config on every request so
 * that a test can change `capacity` at runtime. A request takes a worker if one is free, else waits in
 * order while the queue has room, else is refused; it keeps its worker until its answer is sent.
 */
export class CapacityGate {
  readonly #live: () => CapacityConfig;
  readonly #workers = new Map<Vendor, Workers>();

  /** `live` gives the current section of the config: read on every request, it may be replaced. */
  constructor(live: () => CapacityConfig) {
    this.#live = live;
  }

  /** Whether requests to `vendor` are limited under the current config. */
  limits(vendor: Vendor | 'unknown'): vendor is Vendor {
    const c = this.#live();
    return vendor !== 'unknown' && c.concurrent > 0 && (c.vendors.length === 0 || c.vendors.includes(vendor));
  }

  /**
   * Admits a request to `vendor` (which `limits`): a worker at once, a place in the queue (the promise
   * resolves when a worker frees up), or a refusal. `onClose` registers what to do when the client
   * goes away: a request still waiting leaves the queue then.
   */
  admit(vendor: Vendor, onClose: (leave: () => void) => void): Admission | Promise<Admission> {
    const workers = this.#of(vendor);
    if (workers.busy < this.#live().concurrent && workers.waiting.length === 0) {
      workers.busy++;
      return { outcome: 'admitted', release: this.#releaser(vendor) };
    }
    if (workers.waiting.length >= this.#live().queue) return { outcome: 'refused' };
    return new Promise<Admission>((resolve) => {
      const take = (): void => resolve({ outcome: 'admitted', release: this.#releaser(vendor) });
      workers.waiting.push(take);
      onClose(() => {
        const i = workers.waiting.indexOf(take);
        if (i < 0) return;
        workers.waiting.splice(i, 1);
        resolve({ outcome: 'gone' });
      });
    });
  }

  /** Requests served and waiting per vendor, for tests and benchmarks. */
  stats(): Partial<Record<Vendor, { busy: number; waiting: number }>> {
    const out: Partial<Record<Vendor, { busy: number; waiting: number }>> = {};
    for (const [vendor, w] of this.#workers) out[vendor] = { busy: w.busy, waiting: w.waiting.length };
    return out;
  }

  #of(vendor: Vendor): Workers {
    let workers = this.#workers.get(vendor);
    if (!workers) {
      workers = { busy: 0, waiting: [] };
      this.#workers.set(vendor, workers);
    }
    return workers;
  }

  #releaser(vendor: Vendor): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const workers = this.#of(vendor);
      workers.busy--;
      // Hands freed workers to those waiting; a `concurrent` raised at runtime frees several at once.
      while (workers.waiting.length > 0 && workers.busy < this.#live().concurrent) {
        workers.busy++;
        workers.waiting.shift()!();
      }
    };
  }
}

/** A refusal for load in the vendor's own error shape (its wording under overload). */
export function overloadedBody(vendor: Vendor, status: 429 | 503, requestId: string): unknown {
  const busy = status === 503;
  switch (vendor) {
    case 'openai':
      return busy
        ? openaiError('The server is overloaded or not ready yet.', 'server_error', null)
        : openaiError(
            'The engine is currently overloaded, please try again later.',
            'requests',
            'rate_limit_exceeded',
          );
    case 'youtube':
      return googleError(
        status,
        busy ? 'backendError' : 'rateLimitExceeded',
        busy ? 'The service is currently unavailable.' : 'The request cannot be completed right now.',
      );
    case 'stability':
      return {
        id: requestId,
        name: busy ? 'service_unavailable' : 'rate_limit_exceeded',
        errors: ['The service is overloaded; please try again later.'],
      };
    case 'elevenlabs':
      return {
        detail: {
          status: 'system_busy',
          message: 'We are experiencing a high volume of requests. Please try again later.',
        },
      };
  }
}
