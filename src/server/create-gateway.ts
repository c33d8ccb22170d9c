import { type Dispatcher, Pool } from 'undici';
import { type Clock, type Logger, silentLogger, systemClock } from '../core/index.js';
import { type CachedResponse, HttpClient, MemoryResponseCache, type ResponseCache } from '../http/index.js';
import { type AdaptiveConcurrencyOptions, Budget, CircuitBreaker } from '../resilience/index.js';
import { type GatewayStreamTarget, gatewayStreamTarget } from './gateway-stream.js';
import {
  GATEWAY_ROOT_URLS,
  type GatewayVendorName,
  VENDOR_RULES,
  type VendorRules,
} from './gateway-vendors.js';

/** One provider account behind the gateway. */
export interface GatewayVendorConfig {
  /** The real key of the account; only the gateway holds it. */
  apiKey: string;
  /** The API's root (default: the real API's, `GATEWAY_ROOT_URLS`); a sandbox's via `gatewaySandboxRoots`. */
  baseUrl?: string;
  /** YouTube: an OAuth access token sent as `Authorization: Bearer` too (captions need one). */
  oauthToken?: string;
  /**
   * The account's budget in the provider's units. Pass the one the workers use (`sharedBudgets(redis)`)
   * so every process draws from one account; default: an in-memory one with the vendor's usual limits.
   */
  budget?: Budget;
  /**
   * Stability: the credits the account may spend per UTC month, a `credits` window of the default budget
   * (default: counted, not limited). A given `budget` charges credits to its own `credits` window if it
   * has one.
   */
  creditsPerMonth?: number;
  /** Default: a breaker of its own (consecutive failures); false for none. */
  breaker?: CircuitBreaker | false;
}

export interface GatewayOptions {
  vendors: Partial<Record<GatewayVendorName, GatewayVendorConfig>>;
  /** Requests per minute each caller (service key) may make through the gateway; 0 = no limit (default 600). */
  callerRequestsPerMinute?: number;
  /** Response cache of cacheable GETs (YouTube lists, ElevenLabs voices); default in-memory, 1000 entries. */
  cache?: ResponseCache<CachedResponse>;
  /** How long a cacheable GET is served from the cache (default 60 000 ms). */
  cacheTtlMs?: number;
  /** Deadline of a forwarded call, retries and budget waits included (default 120 000 ms). */
  deadlineMs?: number;
  /** Retries of a transient failure of a replayable call (GET, or a POST with Idempotency-Key); default 2. */
  maxRetries?: number;
  /** Largest request body a caller may send (default 25 MiB: audio and image uploads). */
  bodyLimit?: number;
  /** Connections to each vendor (default 100). */
  maxConnections?: number;
  /**
   * An adaptive concurrency limit per vendor origin (docs/http.md, "Adaptive concurrency"): the default
   * starts at `maxConnections` with the gradient algorithm, so it holds calls back only when the vendor's
   * latency rises or it refuses for load; `false` leaves the connection count as the only limit.
   */
  adaptiveConcurrency?: boolean | AdaptiveConcurrencyOptions;
  logger?: Logger;
  clock?: Clock;
  /** Replaces each vendor's connection pool (tests). */
  dispatcher?: Dispatcher;
}

/** One vendor as the gateway routes use it. */
export interface GatewayVendor {
  readonly rules: VendorRules;
  readonly http: HttpClient;
  /** The account's budget (the one the client charges): the gateway reserves Stability credits on it. */
  readonly budget: Budget;
  /** Where streamed answers come from (vendors whose rules stream some calls). */
  readonly stream: GatewayStreamTarget | undefined;
  /** The literal secrets of the account, blanked out of anything the gateway answers or logs. */
  readonly secrets: readonly string[];
}

export interface Gateway {
  readonly vendors: ReadonlyMap<GatewayVendorName, GatewayVendor>;
  readonly callerRequestsPerMinute: number;
  readonly bodyLimit: number;
  readonly deadlineMs: number;
  readonly clock: Clock;
  close(): Promise<void>;
}

/**
 * The vendor clients of the gateway: one HttpClient per configured account, with its budget (in the
 * provider's units, actual costs read from the answers), breaker, retries and the response cache.
 */
export function createGateway(options: GatewayOptions): Gateway {
  const clock = options.clock ?? systemClock;
  const cache = options.cache ?? new MemoryResponseCache<CachedResponse>({ max: 1000 });
  const vendors = new Map<GatewayVendorName, GatewayVendor>();
  const streamPools: Pool[] = [];
  for (const [name, config] of Object.entries(options.vendors) as Array<
    [GatewayVendorName, GatewayVendorConfig]
  >) {
    if (!config) continue;
    const rules = VENDOR_RULES[name];
    const budget =
      config.budget ??
      new Budget({
        name: `gateway-${name}`,
        windows: rules.defaultWindows({ creditsPerMonth: config.creditsPerMonth }),
        clock,
      });
    const breaker =
      config.breaker === false
        ? undefined
        : (config.breaker ?? new CircuitBreaker({ name: `gateway-${name}`, clock }));
    const http = new HttpClient({
      service: `gateway-${name}`,
      baseUrl: config.baseUrl ?? GATEWAY_ROOT_URLS[name],
      auth: rules.auth(config.apiKey),
      ...(config.oauthToken ? { headers: { authorization: `Bearer ${config.oauthToken}` } } : {}),
      budget,
      ...(breaker ? { breaker } : {}),
      cache,
      cacheTtlMs: options.cacheTtlMs ?? 60_000,
      deadlineMs: options.deadlineMs ?? 120_000,
      maxRetries: options.maxRetries ?? 2,
      maxConnections: options.maxConnections ?? 100,
      adaptiveConcurrency: options.adaptiveConcurrency ?? { initialLimit: options.maxConnections ?? 100 },
      costOf: (method, operation) => rules.cost(method, operation, undefined),
      ...(rules.actualCost ? { actualCost: rules.actualCost } : {}),
      classifyError: rules.classifyError,
      logger: options.logger ?? silentLogger,
      clock,
      ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
    });
    const baseUrl = config.baseUrl ?? GATEWAY_ROOT_URLS[name];
    let stream: GatewayStreamTarget | undefined;
    if (rules.streams) {
      const dispatcher =
        options.dispatcher ??
        new Pool(new URL(baseUrl).origin, { connections: options.maxConnections ?? 100 });
      if (dispatcher instanceof Pool) streamPools.push(dispatcher);
      stream = gatewayStreamTarget(
        baseUrl,
        rules.auth(config.apiKey),
        dispatcher,
        breaker,
        options.deadlineMs ?? 120_000,
      );
    }
    vendors.set(name, {
      rules,
      http,
      budget,
      stream,
      secrets: [config.apiKey, ...(config.oauthToken ? [config.oauthToken] : [])],
    });
  }
  return {
    vendors,
    callerRequestsPerMinute: options.callerRequestsPerMinute ?? 600,
    bodyLimit: options.bodyLimit ?? 25 * 1024 * 1024,
    deadlineMs: options.deadlineMs ?? 120_000,
    clock,
    async close() {
      await Promise.all([...vendors.values()].map((v) => v.http.close()));
      await Promise.all(streamPools.map((pool) => pool.close()));
    },
  };
}
