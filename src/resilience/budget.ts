import { randomBytes } from 'node:crypto';
import { abortReason, type Clock, ClosedError, systemClock } from '../core/index.js';
import {
  type BudgetBackend,
  MemoryBudgetBackend,
  type WindowSpec,
  type WindowUsage,
} from './budget-backend.js';
import { QuotaExhaustedError, RateLimitedError } from './errors.js';

/** A cost per window name (missing names cost nothing), or one number charged to every window. */
export type Cost = number | Readonly<Record<string, number>>;

export interface ReserveOptions {
  signal?: AbortSignal | undefined;
  /** Epoch ms (on the budget's clock) after which the caller would rather fail than keep waiting. */
  deadline?: number | undefined;
}

export interface BudgetOptions {
  /** Service name, used in errors and metrics. */
  name: string;
  windows: readonly WindowSpec[];
  /** Defaults to an in-memory backend (one process). Pass a RedisBudgetBackend to share across processes. */
  backend?: BudgetBackend;
  clock?: Clock;
}

interface Waiter {
  costs: readonly number[];
  deadline: number;
  signal: AbortSignal | undefined;
  resolve: (r: Reservation) => void;
  reject: (e: unknown) => void;
  onAbort: (() => void) | undefined;
}

const RESOLVED = Promise.resolve();
const INSTANCE = randomBytes(4).toString('hex');
let sequence = 0;

/**
 * A reserved cost: `commit` with the actual cost once known (or keep the estimate), `refund` when the
 * call never reached the provider. Settling twice is a no-op.
 */
export class Reservation {
  #settled = false;

  constructor(
    readonly id: string,
    readonly costs: readonly number[],
    readonly grantedAt: number,
    private readonly budget: Budget,
    /** @internal the backend's own record of the grant, handed back when settling. */
    readonly handle?: unknown,
  ) {}

  get settled(): boolean {
    return this.#settled;
  }

