import { InvalidArgumentError } from '../core/errors.js';

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
}

/** The settings of an `adaptivePool` option, checked. */
export interface AdaptivePoolSettings {
  initial: number | undefined;
  memoryMs: number;
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
  return { initial: o.initial, memoryMs: o.memoryMs ?? 30_000 };
}

/** Holds a window gathers at least, and per connection of the limit (so each window sees every one several times). */
const WINDOW_HOLDS = 16;
const HOLDS_PER_CONNECTION = 8;
/**
 * A larger size is kept if it delivers at least this fraction more than the level it came from, a
 * smaller one if it delivers no more than this fraction less. Windows of a loaded machine differ by a
 * few percent for the same size, so a gain within that band is noise; the band leans both ways toward
 * fewer connections, and without a clear gain the limit drifts down rather than up.
 */
const GAIN = 0.05;
/** How long a direction stays closed after a probe in it was undone (ms). */
const COOLDOWN_MS = 1_000;
/** A level's measurement older than this is not compared with (the workload may have changed; ms). */
const STALE_MS = 2_000;
/** Buckets of the remembered demand (each period is split into this many). */
const BUCKETS = 4;

interface Bucket {
  /** Start of the bucket (ms on the pool's clock). */
  at: number;
  /** The highest demand (connections in use plus callers waiting) seen in it. */
  peak: number;
}

/** A limit and the throughput measured at it while callers waited (statements per ms). */
interface Level {
  limit: number;
  throughput: number;
  at: number;
}

/**
 * The pool's size limit, between `min` and `max`, found by measuring what each size delivers. While
 * callers wait for a connection (demand above the limit) the pool is saturated, and Little's law gives
 * its throughput from two things it sees: connections in use over mean hold time (one statement, or one
 * transaction). The limit climbs by probes: it tries twice the size and keeps it if the throughput
 * rose by at least 5 %, otherwise it goes back and does not try upward for a second (steps as large as
 * doubling, so that a real gain stands out of the windows' noise); it also tries a quarter fewer and
 * keeps them while the throughput holds, so it settles at the smallest size that serves the most. A
 * database that is saturated (its cores busy, statements queueing inside it) answers more connections
 * with proportionally longer holds, so no larger size is kept; one where statements wait on something
 * else (I/O, sleep, a remote call) keeps gaining, and the limit goes to `max`.
 * A whole `memoryMs` whose demand stayed below the limit brings it down to that demand. `warm` is the
 * connections worth keeping open: the peak demand of the last `memoryMs`, within the limit.
 *
 * Pure bookkeeping on the times it is given: the pool feeds it and obeys it.
 */
export class AdaptivePoolLimit {
  readonly #min: number;
  readonly #max: number;
  readonly #memoryMs: number;
  #limit: number;
  readonly #demand: Bucket[] = [];
  /** The current window: holds, their total time, connections in use summed at each release, waits. */
  readonly #window = { holds: 0, sum: 0, inUse: 0, waited: false };
  /** Holds still to come that were lent under the previous limit (not measured: they belong to neither). */
  #skip = 0;
  /** The level being measured against: the one a probe started from, or the settled one. */
  #base: Level | undefined;
  /** The direction of the probe under way, or undefined when settled at `#base`. */
  #probe: 'up' | 'down' | undefined;
  #upAfter = 0;
  #downAfter = 0;
  /** When the limit was last lowered for low use (or created): a lowering needs a full period after it. */
  #quietSince: number;

  constructor(min: number, max: number, settings: AdaptivePoolSettings, now: number) {
    this.#min = Math.max(1, min);
    this.#max = Math.max(this.#min, max);
    this.#memoryMs = settings.memoryMs;
    this.#limit = clamp(settings.initial ?? this.#min, this.#min, this.#max);
    this.#quietSince = now;
  }

  /** Connections the pool may have open now. */
  get limit(): number {
    return this.#limit;
  }

  /** A caller had to wait for a connection: demand is above the limit. */
  waited(demand: number, now: number): void {
    this.#window.waited = true;
    this.demand(demand, now);
  }

  /** Connections in use plus callers waiting, now. */
  demand(demand: number, now: number): void {
    const b = this.#bucket(now);
    if (demand > b.peak) b.peak = demand;
  }

