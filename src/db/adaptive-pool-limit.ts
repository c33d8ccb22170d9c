import { InvalidArgumentError } from '../core/errors.js';
import { vegasStep } from '../resilience/adaptive-concurrency.js';

/** What `createDatabase({ adaptivePool })` sets; see docs/database.md, "Adaptive pool size". */
export interface AdaptivePoolOptions {
  /** The limit before any measurement (default: `min`, at least 1). */
  initial?: number;
  /**
   * How long demand is remembered (ms, default 30 000): the pool keeps connections open for the peak
   * of this period (so the next burst finds them open) and shrinks for low use only once a whole
   * period stayed below the limit.
   */
  memoryMs?: number;
  /**
   * How long a statement latency counts as the database's latency without a queue (ms, default 30 000).
   * A database that became slower for good (not from load) holds the limit down for at most this long.
   */
  floorMs?: number;
}

/** The settings of an `adaptivePool` option, checked. */
export interface AdaptivePoolSettings {
  initial: number | undefined;
  memoryMs: number;
  floorMs: number;
}

/**
 * The settings of an `adaptivePool` option other than false. Throws ERR_INVALID_ARGUMENT naming the
 * field for a malformed one.
 */
export function adaptivePoolSettings(option: true | AdaptivePoolOptions): AdaptivePoolSettings {
  const o: AdaptivePoolOptions = option === true ? {} : option;
  if (typeof o !== 'object' || o === null) {
    throw new InvalidArgumentError('createDatabase: `adaptivePool` must be a boolean or an object');
  }
  const check = (name: keyof AdaptivePoolOptions, value: unknown, integer: boolean): void => {
    if (value === undefined) return;
    const ok = typeof value === 'number' && Number.isFinite(value) && value > 0;
    if (!ok || (integer && !Number.isInteger(value))) {
      throw new InvalidArgumentError(
        `createDatabase: \`adaptivePool.${name}\` must be a positive ${integer ? 'integer' : 'number of milliseconds'}`,
      );
    }
  };
  check('initial', o.initial, true);
  check('memoryMs', o.memoryMs, false);
  check('floorMs', o.floorMs, false);
  return { initial: o.initial, memoryMs: o.memoryMs ?? 30_000, floorMs: o.floorMs ?? 30_000 };
}

/** Connection holds a window gathers at least before the limit moves. */
const WINDOW_HOLDS = 10;
/** Buckets of the remembered demand and latency floor (each period is split into this many). */
const BUCKETS = 4;

interface Bucket {
  /** Start of the bucket (ms on the pool's clock). */
  at: number;
  /** The highest demand (connections in use plus callers waiting) seen in it. */
  peak: number;
  /** The lowest window mean latency seen in it (ms; Infinity: none). */
  floor: number;
}

/**
 * The pool's size limit, between `min` and `max`, from measured demand. Connection hold times (one
 * statement, or one transaction) are gathered in windows; at the end of each window the Vegas step of
 * AdaptiveConcurrency (`vegasStep`) compares their mean with the lowest window mean of the last
 * `floorMs` (the database without a queue): statements queueing inside the database shrink the limit;
 * a short queue grows it, but only if callers waited for a connection in that window (demand above the
 * limit). A whole `memoryMs` whose demand stayed below the limit brings it down to that demand.
 * `warm` is the connections worth keeping open: the peak demand of the last `memoryMs`, within the limit.
 *
 * Pure bookkeeping on the times it is given: the pool feeds it and obeys it.
 */
export class AdaptivePoolLimit {
  readonly #min: number;
  readonly #max: number;
  readonly #memoryMs: number;
  readonly #floorMs: number;
  #limit: number;
  readonly #demand: Bucket[] = [];
  readonly #floors: Bucket[] = [];
  readonly #window = { holds: 0, sum: 0, waited: false, startedAt: 0 };
  /** When the limit was last lowered for low use (or created): a lowering needs a full period after it. */
  #quietSince: number;

