import { abortReason } from '../core/abort.js';
import type { Clock } from '../core/clock.js';
import { LatencyRecorder } from '../core/latency-recorder.js';
import { AdaptivePoolLimit, type AdaptivePoolSettings } from './adaptive-pool-limit.js';
import { dbChannels } from './db-channels.js';
import { DatabaseError, DbErrorCode } from './errors.js';

/** What the pool needs from a driver connection. */
export interface PoolableConnection {
  /** Set by the driver's error listener when the socket died while idle or in use. */
  readonly broken: boolean;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface PoolFactory<C extends PoolableConnection> {
  create(): Promise<C>;
}

export interface ConnectionPoolOptions {
  min: number;
  max: number;
  acquireTimeoutMs: number;
  idleTimeoutMs: number;
  maxLifetimeMs: number;
  lifetimeJitterMs: number;
  validateAfterIdleMs: number;
  clock: Clock;
  /** Receives failures that have no caller to go to (a replacement that could not connect). */
  onBackgroundError?: (error: unknown) => void;
  /** Size the pool between `min` (or `least`) and `max` from measured demand (see AdaptivePoolLimit). */
  adaptive?: AdaptivePoolSettings & {
    /** The limit's lowest value when above `min` (room for the pipeline's connections and a transaction). */
    least?: number;
  };
}

/** A pooled connection with the bookkeeping the pool and its exhaustion report need. */
export interface Slot<C> {
  readonly conn: C;
  readonly createdAt: number;
  readonly expiresAt: number;
  lastUsedAt: number;
  holder: string | undefined;
  heldSince: number;
}

interface Waiter<C> {
  label: string;
  since: number;
  /** When it gives up: every waiter has the same timeout, so the queue is in deadline order. */
  deadline: number;
  resolve: (slot: Slot<C>) => void;
  reject: (error: unknown) => void;
  detachSignal: (() => void) | undefined;
}

export interface PoolStats {
  total: number;
  idle: number;
  inUse: number;
  waiting: number;
  connecting: number;
  /** Connections the pool may open now: `max`, or the adaptive limit. */
  limit: number;
  acquireWaitAvgMs: number;
  acquireWaitP99Ms: number;
  created: number;
  destroyed: number;
  evictedBroken: number;
}

export interface Holder {
  label: string;
  heldMs: number;
}

/**
 * A small generic pool for PostgreSQL and MySQL connections (and the single SQLite connection).
 * Hand-written because none of pg-pool, mysql2's pool, tarn or generic-pool offers all of: the same
 * semantics on every driver, max lifetime with jitter, validate-after-idle, holder names in the
 * exhaustion error, and a synchronous fast path (`tryAcquire`) that keeps the hot query path free of
 * extra promise hops.
 */
export class ConnectionPool<C extends PoolableConnection> {
  readonly #factory: PoolFactory<C>;
  readonly #opts: ConnectionPoolOptions;
  readonly #idle: Slot<C>[] = [];
  readonly #busy = new Set<Slot<C>>();
  readonly #waiters: Waiter<C>[] = [];
  readonly #acquireWait = new LatencyRecorder(1024);
  #connecting = 0;
  #closed = false;
  #created = 0;
  #destroyed = 0;
  #evicted = 0;
  #cancelReaper: (() => void) | undefined;
  readonly #limiter: AdaptivePoolLimit | undefined;
  #cancelTick: (() => void) | undefined;
  /** Connections given back, and that count at the last tick: none between two ticks with callers waiting is a stall. */
  #released = 0;
  #releasedAtTick = 0;