  /** Connections worth keeping open: the peak demand of the last `memoryMs`, within the limit. */
  warm(now: number): number {
    return Math.min(this.limit, this.#highest(now));
  }

  /** One connection hold ended after `holdMs`; `inUse` connections were lent at that moment, this one included. */
  held(holdMs: number, now: number, inUse: number): void {
    if (!(holdMs >= 0) || !Number.isFinite(holdMs)) return;
    if (this.#skip > 0) {
      this.#skip--;
      return;
    }
    const w = this.#window;
    w.holds++;
    w.sum += holdMs;
    w.inUse += inUse;
    if (w.holds < Math.max(WINDOW_HOLDS, HOLDS_PER_CONNECTION * this.#limit)) return;
    const { holds, sum, waited } = w;
    const busy = w.inUse / holds;
    this.#newWindow();
    // Without waiting callers the throughput is the demand's, not what this size can deliver.
    if (!waited) return;
    const mean = sum / holds;
    // A hold of under a microsecond is a clock that did not move (a fake clock, a cached connection):
    // nothing to measure; the waits alone then grow the limit.
    if (!(mean > 0.001)) {
      this.#set(this.#limit + 1);
      return;
    }
    this.#measured(busy / mean, now);
  }

  /**
   * Callers waited while no connection came back for a while: every connection is held by work that
   * is not finishing (long transactions, or one waiting for another's lock). No window will close to
   * say anything, so the limit doubles (ten long transactions get their connections within a second);
   * without this, work that needs two connections at once would wait for its acquire timeout.
   */
  stalled(): void {
    this.#settle(this.#limit * 2);
  }

  /** Called now and then (the pool's tick): lowers the limit after a whole period of low demand. */
  tick(now: number): void {
    if (now - this.#quietSince < this.#memoryMs) return;
    const peak = this.#highest(now);
    if (peak < this.limit) {
      this.#settle(Math.max(peak, this.#min));
      this.#quietSince = now;
    }
  }

  /** One saturated window's throughput at the current limit: keep or undo a probe, or start one. */
  #measured(throughput: number, now: number): void {
    const base = this.#base;
    if (this.#probe !== undefined && base !== undefined && now - base.at <= STALE_MS) {
      const gain = throughput / base.throughput;
      const kept = this.#probe === 'up' ? gain >= 1 + GAIN : gain >= 1 - GAIN;
      if (!kept) {
        if (this.#probe === 'up') this.#upAfter = now + COOLDOWN_MS;
        else this.#downAfter = now + COOLDOWN_MS;
        this.#probe = undefined;
        this.#change(base.limit);
        this.#base = undefined;
        return;
      }
    }
    this.#base = { limit: this.#limit, throughput, at: now };
    // Keep going the way that paid; otherwise try up, then down, each when not closed.
    const way = this.#probe ?? (now >= this.#upAfter ? 'up' : 'down');
    if (way === 'up' && this.#limit < this.#max && now >= this.#upAfter) {
      this.#probe = 'up';
      this.#change(this.#limit * 2);
    } else if (this.#limit > this.#min && now >= this.#downAfter) {
      this.#probe = 'down';
      this.#change(Math.min(this.#limit - 1, Math.round(this.#limit * 0.75)));
    } else {
      this.#probe = undefined;
    }
  }

  /** Moves to `next` as a new settled level (a stall, a low-use shrink): nothing to compare with. */
  #settle(next: number): void {
    this.#probe = undefined;
    this.#base = undefined;
    this.#change(next);
  }

  #change(next: number): void {
    const limit = clamp(next, this.#min, this.#max);
    if (limit === this.#limit) return;
    this.#skip = this.#limit;
    this.#limit = limit;
    this.#newWindow();
  }

  #newWindow(): void {
    const w = this.#window;
    w.holds = 0;
    w.sum = 0;
    w.inUse = 0;
    w.waited = false;
  }

  #set(next: number): void {
    this.#limit = clamp(next, this.#min, this.#max);
  }

  #highest(now: number): number {
    let peak = 0;
    for (const b of this.#demand) if (now - b.at < this.#memoryMs && b.peak > peak) peak = b.peak;
    return peak;
  }

  /** The current demand bucket, starting a new one (and dropping old ones) as time passes. */
  #bucket(now: number): Bucket {
    const ring = this.#demand;
    const width = this.#memoryMs / BUCKETS;
    const last = ring.at(-1);
    if (last !== undefined && now - last.at < width) return last;
    const fresh: Bucket = { at: now, peak: 0 };
    ring.push(fresh);
    while (ring.length > BUCKETS + 1) ring.shift();
    return fresh;
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, Math.round(value)));
}
