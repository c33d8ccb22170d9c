import type { Clock, Logger } from '../core/index.js';
import type { CacheCounters } from './cache-metrics.js';
import { CommandGuard, FAILED } from './command-guard.js';
import type { RedisClient } from './redis-client.js';
import { RedisKeys } from './redis-keys.js';

export interface HotKeyOptions {
  /** One read in this many is recorded (every Nth read, no randomness; default 16). */
  sampleEvery?: number;
  /** Sampled reads are sent to Redis in one pipeline this often (ms, default 5,000). */
  flushIntervalMs?: number;
  /** Length of one counting window (ms, default 60,000). */
  windowMs?: number;
  /** Windows kept: the history spans `windowMs × windows` (default 30). */
  windows?: number;
  /** A window's weight halves every `halfLifeMs` of age (ms, default 300,000). */
  halfLifeMs?: number;
  /** Keys kept per window, the top by count (default 1,000); four times as many are counted between flushes. */
  maxKeys?: number;
  /** Flushes and reads give up after this long (ms, default 1,000). */
  timeoutMs?: number;
}

export type ResolvedHotKeyOptions = Required<HotKeyOptions>;

export const HOT_KEY_DEFAULTS: ResolvedHotKeyOptions = {
  sampleEvery: 16,
  flushIntervalMs: 5_000,
  windowMs: 60_000,
  windows: 30,
  halfLifeMs: 300_000,
  maxKeys: 1_000,
  timeoutMs: 1_000,
};

export interface HotKeyRecorderOptions extends ResolvedHotKeyOptions {
  client: RedisClient;
  namespace: string;
  clock: Clock;
  logger: Logger;
  counters: CacheCounters;
}

/** A key and its decayed count of reads (sampled reads × `sampleEvery`). */
export interface HotKey {
  key: string;
  score: number;
}

/**
 * Counts the cache's reads per key in Redis, so that a process starting later knows what was read.
 * Reads are sampled (every `sampleEvery`th) into a local map, and every `flushIntervalMs` one pipeline
 * adds the counts to the current window's sorted set (`{namespace}:hot:<window>`), keeps its top
 * `maxKeys` and sets it to expire with the history. Reading the history is one ZUNION of the windows
 * weighted by age (halving every `halfLifeMs`): recent reads count most, old ones fade out, and no
 * score ever needs rewriting. Only keys `accept` admits are recorded (the cache admits the keys a
 * warmer can load again), so nothing else a caller uses as a key reaches Redis here. Redis failures are
 * counted and dropped: recording never fails or slows a read.
 */
export class HotKeyRecorder {
  readonly #o: HotKeyRecorderOptions;
  readonly #keys: RedisKeys;
  readonly #guard: CommandGuard;
  readonly #accept: (key: string) => boolean;
  #pending = new Map<string, number>();
  #cancelFlush: (() => void) | undefined;
  #flushing: Promise<void> | undefined;
  #closed = false;

  constructor(options: HotKeyRecorderOptions, accept: (key: string) => boolean) {
    this.#o = options;
    this.#keys = new RedisKeys(options.namespace);
    this.#guard = new CommandGuard(options);
    this.#accept = accept;
  }

  /** Records one sampled read of `key` (counted as `sampleEvery` reads); no I/O. */
  note(key: string): void {
    if (this.#closed) return;
    const pending = this.#pending;
    const n = pending.get(key);
    if (n !== undefined) pending.set(key, n + 1);
    else if (pending.size < this.#o.maxKeys * 4 && this.#accept(key)) pending.set(key, 1);
    if (this.#cancelFlush === undefined && pending.size > 0) {
      this.#cancelFlush = this.#o.clock.setTimer(this.#o.flushIntervalMs, () => {
        this.#cancelFlush = undefined;
        void this.flush();
      });
    }
  }

  /** Keys recorded and not yet sent. */
  get pendingKeys(): number {
    return this.#pending.size;
  }

  /** Sends the sampled reads to Redis now (one pipeline); resolves when Redis answered or gave up. */
  flush(): Promise<void> {
    if (this.#flushing) return this.#flushing.then(() => this.flush());
    if (this.#pending.size === 0) return Promise.resolve();
    const batch = this.#pending;
    this.#pending = new Map();
    this.#flushing = this.#send(batch).finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  async #send(batch: Map<string, number>): Promise<void> {
    const { client, clock, windowMs, windows, maxKeys, sampleEvery } = this.#o;
    const set = this.#keys.hotWindow(Math.floor(clock.now() / windowMs));
    // All of the pipeline's keys are one key in the namespace's slot: legal on Redis Cluster.
    const p = client.pipeline();
    for (const [key, n] of batch) p.zincrby(set, n * sampleEvery, key);
    p.zremrangebyrank(set, 0, -(maxKeys + 1));
    p.pexpire(set, windowMs * windows);
    const result = await this.#guard.run(p.exec(), 'hot-keys');
    if (result !== FAILED && result !== null) {
      const failed = result.find(([error]) => error !== null);
      if (failed) {
        this.#o.counters.redisErrors++;
        this.#o.logger.debug({ op: 'hot-keys' }, 'cache: hot-key flush failed');
      }
    }
  }

  /**
   * The `limit` keys read most in the recorded history, hottest first, with their decayed counts. Empty
   * when Redis fails or is too slow.
   */
  async top(limit: number): Promise<HotKey[]> {
    if (limit <= 0) return [];
    const { client, clock, windowMs, windows, halfLifeMs } = this.#o;
    const current = Math.floor(clock.now() / windowMs);
    const sets: string[] = [];
    const weights: string[] = [];
    for (let age = 0; age < windows; age++) {
      sets.push(this.#keys.hotWindow(current - age));
      weights.push(String(0.5 ** ((age * windowMs) / halfLifeMs)));
    }
    const reply = await this.#guard.run(
      client.zunion(sets.length, ...sets, 'WEIGHTS', ...weights, 'WITHSCORES') as Promise<string[]>,
      'hot-keys-top',
    );
    if (reply === FAILED) return [];
    const all: HotKey[] = [];
    // Ascending by score: the hottest are at the end.
    for (let i = reply.length - 2; i >= 0 && all.length < limit; i -= 2) {
      all.push({ key: reply[i]!, score: Number(reply[i + 1]) });
    }
    return all;
  }

  /** Sends what is pending, then stops. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#cancelFlush?.();
    this.#cancelFlush = undefined;
    await this.flush();
    this.#guard.dispose();
  }
}