  constructor(factory: PoolFactory<C>, options: ConnectionPoolOptions) {
    if (options.max < 1) throw new RangeError('pool max must be at least 1');
    this.#factory = factory;
    this.#opts = { ...options, min: Math.min(options.min, options.max) };
    const adaptive = options.adaptive;
    if (adaptive !== undefined) {
      const least = Math.max(this.#opts.min, adaptive.least ?? 0);
      this.#limiter = new AdaptivePoolLimit(least, options.max, adaptive, options.clock.now());
      this.#scheduleTick();
    }
    this.#scheduleReaper();
  }

  /** Connections the pool may have open now: `max`, or the adaptive limit. */
  get limit(): number {
    return this.#limiter?.limit ?? this.#opts.max;
  }

  get size(): number {
    return this.#idle.length + this.#busy.size + this.#connecting;
  }

  /** Callers waiting for a connection. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** True when acquire() would wait for nobody: no caller waits, and a connection is idle or can be opened. */
  lendable(): boolean {
    return (
      !this.#closed &&
      this.#waiters.length === 0 &&
      this.#busy.size < this.limit &&
      (this.#idle.length > 0 || this.size < this.limit)
    );
  }

  /** Opens connections up to `min`; the first failure is thrown (a wrong URL fails at start-up). */
  async warmUp(): Promise<void> {
    const missing = this.#opts.min - this.size;
    const made = await Promise.all(
      Array.from({ length: Math.max(0, missing) }, async () => {
        this.#connecting++;
        try {
          return await this.#newSlot();
        } finally {
          this.#connecting--;
        }
      }),
    );
    for (const slot of made) this.#idle.push(slot);
  }

  /**
   * Returns a ready connection without waiting, or undefined when none is idle, fresh and healthy.
   * Connections that need a ping or are due for retirement are left to the async path.
   */
  tryAcquire(label: string): Slot<C> | undefined {
    if (this.#waiters.length > 0 || this.#closed || this.#busy.size >= this.limit) return undefined;
    const slot = this.#idle.at(-1);
    if (!slot) return undefined;
    const now = this.#opts.clock.now();
    if (slot.conn.broken || now >= slot.expiresAt || now - slot.lastUsedAt > this.#opts.validateAfterIdleMs) {
      return undefined;
    }
    this.#idle.pop();
    this.#lend(slot, label, now);
    return slot;
  }

  acquire(label: string, signal?: AbortSignal): Promise<Slot<C>> {
    if (this.#closed) return Promise.reject(closedError());
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const fast = this.tryAcquire(label);
    if (fast) {
      this.#acquireWait.record(0);
      if (dbChannels.acquire.hasSubscribers) dbChannels.acquire.publish({ waitMs: 0 });
      return Promise.resolve(fast);
    }
    return new Promise<Slot<C>>((resolve, reject) => {
      const since = this.#opts.clock.now();
      const waiter: Waiter<C> = {
        label,
        since,
        deadline: since + this.#opts.acquireTimeoutMs,
        resolve,
        reject,
        detachSignal: undefined,
      };
      if (signal) {
        const onAbort = (): void => {
          this.#removeWaiter(waiter);
          reject(abortReason(signal));
        };
        signal.addEventListener('abort', onAbort, { once: true });
        waiter.detachSignal = () => signal.removeEventListener('abort', onAbort);
      }
      this.#waiters.push(waiter);
      this.#limiter?.waited(this.#busy.size + this.#waiters.length, since);
      this.#armTimeout(since);
      this.#dispatch();
    });
  }

  /**
   * One timer for all waiters, set for the oldest one's deadline, instead of a timer per waiting caller:
   * under load most acquisitions wait (64 callers, 20 connections), and a timer set and cleared per
   * query showed in point-select profiles. When it fires it fails the waiters that are due and re-arms
   * for the next; a waiter served in time costs no timer work.
   */
  #armTimeout(now: number): void {
    if (this.#timeoutCancel !== undefined) return;
    const head = this.#waiters[0];
    if (head === undefined) return;
    this.#timeoutCancel = this.#opts.clock.setTimer(Math.max(1, head.deadline - now), this.#expireWaiters);
  }

  #timeoutCancel: (() => void) | undefined;

  readonly #expireWaiters = (): void => {
    this.#timeoutCancel = undefined;
    const now = this.#opts.clock.now();
    while (this.#waiters.length > 0 && this.#waiters[0]!.deadline <= now) {
      const waiter = this.#waiters.shift()!;
      waiter.detachSignal?.();
      waiter.reject(this.#exhaustedError(waiter.label));
    }
    this.#armTimeout(now);
  };

  /**
   * Gives a connection back. `discard` closes it instead (after an error that may have left it
   * unusable). `measured` false: how long it was held says nothing about the database's latency (a
   * pipelined connection, held while statements keep coming), so the adaptive limit ignores it.
   */
  release(slot: Slot<C>, discard = false, measured = true): void {
    if (!this.#busy.delete(slot)) return;
    slot.holder = undefined;
    const now = this.#opts.clock.now();
    slot.lastUsedAt = now;
    this.#released++;
    if (this.#limiter !== undefined && measured)
      this.#limiter.held(now - slot.heldSince, now, this.#busy.size + 1);
    if (discard || slot.conn.broken || now >= slot.expiresAt || this.#closed) {
      if (slot.conn.broken) this.#evicted++;
      this.#destroy(slot);
    } else {
      // Above a limit that came down while it was in use, it is parked idle rather than handed on: the
      // limit often goes back up within moments, and reopening costs the database a new session.
      if (this.#busy.size < this.limit) {
        const waiter = this.#waiters.shift();
        if (waiter) {
          this.#handTo(waiter, slot, now);
          return;
        }
      }
      this.#idle.push(slot);
    }
    this.#dispatch();
  }

  holders(): Holder[] {
    const now = this.#opts.clock.now();
    return [...this.#busy].map((s) => ({ label: s.holder ?? '?', heldMs: now - s.heldSince }));
  }

  stats(): PoolStats {
    const wait = this.#acquireWait.summary();
    return {
      total: this.#idle.length + this.#busy.size,
      idle: this.#idle.length,
      inUse: this.#busy.size,
      waiting: this.#waiters.length,
      connecting: this.#connecting,
      limit: this.limit,
      acquireWaitAvgMs: wait.avgMs,
      acquireWaitP99Ms: wait.p99Ms,
      created: this.#created,
      destroyed: this.#destroyed,
      evictedBroken: this.#evicted,
    };
  }

  /** Refuses new work, fails waiters, and closes idle connections; busy ones close on release. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#cancelReaper?.();
    this.#cancelTick?.();
    this.#timeoutCancel?.();
    this.#timeoutCancel = undefined;
    for (const waiter of this.#waiters.splice(0)) {
      waiter.detachSignal?.();
      waiter.reject(closedError());
    }
    const idle = this.#idle.splice(0);
    await Promise.all(idle.map((slot) => this.#destroy(slot)));
  }

  /** Closes every connection, busy ones included (after close() has waited as long as it may). */
  async destroyAll(): Promise<void> {
    await this.close();
    const busy = [...this.#busy];
    this.#busy.clear();
    await Promise.all(busy.map((slot) => this.#destroy(slot)));
  }

  #lend(slot: Slot<C>, label: string, now: number): void {
    slot.holder = label;
    slot.heldSince = now;
    this.#busy.add(slot);
    this.#limiter?.demand(this.#busy.size + this.#waiters.length, now);
  }

  #handTo(waiter: Waiter<C>, slot: Slot<C>, now: number): void {
    waiter.detachSignal?.();
    this.#acquireWait.record(now - waiter.since);
    if (dbChannels.acquire.hasSubscribers) dbChannels.acquire.publish({ waitMs: now - waiter.since });
    this.#lend(slot, waiter.label, now);
    waiter.resolve(slot);
  }

  #removeWaiter(waiter: Waiter<C>): void {
    const i = this.#waiters.indexOf(waiter);
    if (i >= 0) this.#waiters.splice(i, 1);
    waiter.detachSignal?.();
  }

  /** Matches waiters with idle connections (pinging stale ones) or new connections. */
  #dispatch(): void {
    while (this.#waiters.length > 0 && !this.#closed && this.#busy.size < this.limit) {
      const slot = this.#idle.pop();
      if (slot) {
        const waiter = this.#waiters.shift()!;
        void this.#checkAndHand(waiter, slot);
        continue;
      }
      if (this.size < this.limit && this.#connecting < this.#waiters.length) {
        this.#connecting++;
        this.#newSlot().then(
          (fresh) => {
            this.#connecting--;
            const waiter = this.#waiters.shift();
            if (waiter && !this.#closed) this.#handTo(waiter, fresh, this.#opts.clock.now());
            else if (this.#closed) this.#destroy(fresh);
            else {
              this.#idle.push(fresh);
            }
            this.#dispatch();
          },
          (error: unknown) => {
            this.#connecting--;
            // A caller is waiting for exactly this: tell it now rather than at the acquire timeout.
            const waiter = this.#waiters.shift();
            if (waiter) {
              waiter.detachSignal?.();
              waiter.reject(error);
            } else this.#opts.onBackgroundError?.(error);
          },
        );
        continue;
      }
      break;
    }
  }

  async #checkAndHand(waiter: Waiter<C>, slot: Slot<C>): Promise<void> {
    const now = this.#opts.clock.now();
    let healthy = !slot.conn.broken && now < slot.expiresAt;
    if (healthy && now - slot.lastUsedAt > this.#opts.validateAfterIdleMs) {
      try {
        await slot.conn.ping();
      } catch {
        healthy = false;
      }
    }
    if (!healthy) {
      if (slot.conn.broken || now < slot.expiresAt) this.#evicted++;
      void this.#destroy(slot);
      this.#waiters.unshift(waiter);
      this.#dispatch();
      return;
    }
    if (this.#closed) {
      void this.#destroy(slot);
      waiter.reject(closedError());
      return;
    }
    this.#handTo(waiter, slot, this.#opts.clock.now());
  }

  async #newSlot(): Promise<Slot<C>> {
    const conn = await this.#factory.create();
    this.#created++;
    const now = this.#opts.clock.now();
    const jitter = Math.random() * this.#opts.lifetimeJitterMs;
    return {
      conn,
      createdAt: now,
      expiresAt: now + this.#opts.maxLifetimeMs - jitter,
      lastUsedAt: now,
      holder: undefined,
      heldSince: 0,
    };
  }

  async #destroy(slot: Slot<C>): Promise<void> {
    this.#destroyed++;
    try {
      await slot.conn.close();
    } catch {
      // Closing a dead socket fails; the connection is gone either way.
    }
  }

  #scheduleReaper(): void {
    const every = Math.max(250, Math.min(this.#opts.idleTimeoutMs, 10_000) / 2);
    this.#cancelReaper = this.#opts.clock.setTimer(every, () => {
      this.#reap();
      if (!this.#closed) this.#scheduleReaper();
    });
  }

  /** Connections kept open while idle: `min`, or with the adaptive limit the recent peak demand within it. */
  #keep(now: number): number {
    return Math.max(this.#opts.min, this.#limiter?.warm(now) ?? 0);
  }

  /** Closes connections idle too long (down to what is kept), retired or broken; tops up to min. */
  #reap(): void {
    const now = this.#opts.clock.now();
    const keep = this.#keep(now);
    for (let i = this.#idle.length - 1; i >= 0; i--) {
      const slot = this.#idle[i]!;
      const tooIdle = now - slot.lastUsedAt > this.#opts.idleTimeoutMs && this.size > keep;
      if (slot.conn.broken || now >= slot.expiresAt || tooIdle) {
        if (slot.conn.broken) this.#evicted++;
        this.#idle.splice(i, 1);
        void this.#destroy(slot);
      }
    }
    this.#openUpTo(this.#opts.min);
  }

  /** Opens idle connections, all at once, until the pool has `target` (never above the limit). */
  #openUpTo(target: number): void {
    const goal = Math.min(target, this.limit);
    while (this.size < goal && !this.#closed) {
      this.#connecting++;
      this.#newSlot().then(
        (slot) => {
          this.#connecting--;
          if (this.#closed || this.size >= this.limit) void this.#destroy(slot);
          else {
            this.#idle.push(slot);
            this.#dispatch();
          }
        },
        (error: unknown) => {
          this.#connecting--;
          this.#opts.onBackgroundError?.(error);
        },
      );
    }
  }

  #scheduleTick(): void {
    this.#cancelTick = this.#opts.clock.setTimer(TICK_MS, () => {
      this.#tick();
      if (!this.#closed) this.#scheduleTick();
    });
  }

