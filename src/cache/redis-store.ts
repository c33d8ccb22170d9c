import type { Clock, Logger } from '../core/index.js';
import type { CacheCounters } from './cache-metrics.js';
import { CommandGuard, FAILED, type Failed } from './command-guard.js';
import { deleteMatching } from './delete-matching.js';
import { decodeHit, type L2Hit } from './l2-hit.js';
import { ReadBatcher } from './read-batcher.js';
import type { RedisClient } from './redis-client.js';
import { RedisKeys } from './redis-keys.js';
import { type ScriptClient, withScripts } from './redis-scripts.js';

/** Tag and key generations read before a load, checked again (atomically) when its result is stored. */
export type GenerationSnapshot = readonly string[];

export interface RedisStoreOptions {
  client: RedisClient;
  namespace: string;
  clock: Clock;
  logger: Logger;
  counters: CacheCounters;
  /** Every command gives up after this long (ms). */
  timeoutMs: number;
  /** How long generation keys live after their last bump (ms). Must outlast any loader. */
  generationTtlMs: number;
}

/**
 * L2: entries in Redis under `{namespace}:k:<key>`, per-tag and per-key generations, tag → keys sets and
 * the stampede lease. Every method is guarded: on error or timeout it counts, logs at debug and returns
 * FAILED (or a neutral value), never throws, so Redis trouble never fails a request.
 */
export class RedisStore {
  readonly client: RedisClient;
  readonly #scripts: ScriptClient;
  readonly #keys: RedisKeys;
  readonly #guard: CommandGuard;
  readonly #reads: ReadBatcher;
  readonly #counters: CacheCounters;
  readonly #logger: Logger;
  readonly #generationTtlMs: number;

  constructor(options: RedisStoreOptions) {
    this.client = options.client;
    this.#keys = new RedisKeys(options.namespace);
    this.#counters = options.counters;
    this.#logger = options.logger;
    this.#generationTtlMs = options.generationTtlMs;
    this.#guard = new CommandGuard(options);
    this.#reads = new ReadBatcher({ ...options, guard: this.#guard });
    this.#scripts = withScripts(this.client);
  }

  /** The entry, null on a miss, FAILED when Redis failed or the bytes were unreadable. */
  get(key: string): Promise<L2Hit | null | Failed> {
    return this.#reads.read(this.#keys.entry(key), undefined) as Promise<L2Hit | null | Failed>;
  }

