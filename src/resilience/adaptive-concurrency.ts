import { abortReason, type Clock, InvalidArgumentError, systemClock } from '../core/index.js';
import { ConcurrencyLimitedError } from './errors.js';
import { gradientStep } from './gradient-step.js';

/** How the limit reads latency: against its long mean (`gradient`) or against the lowest seen (`vegas`). */
export type AdaptiveAlgorithm = 'gradient' | 'vegas';

export interface AdaptiveConcurrencyOptions {
  /** Shown in errors and metrics. */
  name?: string;
  /**
   * `gradient` (default): Netflix's Gradient2, the window's mean latency against its own long-run mean,
   * so a latency that merely spreads does not hold the limit down. `vegas`: against the lowest latency
   * seen, re-measured by a probe every `probeIntervalMs`.
   */
  algorithm?: AdaptiveAlgorithm;
  /** The limit before any measurement (default 20). */
  initialLimit?: number;
  /** Never below this (default 1). */
  minLimit?: number;
  /** Never above this (default 200). */
  maxLimit?: number;
  /** The limit's factor after a call the dependency refused for load (a 429, a 503, a timeout); default 0.9. */
  backoffRatio?: number;
  /**
   * How often the no-load latency is measured afresh (ms, default 10,000): for a few calls the limit
   * drops to a quarter, so the dependency's queue drains and its latency without one shows; a
   * dependency that became slower for good is then not read as queueing for ever. Vegas only.
   */
  probeIntervalMs?: number;
  clock?: Clock;
}

export interface AcquireOptions {
  signal?: AbortSignal;
  /** Epoch ms on the limit's clock: a caller still waiting then rejects with ERR_CONCURRENCY_LIMITED. */
  deadlineAt?: number;
}

/** One call's permission to run; say how it went exactly once. */
export interface ConcurrencyPermit {
  /** The call completed (any answer that is not a refusal for load); `latencyMs` is its duration. */
  success(latencyMs: number): void;
  /** The dependency refused the call for load (429, 503, timeout): the limit backs off. */
  dropped(): void;
  /** The call says nothing about the dependency's load (cancelled by the caller, a bad request). */
  ignore(): void;
}

export interface AdaptiveConcurrencyStats {
  algorithm: AdaptiveAlgorithm;
  limit: number;
  inFlight: number;
  waiting: number;
  /** Callers that had to wait for a permit, since creation. */
  waited: number;
  /**
   * The dependency's latency without a queue (ms; 0 before any call): the lowest since the last probe
   * (Vegas), the lowest seen (gradient, where it only sets a window's least duration).
   */
  noLoadLatencyMs: number;
  /** Whether a probe (the limit at a quarter for a few calls) is under way (Vegas). */
  probing: boolean;
  /** Gradient: the long-run mean latency the window's latency is compared with (ms; 0 under Vegas). */
  longLatencyMs: number;
}

interface Waiter {
  resolve(permit: ConcurrencyPermit): void;
  reject(error: unknown): void;
  cancelTimer?: () => void;
  detach?: () => void;
}

/**
 * A concurrency limit that finds its own value, after Netflix's concurrency-limits. With `gradient`
 * (gradient-step.ts) each window's mean latency is compared with its long-run mean: the limit grows while
 * the latency stays within 1.5× of it and shrinks as it rises past. With `vegas`, described next, it is
 * compared with the lowest latency seen (the dependency with no queue), which estimates how many of the
 * calls in flight are queued at the dependency: `limit × (1 − noLoad / latency)`. Fewer than α
 * (3·log₁₀ limit) queued: the limit grows; more than β (6·log₁₀ limit): it shrinks. With either, a
 * refusal for load (429, 503, timeout) multiplies it by `backoffRatio`. So the limit settles where the
 * dependency is busy but its queue short: more concurrency would only add latency. It does not grow while fewer
 * than half the permits are in use, so an idle period does not inflate it. Callers over the limit wait
 * in order.
 */
export class AdaptiveConcurrency {
  readonly name: string;
  readonly algorithm: AdaptiveAlgorithm;
  readonly #clock: Clock;
  readonly #min: number;
  readonly #max: number;
  readonly #backoff: number;
  readonly #probeIntervalMs: number;
  #limit: number;
  #inFlight = 0;
  #waited = 0;
  #noLoad = 0;
  #longLatency = 0;
  #longWindows = 0;
  #nextProbeAt: number;
  /** While probing: the calls granted since it began (those report latency without a queue). */
  #probe: { epoch: number; granted: number; answered: number; lowest: number } | undefined;
  #epoch = 0;
  /** The calls completed since the limit last changed: it changes once per window, not per call. */
  readonly #window = { calls: 0, latencySum: 0, maxInFlight: 0, dropped: false, startedAt: 0 };
  readonly #queue: Waiter[] = [];

