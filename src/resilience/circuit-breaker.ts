import type { Cluster, Redis } from 'ioredis';
import { type Clock, OpusError, systemClock } from '../core/index.js';
import { CircuitOpenError } from './errors.js';

export const CircuitState = { Closed: 'CLOSED', Open: 'OPEN', HalfOpen: 'HALF_OPEN' } as const;
export type CircuitState = (typeof CircuitState)[keyof typeof CircuitState];

/** Where breakers of several processes agree that a service is down. */
export interface BreakerStateStore {
  /** Records that `name` is open until `untilMs` (epoch ms). */
  open(name: string, untilMs: number, now: number): Promise<void>;
  /** Epoch ms until which another process holds `name` open, or undefined. */
  openUntil(name: string, now: number): Promise<number | undefined>;
  reset(name: string): Promise<void>;
}

/**
 * Shared breaker state in Redis: one key per service, expiring when the open period ends. Each command
 * touches one key, so a Redis Cluster works as it is.
 */
export class RedisBreakerStore implements BreakerStateStore {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly prefix = 'opusclip:breaker',
  ) {}

  async open(name: string, untilMs: number, now: number): Promise<void> {
    const ms = Math.ceil(untilMs - now);
    if (ms > 0) await this.redis.set(`${this.prefix}:${name}`, String(untilMs), 'PX', ms);
  }

  async openUntil(name: string, now: number): Promise<number | undefined> {
    const value = await this.redis.get(`${this.prefix}:${name}`);
    const until = value === null ? Number.NaN : Number(value);
    return Number.isFinite(until) && until > now ? until : undefined;
  }

  async reset(name: string): Promise<void> {
    await this.redis.del(`${this.prefix}:${name}`);
  }
}

export interface CircuitBreakerOptions {
  /** Service name: error messages, metrics and the shared-state key. */
  name?: string;
  /** `consecutive`: open after `failureThreshold` failures in a row; `ratio`: on a failure ratio. */
  mode?: 'consecutive' | 'ratio';
  failureThreshold?: number;
  /** Ratio mode: open when failures / calls >= threshold over `windowMs`, once `minimumCalls` were seen. */
  ratioThreshold?: number;
  minimumCalls?: number;
  windowMs?: number;
  /** How long the circuit stays open before letting probes through. */
  halfOpenAfterMs?: number;
  /** Calls let through while half-open; never more run at once. */
  halfOpenProbes?: number;
  clock?: Clock;
  store?: BreakerStateStore;
  /** How often (ms) a closed breaker asks the store whether another process opened it; 0 = every call. */
  syncIntervalMs?: number;
  /**
   * Which errors count as failures. Default: a transient OpusError (the dependency is struggling) and
   * anything that is not an OpusError; a permanent OpusError (bad input, a 404, an abort) means the
   * dependency answered, and counts as a success.
   */
  isFailure?: (error: unknown) => boolean;
}

export interface BreakerPermit {
  success(): void;
  failure(error?: unknown): void;
  /** Neither: the call was abandoned (e.g. aborted by its caller) and says nothing about the service. */
  release(): void;
}

type Listener<T> = (event: T) => void;
interface ListenerMap {
  break: Listener<{ until: number }>;
  halfOpen: Listener<void>;
  reset: Listener<void>;
  stateChange: Listener<CircuitState>;
}

const RATIO_BUCKETS = 10;

/** One call's ticket; a class rather than closures because it is created on every request. */
class Permit implements BreakerPermit {
  #done = false;

  constructor(
    private readonly breaker: CircuitBreaker,
    private readonly probe: boolean,
  ) {}

