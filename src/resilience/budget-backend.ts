/**
 * Storage behind a Budget. Every window keeps the reservations it counts, each with an expiry: a sliding
 * window's entry expires `windowMs` after it was granted, a calendar window's at the next reset, a
 * concurrency window's only when released (commit or refund). Usage is the sum of unexpired costs.
 */
export type WindowSpec =
  | { name: string; kind?: 'sliding'; limit: number; windowMs: number }
  | { name: string; kind: 'calendar'; limit: number; nextReset: (now: number) => number }
  | { name: string; kind: 'concurrent'; limit: number; leaseMs?: number };

export type TryResult =
  | {
      ok: true;
      id: string;
      at: number;
      /** What the backend needs back to settle this grant (the memory backend's slots); passed to commit/refund. */
      handle?: unknown;
    }
  | {
      ok: false;
      /** How long until the cost could fit, -1 when only a release can make room. */
      waitMs: number;
      /** Index of the window that refused, -1 when the budget is paused. */
      window: number;
      /** The cost exceeds a window's whole limit: it can never fit. */
      never: boolean;
      pauseReason?: string;
    };

export interface WindowUsage {
  name: string;
  kind: 'sliding' | 'calendar' | 'concurrent';
  limit: number;
  used: number;
  remaining: number;
}

export interface BudgetBackend {
  /** Synchronous backends let Budget skip a promise on the hot path. */
  readonly sync: boolean;
  tryReserve(id: string, costs: readonly number[], now: number): TryResult | Promise<TryResult>;
  /** Replaces reserved costs with actual ones; concurrency windows release their slot. */
  commit(
    id: string,
    reserved: readonly number[],
    actual: readonly number[],
    now: number,
    handle?: unknown,
  ): void | Promise<void>;
  refund(id: string, reserved: readonly number[], handle?: unknown): void | Promise<void>;
  /** Stops every reservation until `untilMs` (a 429 Retry-After, a spent quota). */
  pause(untilMs: number, reason: string, now: number): void | Promise<void>;
  /** Counts usage that happened elsewhere (the provider's own remaining count), expiring at `expiresAt`. */
  addUsage(costs: readonly number[], expiresAt: number, now: number): void | Promise<void>;
  usage(now: number): WindowUsage[] | Promise<WindowUsage[]>;
  close?(): Promise<void>;
}

export function windowKind(spec: WindowSpec): 'sliding' | 'calendar' | 'concurrent' {
  return spec.kind ?? 'sliding';
}

/**
 * One window's unexpired grants, oldest first, in a growable ring of typed arrays: at high request
 * rates a sliding window holds a minute of grants, and plain objects would each live long enough to be
 * promoted and then collected by a major GC. Grants are addressed by a sequence number.
 */
class WindowState {
  exps = new Float64Array(256);
  costs = new Float64Array(256);
  mask = 255;
  head = 0;
  tail = 0;
  used = 0;
  /** Usage added out of expiry order (provider corrections); rare, so a sorted array is enough. */
  extra: Array<{ exp: number; cost: number }> = [];
  /** Cached next reset of a calendar window (Intl is too slow to call per request). */
  resetAt = 0;

  constructor(readonly spec: WindowSpec) {}

  prune(now: number): void {
    while (this.head < this.tail && this.exps[this.head & this.mask]! <= now) {
      this.used -= this.costs[this.head & this.mask]!;
      this.head++;
    }
    while (this.extra.length > 0 && this.extra[0]!.exp <= now) this.used -= this.extra.shift()!.cost;
  }

  expiry(now: number): number {
    const spec = this.spec;
    if (spec.kind === 'calendar') {
      if (now >= this.resetAt) this.resetAt = spec.nextReset(now);
      return this.resetAt;
    }
    return now + (spec as { windowMs: number }).windowMs;
  }

  push(exp: number, cost: number): number {
    if (this.tail - this.head > this.mask) this.#grow();
    const i = this.tail & this.mask;
    this.exps[i] = exp;
    this.costs[i] = cost;
    this.used += cost;
    return this.tail++;
  }

  /** Changes a grant's cost; a grant that already expired is left alone (it no longer counts). */
  setCost(seq: number, cost: number): void {
    if (seq < this.head || seq >= this.tail) return;
    const i = seq & this.mask;
    this.used += cost - this.costs[i]!;
    this.costs[i] = cost;
  }

  addExtra(exp: number, cost: number): void {
    let at = this.extra.length;
    while (at > 0 && this.extra[at - 1]!.exp > exp) at--;
    this.extra.splice(at, 0, { exp, cost });
    this.used += cost;
  }