  constructor(min: number, max: number, settings: AdaptivePoolSettings, now: number) {
    this.#min = Math.max(1, min);
    this.#max = Math.max(this.#min, max);
    this.#memoryMs = settings.memoryMs;
    this.#floorMs = settings.floorMs;
    this.#limit = clamp(settings.initial ?? this.#min, this.#min, this.#max);
    this.#quietSince = now;
  }

  /** Connections the pool may have open now. */
  get limit(): number {
    return Math.floor(this.#limit);
  }

  /** The database's latency without a queue as measured now (ms; 0 before any window). */
  floorMs(now: number): number {
    let floor = Number.POSITIVE_INFINITY;
    for (const b of this.#floors) if (now - b.at < this.#floorMs && b.floor < floor) floor = b.floor;
    return Number.isFinite(floor) ? floor : 0;
  }

  /** A caller had to wait for a connection: demand is above the limit. */
  waited(demand: number, now: number): void {
    this.#window.waited = true;
    this.demand(demand, now);
  }

  /** Connections in use plus callers waiting, now. */
  demand(demand: number, now: number): void {
    const b = this.#bucket(this.#demand, now, this.#memoryMs);
    if (demand > b.peak) b.peak = demand;
  }

  /** Connections worth keeping open: the peak demand of the last `memoryMs`, within the limit. */
  warm(now: number): number {
    return Math.min(this.limit, this.#highest(now));
  }

  /** One connection hold ended after `holdMs` (a statement or a transaction). */
  held(holdMs: number, now: number): void {
    if (!(holdMs >= 0) || !Number.isFinite(holdMs)) return;
    const w = this.#window;
    if (w.holds === 0) w.startedAt = now;
    w.holds++;
    w.sum += holdMs;
    const floor = this.floorMs(now);
    // At least one floor latency long, so a window answers to what the last change did.
    if (w.holds < WINDOW_HOLDS || now - w.startedAt < floor) return;
    const mean = w.sum / w.holds;
    const waited = w.waited;
    w.holds = 0;
    w.sum = 0;
    w.waited = false;
    const b = this.#bucket(this.#floors, now, this.#floorMs);
    if (mean < b.floor) b.floor = mean;
    const noLoad = Math.min(floor || mean, mean);
    // A hold of under a microsecond is a clock that did not move (a fake clock, a cached connection):
    // no latency to compare; waits alone then grow the limit.
    const next = mean > 0.001 ? vegasStep(this.#limit, noLoad, mean) : this.#limit + (waited ? 1 : 0);
    if (next < this.#limit) this.#set(next);
    else if (next > this.#limit && waited) this.#set(next);
  }

  /**
   * Callers waited while no connection came back for a while: every connection is held by work that
   * is not finishing (long transactions, or one waiting for another's lock). No window will close to
   * say anything, so the limit grows by one; without this, work that needs two connections at once
   * would wait for its acquire timeout.
   */
  stalled(): void {
    this.#set(this.#limit + 1);
  }

  /** Called now and then (the pool's tick): lowers the limit after a whole period of low demand. */
  tick(now: number): void {
    if (now - this.#quietSince < this.#memoryMs) return;
    const peak = this.#highest(now);
    if (peak < this.limit) {
      this.#set(Math.max(peak, this.#min));
      this.#quietSince = now;
    }
  }

  #set(next: number): void {
    this.#limit = clamp(next, this.#min, this.#max);
  }

  #highest(now: number): number {
    let peak = 0;
    for (const b of this.#demand) if (now - b.at < this.#memoryMs && b.peak > peak) peak = b.peak;
    return peak;
  }

  /** The current bucket of a ring covering `periodMs`, starting a new one (and dropping old ones) as time passes. */
  #bucket(ring: Bucket[], now: number, periodMs: number): Bucket {
    const width = periodMs / BUCKETS;
    const last = ring.at(-1);
    if (last !== undefined && now - last.at < width) return last;
    const fresh: Bucket = { at: now, peak: 0, floor: Number.POSITIVE_INFINITY };
    ring.push(fresh);
    while (ring.length > BUCKETS + 1) ring.shift();
    return fresh;
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