  /** `get(key).then(then)` without the extra promise hop (the cache's L2-hit path). */
  getThen<R>(key: string, then: (hit: L2Hit | null | Failed) => R | PromiseLike<R>): Promise<R> {
    return this.#reads.read(
      this.#keys.entry(key),
      then as (hit: L2Hit | null | Failed) => unknown,
    ) as Promise<R>;
  }

  /**
   * Generations of the namespace, the key and each tag, read before a load starts. The load's result is
   * stored only if they are unchanged at store time (checked inside Redis, so no clock is involved).
   */
  async snapshot(key: string, tags: readonly string[]): Promise<GenerationSnapshot | Failed> {
    const values = await this.#guard.run(this.client.mget(this.#keys.generations(key, tags)), 'snapshot');
    if (values === FAILED) return FAILED;
    return values.map((v) => v ?? '0');
  }

  /** Stores if no generation moved since `snapshot`: true stored, false rejected, FAILED unknown. */
  async setIfUnchanged(
    key: string,
    bytes: Buffer,
    ttlMs: number,
    tags: readonly string[],
    snapshot: GenerationSnapshot,
  ): Promise<boolean | Failed> {
    const genKeys = this.#keys.generations(key, tags);
    const keys = [this.#keys.entry(key), ...genKeys, ...tags.map((t) => this.#keys.tagSet(t))];
    const args: Array<string | number | Buffer> = [keys.length, ...keys, bytes, pxOf(ttlMs)];
    args.push(genKeys.length, ...snapshot);
    const result = await this.#guard.run(this.#scripts.opusCacheSetIfGen(...args), 'set');
    return result === FAILED ? FAILED : result === 1;
  }

  /** Unconditional write (an explicit `set`); bumps the key's generation. */
  async put(key: string, bytes: Buffer, ttlMs: number, tags: readonly string[]): Promise<boolean> {
    const keys = [
      this.#keys.entry(key),
      this.#keys.keyGeneration(key),
      ...tags.map((t) => this.#keys.tagSet(t)),
    ];
    const result = await this.#guard.run(
      this.#scripts.opusCachePut(keys.length, ...keys, bytes, pxOf(ttlMs), this.#generationTtlMs),
      'put',
    );
    return result !== FAILED;
  }

  /**
   * Bumps the generations of `keys` and `tags` (and the namespace's, on `all`), deletes those entries and
   * every entry recorded under the tags, atomically. Returns false when Redis could not be reached.
   */
  async invalidate(keys: readonly string[], tags: readonly string[], all = false): Promise<boolean> {
    const { gens, entries, sets } = this.#keys.invalidation(keys, tags, all);
    const allKeys = [...gens, ...entries, ...sets];
    const result = await this.#guard.run(
      this.#scripts.opusCacheInvalidate(
        allKeys.length,
        ...allKeys,
        gens.length,
        entries.length,
        this.#generationTtlMs,
      ),
      'invalidate',
    );
    if (result === FAILED) return false;
    // Entries, tag sets and leases go; generation keys stay (they are what rejects older loads).
    if (all) return deleteMatching(this.client, this.#keys.clearPatterns(), this.#guard);
    return true;
  }

  /**
   * `invalidate(keys, tags)` and, only if the generations of `key` and `entryTags` still equal `snapshot`
   * (as they were before this invalidation's bumps), stores `bytes` under `key` as `setIfUnchanged` does:
   * one script, so no reader sees the entry missing in between. True replaced, false invalidated only
   * (a generation had moved), FAILED unknown (the script may or may not have run).
   */
  async invalidateAndSet(
    keys: readonly string[],
    tags: readonly string[],
    key: string,
    bytes: Buffer,
    ttlMs: number,
    entryTags: readonly string[],
    snapshot: GenerationSnapshot,
  ): Promise<boolean | Failed> {
    const check = this.#keys.generations(key, entryTags);
    const { gens, entries, sets } = this.#keys.invalidation(keys, tags, false);
    const allKeys = [
      this.#keys.entry(key),
      ...check,
      ...gens,
      ...entries,
      ...sets,
      ...entryTags.map((t) => this.#keys.tagSet(t)),
    ];
    const result = await this.#guard.run(
      this.#scripts.opusCacheInvalidateSet(
        allKeys.length,
        ...allKeys,
        bytes,
        pxOf(ttlMs),
        check.length,
        ...snapshot,
        gens.length,
        entries.length,
        sets.length,
        this.#generationTtlMs,
      ),
      'invalidate-set',
    );
    return result === FAILED ? FAILED : result === 1;
  }

  /** SET NX PX: true when this process now holds the key's load lease. */
  async acquireLease(key: string, owner: string, ttlMs: number): Promise<boolean | Failed> {
    const result = await this.#guard.run(
      this.client.set(this.#keys.lease(key), owner, 'PX', pxOf(ttlMs), 'NX'),
      'lease',
    );
    return result === FAILED ? FAILED : result === 'OK';
  }

  async releaseLease(key: string, owner: string): Promise<void> {
    await this.#guard.run(this.#scripts.opusCacheRelease(this.#keys.lease(key), owner), 'release');
  }

  /** One round trip while waiting on another process's lease: the entry if stored, and whether the lease is held. */
  async pollLease(key: string): Promise<{ hit: L2Hit | null; leased: boolean } | Failed> {
    const values = await this.#guard.run(
      this.client.mgetBuffer(this.#keys.entry(key), this.#keys.lease(key)),
      'poll',
    );
    if (values === FAILED) return FAILED;
    const [bytes, lease] = values;
    const hit = bytes ? decodeHit(bytes, this.#counters, this.#logger) : null;
    return { hit, leased: lease !== null && lease !== undefined };
  }

  /** Stops the command timeouts' sweeper; commands still in flight give up now. */
  dispose(): void {
    this.#guard.dispose();
  }
}

/** A PX argument: whole milliseconds, at least 1. */
function pxOf(ttlMs: number): number {
  return Math.max(1, Math.ceil(ttlMs));
}
