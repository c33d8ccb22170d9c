import { ConfigError } from '../core/index.js';

/** How a client with several base URLs spreads its calls over them. */
export type EndpointStrategy = 'primary-first' | 'balanced';

/** Where an `endpointBreaker` factory's breaker is for. */
export interface EndpointInfo {
  readonly index: number;
  /** The base URL as configured (it may hold a secret: do not log it). */
  readonly url: string;
  /** The metrics label: the base URL's origin, `#<n>` added when two base URLs share it. */
  readonly origin: string;
}

/** Throws ConfigError unless `strategy` is one of the two. */
export function checkStrategy(service: string, strategy: string): EndpointStrategy {
  if (strategy === 'primary-first' || strategy === 'balanced') return strategy;
  throw new ConfigError(
    `HttpClient ${service}: endpointStrategy must be 'primary-first' or 'balanced', not ${strategy}`,
  );
}