  /**
   * The adaptive limit's housekeeping: lowers it after a period of low demand, closes idle connections
   * above it, and opens connections up to the recent peak demand, so the
   * next burst finds them open instead of paying one connect after another.
   */
  #tick(): void {
    const limiter = this.#limiter!;
    const now = this.#opts.clock.now();
    limiter.demand(this.#busy.size + this.#waiters.length, now);
    const head = this.#waiters[0];
    if (head !== undefined && now - head.since >= TICK_MS && this.#released === this.#releasedAtTick) {
      limiter.stalled();
      this.#dispatch();
    }
    this.#releasedAtTick = this.#released;
    limiter.tick(now);
    // Parked connections above the limit (least recently used first) close once unused for PARK_MS, or
    // for as long as demand is remembered when that is shorter.
    const parkMs = Math.min(PARK_MS, this.#opts.adaptive!.memoryMs);
    while (this.size > limiter.limit && this.#idle.length > 0 && now - this.#idle[0]!.lastUsedAt >= parkMs) {
      void this.#destroy(this.#idle.shift()!);
    }
    this.#openUpTo(this.#keep(now));
  }

  #exhaustedError(label: string): DatabaseError {
    const holders = this.holders().sort((a, b) => b.heldMs - a.heldMs);
    const grouped = new Map<string, { count: number; longestMs: number }>();
    for (const h of holders) {
      const g = grouped.get(h.label) ?? { count: 0, longestMs: 0 };
      g.count++;
      g.longestMs = Math.max(g.longestMs, h.heldMs);
      grouped.set(h.label, g);
    }
    const summary = [...grouped]
      .map(([name, g]) => `${name} ×${g.count} (longest ${g.longestMs} ms)`)
      .join(', ');
    return new DatabaseError(
      DbErrorCode.PoolExhausted,
      `No connection for "${label}" within ${this.#opts.acquireTimeoutMs} ms: all ${this.#busy.size} of ${this.limit} are held by ${summary || 'connections being opened'}`,
      {
        details: {
          holders,
          max: this.#opts.max,
          limit: this.limit,
          waiting: this.#waiters.length,
          acquireTimeoutMs: this.#opts.acquireTimeoutMs,
        },
      },
    );
  }
}

/** How often the adaptive limit's housekeeping runs (ms). */
const TICK_MS = 250;
/** How long a connection above the adaptive limit stays open unused, in case the limit comes back up. */
const PARK_MS = 5_000;

function closedError(): DatabaseError {
  return new DatabaseError(DbErrorCode.Closed, 'The database is closed');
}