  commit(actual?: Cost): Promise<void> {
    if (this.#settled) return Promise.resolve();
    this.#settled = true;
    return this.budget.settle(this, actual === undefined ? this.costs : this.budget.costVector(actual));
  }

  refund(): Promise<void> {
    if (this.#settled) return Promise.resolve();
    this.#settled = true;
    return this.budget.settle(this, undefined);
  }
}

/**
 * Cost-weighted budgets over several windows at once (requests per minute and per hour, tokens per
 * minute, daily quota units, concurrent calls). Waiting callers form one FIFO queue served by a single
 * pump, so no caller holds anything while it sleeps and a big request is not starved by small ones.
 */
export class Budget {
  readonly name: string;
  readonly windows: readonly WindowSpec[];
  readonly #backend: BudgetBackend;
  readonly #clock: Clock;
  readonly #index: Map<string, number>;
  readonly #queue: Waiter[] = [];
  #pumping = false;
  #lastCost = Number.NaN;
  #lastVector: readonly number[] = [];
  #wake: AbortController | undefined;
  /** Reservations that had to wait, and the total time they waited (metrics). */
  waits = 0;
  waitedMs = 0;

  constructor(options: BudgetOptions) {
    this.name = options.name;
    this.windows = options.windows;
    this.#backend = options.backend ?? new MemoryBudgetBackend(options.windows);
    this.#clock = options.clock ?? systemClock;
    this.#index = new Map(options.windows.map((w, i) => [w.name, i]));
  }

  costVector(cost: Cost): readonly number[] {
    if (typeof cost === 'number') {
      // Nearly every call costs the same number: reuse its vector (nobody mutates one).
      if (cost !== this.#lastCost) {
        this.#lastCost = cost;
        this.#lastVector = Object.freeze(this.windows.map(() => cost));
      }
      return this.#lastVector;
    }
    const out = this.windows.map(() => 0);
    for (const [name, value] of Object.entries(cost)) {
      const i = this.#index.get(name);
      if (i !== undefined) out[i] = value;
    }
    return out;
  }

  /** Waits (FIFO) until `cost` fits in every window; refuses at once when that would pass the deadline. */
  reserve(cost: Cost, options: ReserveOptions = {}): Promise<Reservation> {
    const costs = this.costVector(cost);
    if (options.signal?.aborted) return Promise.reject(abortReason(options.signal));
    const deadline = options.deadline ?? Number.POSITIVE_INFINITY;
    // Fast path: nobody waiting and an in-memory backend, so the answer is immediate and allocation-light.
    if (this.#queue.length === 0 && this.#backend.sync) {
      const id = `${INSTANCE}.${(sequence++).toString(36)}`;
      const now = this.#clock.now();
      const r = this.#backend.tryReserve(id, costs, now) as ReturnType<MemoryBudgetBackend['tryReserve']>;
      if (r.ok) return Promise.resolve(new Reservation(id, costs, r.at, this, r.handle));
      const refusal = this.#refusal(r, now, deadline);
      if (refusal) return Promise.reject(refusal);
    }
    return new Promise<Reservation>((resolve, reject) => {
      const waiter: Waiter = { costs, deadline, signal: options.signal, resolve, reject, onAbort: undefined };
      if (options.signal) {
        const signal = options.signal;
        waiter.onAbort = () => {
          const at = this.#queue.indexOf(waiter);
          if (at >= 0) this.#queue.splice(at, 1);
          reject(abortReason(signal));
          this.#wakeUp();
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.#queue.push(waiter);
      void this.#pump();
    });
  }

  /**
   * The immediate answer when there is one: a Reservation if the cost fits now (in-memory backend, nobody
   * queued), otherwise undefined and the caller should use `reserve`. Saves a promise per call.
   */
  tryReserveNow(cost: Cost): Reservation | undefined {
    if (this.#queue.length > 0 || !this.#backend.sync) return undefined;
    const costs = this.costVector(cost);
    const id = `${INSTANCE}.${(sequence++).toString(36)}`;
    const r = this.#backend.tryReserve(id, costs, this.#clock.now()) as ReturnType<
      MemoryBudgetBackend['tryReserve']
    >;
    return r.ok ? new Reservation(id, costs, r.at, this, r.handle) : undefined;
  }

  /** Stops every reservation until `untilMs` (shared with other processes on a Redis backend). */
  async pause(untilMs: number, reason: 'rate_limited' | 'quota_exhausted' = 'rate_limited'): Promise<void> {
    await this.#backend.pause(untilMs, reason, this.#clock.now());
    this.#wakeUp();
  }

  /**
   * Aligns the local view with a provider's own count (`x-ratelimit-remaining-*` + reset): whatever the
   * provider says is already used beyond what we counted is added until its reset.
   */
  async correct(windowName: string, remaining: number, resetInMs: number): Promise<void> {
    const i = this.#index.get(windowName);
    if (i === undefined || !Number.isFinite(remaining)) return;
    const now = this.#clock.now();
    const usage = await this.#backend.usage(now);
    const local = usage[i]!.remaining;
    if (remaining >= local) return;
    const costs = this.windows.map((_, j) => (j === i ? local - remaining : 0));
    await this.#backend.addUsage(costs, now + Math.max(1, resetInMs), now);
  }

  usage(): Promise<WindowUsage[]> {
    return Promise.resolve(this.#backend.usage(this.#clock.now()));
  }

  get queued(): number {
    return this.#queue.length;
  }

  /** @internal called by Reservation; synchronous for in-memory backends (hot path). */
  settle(reservation: Reservation, actual: readonly number[] | undefined): Promise<void> {
    if (this.#backend.sync) {
      if (actual === undefined) this.#backend.refund(reservation.id, reservation.costs, reservation.handle);
      else {
        // The time only dates usage added beyond the reservation; keeping the estimate adds none, so
        // the common commit skips the clock read.
        const now = actual === reservation.costs ? reservation.grantedAt : this.#clock.now();
        this.#backend.commit(reservation.id, reservation.costs, actual, now, reservation.handle);
      }
      if (this.#queue.length > 0) this.#wakeUp();
      return RESOLVED;
    }
    return this.#settleAsync(reservation, actual);
  }

  async #settleAsync(reservation: Reservation, actual: readonly number[] | undefined): Promise<void> {
    if (actual === undefined)
      await this.#backend.refund(reservation.id, reservation.costs, reservation.handle);
    else
      await this.#backend.commit(
        reservation.id,
        reservation.costs,
        actual,
        this.#clock.now(),
        reservation.handle,
      );
    if (this.#queue.length > 0) this.#wakeUp();
  }

  async close(): Promise<void> {
    for (const w of this.#queue.splice(0)) w.reject(new ClosedError(`Budget ${this.name} closed`));
    await this.#backend.close?.();
  }

  #refusal(
    r: { waitMs: number; window: number; never: boolean; pauseReason?: string },
    now: number,
    deadline: number,
  ): Error | undefined {
    const window = r.window >= 0 ? this.windows[r.window] : undefined;
    if (r.never) {
      // No reset makes room for a cost larger than the whole window: waiting cannot help.
      return new QuotaExhaustedError(`Cost exceeds the whole ${window?.name} limit of ${this.name}`, {
        transient: false,
        details: { service: this.name, window: window?.name },
      });
    }
    if (r.waitMs >= 0 && now + r.waitMs <= deadline) return undefined;
    if (r.waitMs < 0 && Number.isFinite(deadline) && now < deadline) return undefined;
    if (r.waitMs < 0 && !Number.isFinite(deadline)) return undefined;
    const retryAt = r.waitMs >= 0 ? now + r.waitMs : undefined;
    const details = { service: this.name, window: window?.name ?? 'paused', waitMs: r.waitMs };
    const quota = window?.kind === 'calendar' || r.pauseReason === 'quota_exhausted';
    const message = `${this.name}: ${window?.name ?? 'paused'} budget would not allow this call before its deadline`;
    return quota
      ? new QuotaExhaustedError(message, { details, ...(retryAt === undefined ? {} : { retryAt }) })
      : new RateLimitedError(message, { details, ...(retryAt === undefined ? {} : { retryAt }) });
  }

  #wakeUp(): void {
    this.#wake?.abort();
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#queue.length > 0) {
        const head = this.#queue[0]!;
        const id = `${INSTANCE}.${(sequence++).toString(36)}`;
        const now = this.#clock.now();
        let r: Awaited<ReturnType<BudgetBackend['tryReserve']>>;
        try {
          r = await this.#backend.tryReserve(id, head.costs, now);
        } catch (error) {
          this.#dequeue(head)?.reject(error);
          continue;
        }
        if (this.#queue[0] !== head) {
          // The head gave up while we asked; hand back anything granted to it.
          if (r.ok) await this.#backend.refund(id, head.costs, r.handle);
          continue;
        }
        if (r.ok) {
          this.#dequeue(head)?.resolve(new Reservation(id, head.costs, r.at, this, r.handle));
          continue;
        }
        const refusal = this.#refusal(r, now, head.deadline);
        if (refusal) {
          this.#dequeue(head)?.reject(refusal);
          continue;
        }
        // Sleep until room is expected, the deadline passes, or a local release/abort wakes us.
        const untilDeadline = Number.isFinite(head.deadline) ? head.deadline - now : Number.POSITIVE_INFINITY;
        const sleepMs = Math.max(1, Math.min(r.waitMs >= 0 ? r.waitMs : 60_000, untilDeadline));
        this.#wake = new AbortController();
        const started = this.#clock.now();
        try {
          await this.#clock.sleep(sleepMs, this.#wake.signal);
        } catch {
          // woken early
        }
        this.#wake = undefined;
        this.waits++;
        this.waitedMs += this.#clock.now() - started;
        if (r.waitMs < 0 && this.#clock.now() >= head.deadline && this.#queue[0] === head) {
          this.#dequeue(head)?.reject(
            new RateLimitedError(`${this.name}: no capacity was released before the deadline`, {
              details: { service: this.name },
            }),
          );
        }
      }
    } finally {
      this.#pumping = false;
    }
  }

  #dequeue(waiter: Waiter): Waiter | undefined {
    const at = this.#queue.indexOf(waiter);
    if (at < 0) return undefined;
    this.#queue.splice(at, 1);
    if (waiter.onAbort) waiter.signal?.removeEventListener('abort', waiter.onAbort);
    return waiter;
  }
}