  success(): void {
    if (this.#done) return;
    this.#done = true;
    this.breaker.settlePermit(this.probe, 'success');
  }

  failure(error?: unknown): void {
    if (this.#done) return;
    this.#done = true;
    this.breaker.settlePermit(this.probe, 'failure', error);
  }

  release(): void {
    if (this.#done) return;
    this.#done = true;
    this.breaker.settlePermit(this.probe, 'release');
  }
}

/**
 * CLOSED → OPEN → HALF_OPEN → CLOSED, with both consecutive-failure and failure-ratio
 * modes. Hand-written rather than cockatiel's: the breaker must run on an injected Clock, expose
 * acquire/release permits to the HTTP client and share its open state through Redis.
 */
export class CircuitBreaker {
  readonly name: string;
  readonly #mode: 'consecutive' | 'ratio';
  readonly #threshold: number;
  readonly #ratio: number;
  readonly #minimumCalls: number;
  readonly #bucketMs: number;
  readonly #halfOpenAfter: number;
  readonly #probes: number;
  readonly #clock: Clock;
  readonly #store: BreakerStateStore | undefined;
  readonly #syncInterval: number;
  readonly #isFailure: (error: unknown) => boolean;

  #state: CircuitState = CircuitState.Closed;
  #consecutive = 0;
  #openedUntil = 0;
  #probesInFlight = 0;
  #lastSync = Number.NEGATIVE_INFINITY;
  #buckets = Array.from({ length: RATIO_BUCKETS }, () => ({ start: 0, calls: 0, failures: 0 }));
  #listeners: { [K in keyof ListenerMap]: Array<ListenerMap[K]> } = {
    break: [],
    halfOpen: [],
    reset: [],
    stateChange: [],
  };
  /** Number of state changes since creation (metrics). */
  transitions = 0;

  /** An options object, or the short form `new CircuitBreaker(failureThreshold, halfOpenAfterMs)`. */
  constructor(failureThresholdOrOptions: number | CircuitBreakerOptions = {}, halfOpenAfterMs?: number) {
    const o: CircuitBreakerOptions =
      typeof failureThresholdOrOptions === 'number'
        ? {
            failureThreshold: failureThresholdOrOptions,
            ...(halfOpenAfterMs === undefined ? {} : { halfOpenAfterMs }),
          }
        : failureThresholdOrOptions;
    this.name = o.name ?? 'default';
    this.#mode = o.mode ?? 'consecutive';
    this.#threshold = o.failureThreshold ?? 5;
    this.#ratio = o.ratioThreshold ?? 0.5;
    this.#minimumCalls = o.minimumCalls ?? 20;
    this.#bucketMs = Math.max(1, Math.ceil((o.windowMs ?? 30_000) / RATIO_BUCKETS));
    this.#halfOpenAfter = o.halfOpenAfterMs ?? 60_000;
    this.#probes = Math.max(1, o.halfOpenProbes ?? 1);
    this.#clock = o.clock ?? systemClock;
    this.#store = o.store;
    this.#syncInterval = o.syncIntervalMs ?? 1000;
    this.#isFailure = o.isFailure ?? countsAsFailure;
  }

  /** The state as of now (an expired OPEN reads as HALF_OPEN). */
  get state(): CircuitState {
    if (this.#state === CircuitState.Open && this.#clock.now() >= this.#openedUntil)
      return CircuitState.HalfOpen;
    return this.#state;
  }

  onBreak(listener: Listener<{ until: number }>): () => void {
    return this.#on('break', listener);
  }
  onHalfOpen(listener: Listener<void>): () => void {
    return this.#on('halfOpen', listener);
  }
  onReset(listener: Listener<void>): () => void {
    return this.#on('reset', listener);
  }
  onStateChange(listener: Listener<CircuitState>): () => void {
    return this.#on('stateChange', listener);
  }

  /** Runs `fn` if the circuit lets it, recording its outcome. */
  async execute<T>(fn: () => Promise<T>): Promise<T> {
    const permit = await this.acquire();
    try {
      const value = await fn();
      permit.success();
      return value;
    } catch (error) {
      permit.failure(error);
      throw error;
    }
  }

  /** Asks to make one call: a permit to report its outcome on, or CircuitOpenError without calling. */
  acquire(): BreakerPermit | Promise<BreakerPermit> {
    // Closed and local: nothing here depends on the time (a clock read per call showed in profiles).
    if (this.#state === CircuitState.Closed && !this.#store) return this.#permit(false);
    const now = this.#clock.now();
    if (this.#store && this.#state === CircuitState.Closed && now - this.#lastSync >= this.#syncInterval) {
      this.#lastSync = now;
      return this.#store.openUntil(this.name, now).then(
        (until) => {
          if (until !== undefined && this.#state === CircuitState.Closed) this.#open(until, false);
          return this.#acquireLocal(this.#clock.now());
        },
        // An unreachable store must not take the service down with it: decide locally.
        () => this.#acquireLocal(this.#clock.now()),
      );
    }
    return this.#acquireLocal(now);
  }

  /** Forces the circuit closed (operator action, tests). */
  reset(): void {
    this.#consecutive = 0;
    for (const b of this.#buckets) b.calls = b.failures = 0;
    if (this.#state !== CircuitState.Closed) this.#transition(CircuitState.Closed);
    void this.#store?.reset(this.name).catch(() => {});
  }

  #acquireLocal(now: number): BreakerPermit {
    if (this.#state === CircuitState.Open) {
      if (now < this.#openedUntil) throw this.#openError();
      this.#transition(CircuitState.HalfOpen);
    }
    if (this.#state === CircuitState.HalfOpen) {
      if (this.#probesInFlight >= this.#probes) throw this.#openError();
      this.#probesInFlight++;
      return this.#permit(true);
    }
    return this.#permit(false);
  }

  #permit(probe: boolean): BreakerPermit {
    return new Permit(this, probe);
  }

  /** @internal called by Permit */
  settlePermit(probe: boolean, outcome: 'success' | 'failure' | 'release', error?: unknown): void {
    if (probe) this.#probesInFlight--;
    if (outcome === 'success') this.#onSuccess(probe);
    else if (outcome === 'failure') {
      if (error !== undefined && !this.#isFailure(error)) this.#onSuccess(probe);
      else this.#onFailure(probe);
    }
  }

  #onSuccess(probe: boolean): void {
    this.#consecutive = 0;
    if (this.#mode === 'ratio') this.#bucket().calls++;
    if (probe && this.#state === CircuitState.HalfOpen) {
      for (const b of this.#buckets) b.calls = b.failures = 0;
      this.#transition(CircuitState.Closed);
      void this.#store?.reset(this.name).catch(() => {});
    }
  }

  #onFailure(probe: boolean): void {
    const now = this.#clock.now();
    if (probe || this.#state === CircuitState.HalfOpen) {
      this.#open(now + this.#halfOpenAfter, true);
      return;
    }
    if (this.#state !== CircuitState.Closed) return;
    this.#consecutive++;
    if (this.#mode === 'consecutive') {
      if (this.#consecutive >= this.#threshold) this.#open(now + this.#halfOpenAfter, true);
      return;
    }
    const bucket = this.#bucket();
    bucket.calls++;
    bucket.failures++;
    let calls = 0;
    let failures = 0;
    for (const b of this.#buckets) {
      if (b.start > now - this.#bucketMs * RATIO_BUCKETS) {
        calls += b.calls;
        failures += b.failures;
      }
    }
    if (calls >= this.#minimumCalls && failures / calls >= this.#ratio)
      this.#open(now + this.#halfOpenAfter, true);
  }

  #bucket(): { start: number; calls: number; failures: number } {
    const now = this.#clock.now();
    const start = now - (now % this.#bucketMs);
    const b = this.#buckets[Math.floor(start / this.#bucketMs) % RATIO_BUCKETS]!;
    if (b.start !== start) {
      b.start = start;
      b.calls = 0;
      b.failures = 0;
    }
    return b;
  }

  #open(until: number, publish: boolean): void {
    this.#openedUntil = until;
    this.#consecutive = 0;
    this.#transition(CircuitState.Open);
    for (const l of this.#listeners.break) l({ until });
    if (publish) void this.#store?.open(this.name, until, this.#clock.now()).catch(() => {});
  }

  #transition(next: CircuitState): void {
    if (this.#state === next) return;
    this.#state = next;
    this.transitions++;
    if (next === CircuitState.HalfOpen) for (const l of this.#listeners.halfOpen) l();
    if (next === CircuitState.Closed) for (const l of this.#listeners.reset) l();
    for (const l of this.#listeners.stateChange) l(next);
  }

  #openError(): CircuitOpenError {
    return new CircuitOpenError(`Circuit for ${this.name} is open`, {
      retryAt: this.#openedUntil,
      details: { service: this.name, state: this.#state },
    });
  }

  #on<K extends keyof ListenerMap>(kind: K, listener: ListenerMap[K]): () => void {
    const list = this.#listeners[kind];
    list.push(listener);
    return () => {
      const at = list.indexOf(listener);
      if (at >= 0) list.splice(at, 1);
    };
  }
}

function countsAsFailure(error: unknown): boolean {
  return !(error instanceof OpusError) || error.transient;
}