  constructor(options: AdaptiveConcurrencyOptions = {}) {
    this.name = options.name ?? 'adaptive';
    this.#clock = options.clock ?? systemClock;
    const algorithm = options.algorithm ?? DEFAULT_ALGORITHM;
    if (algorithm !== 'gradient' && algorithm !== 'vegas') {
      throw new InvalidArgumentError('AdaptiveConcurrency: `algorithm` must be "gradient" or "vegas"');
    }
    this.algorithm = algorithm;
    this.#min = positive(options.minLimit ?? 1, 'minLimit');
    this.#max = positive(options.maxLimit ?? 200, 'maxLimit');
    if (this.#max < this.#min) throw new InvalidArgumentError(`${this.name}: maxLimit is below minLimit`);
    const initial = positive(options.initialLimit ?? Math.min(20, this.#max), 'initialLimit');
    this.#limit = Math.min(this.#max, Math.max(this.#min, initial));
    this.#backoff = fraction(options.backoffRatio ?? 0.9, 'backoffRatio');
    this.#probeIntervalMs = positive(options.probeIntervalMs ?? 10_000, 'probeIntervalMs');
    this.#nextProbeAt = this.#clock.now() + this.#probeIntervalMs;
  }

  /** The current limit (whole permits). */
  get limit(): number {
    return Math.floor(this.#limit);
  }

  /** Permits granted now: the limit, or a quarter of it while probing. */
  get #room(): number {
    const limit = Math.floor(this.#limit);
    return this.#probe === undefined ? limit : Math.max(Math.floor(this.#min), Math.ceil(limit / 4));
  }

  stats(): AdaptiveConcurrencyStats {
    return {
      algorithm: this.algorithm,
      limit: this.limit,
      inFlight: this.#inFlight,
      waiting: this.#queue.length,
      waited: this.#waited,
      noLoadLatencyMs: this.#noLoad,
      probing: this.#probe !== undefined,
      longLatencyMs: this.#longLatency,
    };
  }

  /** A permit at once while under the limit; otherwise waits in order for one. */
  acquire(options: AcquireOptions = {}): Promise<ConcurrencyPermit> {
    const { signal, deadlineAt } = options;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (this.#queue.length === 0 && this.#inFlight < this.#room) return Promise.resolve(this.#grant());
    this.#waited++;
    return new Promise<ConcurrencyPermit>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject };
      const leave = (error: unknown): void => {
        const i = this.#queue.indexOf(waiter);
        if (i < 0) return;
        this.#queue.splice(i, 1);
        waiter.cancelTimer?.();
        waiter.detach?.();
        reject(error);
      };
      if (deadlineAt !== undefined) {
        waiter.cancelTimer = this.#clock.setTimer(deadlineAt - this.#clock.now(), () =>
          leave(
            new ConcurrencyLimitedError(
              `${this.name}: no permit before the deadline (${this.limit} in use, ${this.#queue.length} waiting)`,
              { details: { limit: this.limit } },
            ),
          ),
        );
      }
      if (signal !== undefined) {
        const onAbort = (): void => leave(abortReason(signal));
        signal.addEventListener('abort', onAbort, { once: true });
        waiter.detach = () => signal.removeEventListener('abort', onAbort);
      }
      this.#queue.push(waiter);
    });
  }

  #grant(): ConcurrencyPermit {
    this.#inFlight++;
    const inFlightAtStart = this.#inFlight;
    const probe = this.#probe;
    const epoch = this.#epoch;
    if (probe !== undefined) probe.granted++;
    let done = false;
    const finish = (update: () => void): void => {
      if (done) return;
      done = true;
      update();
      this.#inFlight--;
      this.#admit();
    };
    return {
      success: (latencyMs) =>
        finish(() => {
          if (probe !== undefined && probe === this.#probe && epoch === probe.epoch) this.#probed(latencyMs);
          else this.#record(latencyMs, inFlightAtStart, false);
        }),
      dropped: () => finish(() => this.#record(0, inFlightAtStart, true)),
      ignore: () => finish(() => {}),
    };
  }

  /**
   * Adds one call to the window; the limit moves once the window holds at least WINDOW_CALLS calls and
   * has lasted one no-load latency (about one round trip), so it answers to what its last change did
   * rather than to calls started before it.
   */
  #record(latencyMs: number, inFlight: number, dropped: boolean): void {
    const w = this.#window;
    const now = this.#clock.now();
    if (w.calls === 0) w.startedAt = now;
    if (dropped) w.dropped = true;
    else if (latencyMs > 0 && Number.isFinite(latencyMs)) {
      if (this.#noLoad === 0 || latencyMs < this.#noLoad) this.#noLoad = latencyMs;
      w.latencySum += latencyMs;
    } else return;
    w.calls++;
    if (inFlight > w.maxInFlight) w.maxInFlight = inFlight;
    if (w.calls < WINDOW_CALLS || now - w.startedAt < this.#noLoad) return;
    if (this.#probe !== undefined) return; // the calls from before the probe say nothing now
    const measured = w.calls - (w.dropped ? 1 : 0);
    const latency = measured > 0 ? w.latencySum / measured : 0;
    const maxInFlight = w.maxInFlight;
    const wasDropped = w.dropped;
    w.calls = 0;
    w.latencySum = 0;
    w.maxInFlight = 0;
    w.dropped = false;
    if (this.algorithm === 'gradient') this.#gradient(latency, maxInFlight, wasDropped);
    else if (wasDropped) this.#limit = Math.max(this.#min, this.#limit * this.#backoff);
    else if (latency > 0) this.#update(latency, maxInFlight);
  }

  /** Gradient2: the new limit from a window's mean latency against its long-run mean (gradient-step.ts). */
  #gradient(latencyMs: number, maxInFlight: number, dropped: boolean): void {
    const next = gradientStep(
      { limit: this.#limit, longLatencyMs: this.#longLatency, windows: this.#longWindows },
      { latencyMs, maxInFlight, dropped },
      { minLimit: this.#min, maxLimit: this.#max, backoffRatio: this.#backoff },
    );
    this.#limit = next.limit;
    this.#longLatency = next.longLatencyMs;
    this.#longWindows = next.windows;
  }

  /** Vegas: the new limit from a window's mean latency against the no-load latency. */
  #update(latencyMs: number, maxInFlight: number): void {
    if (this.#clock.now() >= this.#nextProbeAt) {
      this.#probe = { epoch: ++this.#epoch, granted: 0, answered: 0, lowest: Number.POSITIVE_INFINITY };
      return;
    }
    // Not held back by the limit: a window that says nothing about more concurrency.
    if (maxInFlight * 2 < this.#limit) return;
    const next = vegasStep(this.#limit, this.#noLoad, latencyMs);
    this.#limit = Math.min(this.#max, Math.max(this.#min, next));
  }

  /** A call granted during the probe answered: after WINDOW_CALLS of them, their lowest is the no-load latency. */
  #probed(latencyMs: number): void {
    const probe = this.#probe!;
    if (latencyMs > 0 && latencyMs < probe.lowest) probe.lowest = latencyMs;
    if (++probe.answered < WINDOW_CALLS) return;
    if (Number.isFinite(probe.lowest)) this.#noLoad = probe.lowest;
    this.#probe = undefined;
    this.#nextProbeAt = this.#clock.now() + this.#probeIntervalMs;
    this.#admit();
  }

  /** Lets waiting callers in while there is room. */
  #admit(): void {
    while (this.#queue.length > 0 && this.#inFlight < this.#room) {
      const waiter = this.#queue.shift()!;
      waiter.cancelTimer?.();
      waiter.detach?.();
      waiter.resolve(this.#grant());
    }
  }
}

/**
 * One Vegas step: the limit after a window whose mean latency was `latencyMs`, with `noLoadMs` the
 * latency without a queue (unclamped; callers keep it within their bounds). The calls queued at the
 * dependency are estimated as `limit × (1 − noLoad / latency)`; at most log₁₀ limit queued: +6·log, fewer
 * than 3·log: +log, more than 6·log: −log (log at least 1), otherwise unchanged.
 */
function vegasStep(limit: number, noLoadMs: number, latencyMs: number): number {
  const log = Math.max(1, Math.log10(limit));
  const queued = limit * (1 - noLoadMs / latencyMs);
  if (queued <= log) return limit + 6 * log;
  if (queued < 3 * log) return limit + log;
  if (queued > 6 * log) return limit - log;
  return limit;
}

/** The algorithm without an `algorithm` option. */
const DEFAULT_ALGORITHM: AdaptiveAlgorithm = 'gradient';

/** Calls a window holds at least before the limit moves. */
const WINDOW_CALLS = 10;

function positive(value: number, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new InvalidArgumentError(`AdaptiveConcurrency: \`${name}\` must be a positive number`);
  }
  return value;
}

function fraction(value: number, name: string): number {
  if (typeof value !== 'number' || !(value > 0 && value <= 1)) {
    throw new InvalidArgumentError(`AdaptiveConcurrency: \`${name}\` must be above 0 and at most 1`);
  }
  return value;
}