  /** Time until `cost` fits, walking grants in expiry order. */
  waitFor(cost: number, now: number): number {
    let freed = 0;
    let seq = this.head;
    let x = 0;
    while (seq < this.tail || x < this.extra.length) {
      const ringExp = seq < this.tail ? this.exps[seq & this.mask]! : Number.POSITIVE_INFINITY;
      const extraExp = x < this.extra.length ? this.extra[x]!.exp : Number.POSITIVE_INFINITY;
      let exp: number;
      if (ringExp <= extraExp) {
        exp = ringExp;
        freed += this.costs[seq & this.mask]!;
        seq++;
      } else {
        exp = extraExp;
        freed += this.extra[x]!.cost;
        x++;
      }
      if (this.used - freed + cost <= this.spec.limit) return Math.max(1, exp - now);
    }
    return -1;
  }

  #grow(): void {
    const size = (this.mask + 1) * 2;
    const exps = new Float64Array(size);
    const costs = new Float64Array(size);
    for (let seq = this.head; seq < this.tail; seq++) {
      exps[seq & (size - 1)] = this.exps[seq & this.mask]!;
      costs[seq & (size - 1)] = this.costs[seq & this.mask]!;
    }
    this.exps = exps;
    this.costs = costs;
    this.mask = size - 1;
  }
}

/**
 * What a reservation holds per window: a grant's sequence number, or a concurrency slot's cost. It travels
 * with the Reservation as its handle (no id-keyed map: hashing a fresh id string per call showed in profiles);
 * `settled` makes a second commit or refund a no-op.
 */
interface Held {
  slots: number[];
  settled: boolean;
}

/** One process, no I/O: every call is synchronous. */
export class MemoryBudgetBackend implements BudgetBackend {
  readonly sync = true;
  #windows: WindowState[];
  /** What a refund commits: nothing, on every window. */
  readonly #zeros: number[];
  #pausedUntil = 0;
  #pauseReason = '';

  constructor(windows: readonly WindowSpec[]) {
    this.#windows = windows.map((w) => new WindowState(w));
    this.#zeros = windows.map(() => 0);
  }

  tryReserve(id: string, costs: readonly number[], now: number): TryResult {
    if (now < this.#pausedUntil) {
      return {
        ok: false,
        waitMs: this.#pausedUntil - now,
        window: -1,
        never: false,
        pauseReason: this.#pauseReason,
      };
    }
    const windows = this.#windows;
    for (let i = 0; i < windows.length; i++) {
      const w = windows[i]!;
      const cost = costs[i] ?? 0;
      if (cost <= 0) continue;
      if (cost > w.spec.limit) return { ok: false, waitMs: -1, window: i, never: true };
      w.prune(now);
      if (w.used + cost > w.spec.limit)
        return { ok: false, waitMs: w.waitFor(cost, now), window: i, never: false };
    }
    const slots: number[] = new Array(windows.length);
    for (let i = 0; i < windows.length; i++) {
      const cost = costs[i] ?? 0;
      const w = windows[i]!;
      if (cost <= 0) slots[i] = -1;
      else if (w.spec.kind === 'concurrent') {
        w.used += cost;
        slots[i] = cost;
      } else slots[i] = w.push(w.expiry(now), cost);
    }
    const handle: Held = { slots, settled: false };
    return { ok: true, id, at: now, handle };
  }

  commit(
    _id: string,
    reserved: readonly number[],
    actual: readonly number[],
    now: number,
    handle?: unknown,
  ): void {
    const held = handle as Held | undefined;
    if (!held || held.settled) return;
    held.settled = true;
    const slots = held.slots;
    for (let i = 0; i < slots.length; i++) {
      const w = this.#windows[i]!;
      const h = slots[i]!;
      if (w.spec.kind === 'concurrent') {
        if (h > 0) w.used -= h;
        continue;
      }
      const next = Math.max(0, actual[i] ?? reserved[i] ?? 0);
      // Actual cost on a window nothing was reserved on (e.g. tokens known only afterwards).
      if (h < 0) {
        if (next > 0) w.push(w.expiry(now), next);
      } else w.setCost(h, next);
    }
  }

  /** A commit of nothing: concurrency slots are released and every grant's cost drops to zero. */
  refund(id: string, reserved: readonly number[], handle?: unknown): void {
    this.commit(id, reserved, this.#zeros, 0, handle);
  }

  pause(untilMs: number, reason: string): void {
    if (untilMs > this.#pausedUntil) {
      this.#pausedUntil = untilMs;
      this.#pauseReason = reason;
    }
  }

  addUsage(costs: readonly number[], expiresAt: number, now: number): void {
    for (let i = 0; i < this.#windows.length; i++) {
      const cost = costs[i] ?? 0;
      const w = this.#windows[i]!;
      if (cost <= 0 || w.spec.kind === 'concurrent') continue;
      w.prune(now);
      w.addExtra(expiresAt, cost);
    }
  }

  usage(now: number): WindowUsage[] {
    return this.#windows.map((w) => {
      w.prune(now);
      return {
        name: w.spec.name,
        kind: windowKind(w.spec),
        limit: w.spec.limit,
        used: w.used,
        remaining: Math.max(0, w.spec.limit - w.used),
      };
    });
  }
}
