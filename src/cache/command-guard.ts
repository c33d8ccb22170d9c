import type { Clock, Logger } from '../core/index.js';
import type { CacheCounters } from './cache-metrics.js';
import { CacheErrorCode } from './errors.js';
import { errorSummary } from './log-fields.js';

/** What a guarded Redis call returns when Redis failed or was too slow. */
export const FAILED: unique symbol = Symbol('redis-failed');
export type Failed = typeof FAILED;

/** A caller's promise and the continuation to run in the callback that settles it. */
export interface Settlement<V> {
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  next: ((value: V) => unknown) | undefined;
}

/** Settles `s` with `value`, passed through its continuation when it has one. */
export function settle<V>(s: Settlement<V>, value: V): void {
  if (s.next === undefined) {
    s.resolve(value);
    return;
  }
  try {
    s.resolve(s.next(value));
  } catch (error) {
    s.reject(error);
  }
}

interface Guard extends Settlement<unknown> {
  deadline: number;
  op: string;
  done: boolean;
}

export interface CommandGuardOptions {
  clock: Clock;
  logger: Logger;
  counters: CacheCounters;
  /** Every command gives up after this long (ms). */
  timeoutMs: number;
}

/**
 * Races Redis commands against the timeout. A command is not cancelled (Redis has no way to), but its
 * caller moves on to L1 and the loader. One sweeper timer serves every command in flight instead of a
 * timer each. All commands share one timeout and Redis answers in order, so a FIFO queue with a `done`
 * flag suffices: no Set whose hashing and resizing would show on the L2-hit path. A command gives up
 * between `timeoutMs` and 1.5 × `timeoutMs` after it was sent. Errors and timeouts are counted and
 * logged at debug, never thrown.
 */
export class CommandGuard {
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #counters: CacheCounters;
  readonly #timeoutMs: number;
  #queue: Guard[] = [];
  #head = 0;
  #sweepCancel: (() => void) | undefined;

  constructor(options: CommandGuardOptions) {
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#counters = options.counters;
    this.#timeoutMs = options.timeoutMs;
  }

  /**
   * `command`, given up on after the timeout (FAILED, never a rejection). `then`, when given, runs in the
   * same callback that settles the command: on the L2-hit path every promise hop costs as much as the
   * decode, and the raw GET it is measured against has one.
   */
  run<T, R = T | Failed>(
    command: Promise<T>,
    op: string,
    then?: (value: T | Failed) => R | PromiseLike<R>,
  ): Promise<R> {
    let g!: Guard;
    const promise = new Promise<R>((resolve, reject) => {
      g = {
        deadline: this.#clock.now() + this.#timeoutMs,
        op,
        done: false,
        resolve: resolve as (value: unknown) => void,
        reject,
        next: then as ((value: unknown) => unknown) | undefined,
      };
    });
    this.#queue.push(g);
    if (this.#sweepCancel === undefined) this.#scheduleSweep();
    command.then(
      (value) => {
        if (g.done) return;
        g.done = true;
        this.#dropSettled();
        settle(g, value);
      },
      (error: unknown) => {
        if (g.done) return;
        g.done = true;
        this.#dropSettled();
        this.#counters.redisErrors++;
        this.#logger.debug(
          { op, code: CacheErrorCode.Redis, err: errorSummary(error) },
          'cache: Redis command failed',
        );
        settle(g, FAILED);
      },
    );
    return promise;
  }

  /** Stops the sweeper; commands still in flight give up now. */
  dispose(): void {
    this.#sweepCancel?.();
    this.#sweepCancel = undefined;
    for (let i = this.#head; i < this.#queue.length; i++) {
      const g = this.#queue[i]!;
      if (!g.done) {
        g.done = true;
        settle(g, FAILED);
      }
    }
    this.#queue = [];
    this.#head = 0;
  }

  /** Advances past settled guards at the head; compacts now and then so the array does not grow. */
  #dropSettled(): void {
    const q = this.#queue;
    while (this.#head < q.length && q[this.#head]!.done) this.#head++;
    if (this.#head === q.length) {
      q.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > q.length) {
      this.#queue = q.slice(this.#head);
      this.#head = 0;
    }
  }

  #scheduleSweep(): void {
    this.#sweepCancel = this.#clock.setTimer(Math.max(1, this.#timeoutMs / 2), this.#sweep);
  }

  readonly #sweep = (): void => {
    this.#sweepCancel = undefined;
    this.#dropSettled();
    const first = this.#queue[this.#head];
    if (first !== undefined && first.deadline <= this.#clock.now()) {
      // Timers run before sockets are read: after a blocked event loop, replies may already be waiting.
      // Expiring from setImmediate (after the poll phase) times out only commands really unanswered.
      setImmediate(this.#expireDue);
    } else if (first !== undefined) {
      this.#scheduleSweep();
    }
  };

  readonly #expireDue = (): void => {
    const now = this.#clock.now();
    const q = this.#queue;
    while (this.#head < q.length) {
      const g = q[this.#head]!;
      if (!g.done) {
        if (g.deadline > now) break;
        g.done = true;
        this.#counters.redisTimeouts++;
        this.#logger.debug(
          { op: g.op, code: CacheErrorCode.Timeout, timeoutMs: this.#timeoutMs },
          'cache: Redis command timed out',
        );
        settle(g, FAILED);
      }
      this.#head++;
    }
    this.#dropSettled();
    if (this.#head < this.#queue.length && this.#sweepCancel === undefined) this.#scheduleSweep();
  };
}
