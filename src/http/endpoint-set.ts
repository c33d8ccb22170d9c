import type { Dispatcher } from 'undici';
import { type AdaptiveConcurrency, type CircuitBreaker, CircuitState } from '../resilience/index.js';
import type { EndpointStrategy } from './endpoint-strategy.js';
import type { RequestTarget } from './prepare-request.js';

/** One base URL of a service: its own pool and breaker, and the `origin` label of its metrics. */
export interface Endpoint {
  readonly index: number;
  /** The base URL's origin (no credentials, no path), `#<n>` added when two base URLs share it. */
  readonly label: string;
  readonly target: RequestTarget;
  readonly dispatcher: Dispatcher;
  readonly breaker: CircuitBreaker | undefined;
  /** The endpoint's adaptive concurrency limit (`adaptiveConcurrency`), if any. */
  readonly limit: AdaptiveConcurrency | undefined;
}

/** Metric labels of base URLs: their origins, made unique. */
export function endpointLabels(targets: readonly RequestTarget[]): string[] {
  const seen = new Map<string, number>();
  return targets.map((t) => {
    const n = seen.get(t.origin) ?? 0;
    seen.set(t.origin, n + 1);
    return n === 0 ? t.origin : `${t.origin}#${n}`;
  });
}

/**
 * The order in which a client tries its endpoints for one attempt. `primary-first`: the list's order;
 * `balanced`: round robin, each call starting one further. Endpoints whose breaker is open go last (they
 * are still tried, so that when every one is open the call fails with the breaker's own refusal and
 * `retryAt`), and so does `avoid` (where the previous attempt of the call failed), so that a retry goes
 * elsewhere when there is somewhere else to go.
 */
export class EndpointSet {
  readonly all: readonly Endpoint[];
  readonly #strategy: EndpointStrategy;
  #next = 0;

  constructor(endpoints: readonly Endpoint[], strategy: EndpointStrategy) {
    this.all = endpoints;
    this.#strategy = strategy;
  }

  order(avoid: Endpoint | undefined): Endpoint[] {
    const n = this.all.length;
    const start = this.#strategy === 'balanced' ? this.#next++ % n : 0;
    if (this.#next >= n) this.#next = 0;
    const ready: Endpoint[] = [];
    const later: Endpoint[] = [];
    for (let i = 0; i < n; i++) {
      const e = this.all[(start + i) % n]!;
      if (e === avoid || e.breaker?.state === CircuitState.Open) later.push(e);
      else ready.push(e);
    }
    // The endpoint that just failed comes before the open ones, unless it is open itself.
    later.sort((a, b) => rank(a, avoid) - rank(b, avoid));
    return ready.concat(later);
  }
}

function rank(e: Endpoint, avoid: Endpoint | undefined): number {
  const open = e.breaker?.state === CircuitState.Open;
  if (open) return 2;
  return e === avoid ? 1 : 0;
}
