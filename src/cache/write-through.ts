import { type Clock, InvalidArgumentError, type Logger } from '../core/index.js';
import type { Invalidation } from './cache-bus.js';
import { newEntry } from './cache-entry.js';
import type { CacheCounters } from './cache-metrics.js';
import type { EntryDefaults, EntryOptions, RefreshRequest } from './cache-options.js';
import type { CacheResult } from './cache-result.js';
import type { CoherentL1 } from './coherent-l1.js';
import { FAILED } from './command-guard.js';
import { closedError } from './errors.js';
import { type Loader, runLoader } from './loader.js';
import { errorSummary, safeKey } from './log-fields.js';
import type { L1Entry } from './memory-store.js';
import type { PendingInvalidations } from './pending-invalidations.js';
import type { RedisStore } from './redis-store.js';
import { encodeEntry } from './serializer.js';

const NO_TAGS: readonly string[] = Object.freeze([]);

export interface WriteThroughOptions {
  l1: CoherentL1;
  l2: RedisStore | undefined;
  pending: PendingInvalidations;
  counters: CacheCounters;
  clock: Clock;
  logger: Logger;
  defaults: EntryDefaults;
  /** Given to every loader; aborted when the cache closes. */
  signal: AbortSignal;
  // The cache's own steps, which write-through composes.
  isClosed(): boolean;
  /** Starts a refresh load of `key` that readers of `key` join; records in `outcome` whether it stored. */
  startRefresh(
    key: string,
    loader: Loader<unknown>,
    options: EntryOptions,
    outcome: { stored: boolean },
  ): Promise<CacheResult<unknown>>;
  /** A full invalidation (here, in Redis, on the bus), with a refresh started once the generations moved. */
  invalidate(inv: Invalidation, refresh: RefreshRequest | undefined): Promise<void>;
  /** Drops what `inv` covers in this process (L1, running loads). */
  applyInvalidation(inv: Invalidation): void;
  /** Sends `inv` on the bus (kept pending when it cannot be sent). */
  publish(inv: Invalidation): Promise<void>;
}

/**
 * Write-through after a committed write: `refresh` (load again and store as a miss would) and
 * `replace` (invalidate and store the new value in one Redis script). Tracks those running, so that
 * `drain()` (and the cache's `close()`) can wait for them.
 */
export class WriteThrough {
  readonly #o: WriteThroughOptions;
  readonly #running = new Set<Promise<boolean>>();

  constructor(options: WriteThroughOptions) {
    this.#o = options;
  }

  /** See `Cache.refresh`. */
  refresh<T>(key: string, loader: Loader<T>, options: EntryOptions = {}): Promise<boolean> {
    const bad = badKeyOrLoader('refresh', key, loader);
    if (bad) return Promise.reject(bad);
    if (this.#o.isClosed() || (!this.#o.l1.entries && !this.#o.l2)) return Promise.resolve(false);
    const outcome = { stored: false };
    const done = this.#o.startRefresh(key, loader, options, outcome).then(
      () => outcome.stored,
      (error: unknown) => {
        this.#failed(key, error);
        return false;
      },
    );
    this.#track(done);
    return done;
  }

  /** See `Cache.invalidateAndReplace`. */
  replace(tags: readonly string[], replace: RefreshRequest): Promise<boolean> {
    if (this.#o.isClosed()) return Promise.reject(closedError());
    if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string'))
      return Promise.reject(
        new InvalidArgumentError('invalidateAndReplace: tags must be an array of strings'),
      );
    const bad = badKeyOrLoader('invalidateAndReplace', replace?.key, replace?.loader);
    if (bad) return Promise.reject(bad);
    const done = this.#replace({ keys: NO_TAGS, tags, all: false }, replace);
    this.#track(done);
    return done;
  }

  /** Resolves once every refresh and replacement started so far has finished. */
  async drain(): Promise<void> {
    while (this.#running.size > 0) await Promise.all([...this.#running]);
  }

  #track(done: Promise<boolean>): void {
    this.#running.add(done);
    const forget = (): void => {
      this.#running.delete(done);
    };
    done.then(forget, forget);
  }

  async #replace(inv: Invalidation, r: RefreshRequest): Promise<boolean> {
    const { l1, l2, counters, clock } = this.#o;
    const { key } = r;
    const options = r.options ?? {};
    const tags = options.tags ?? NO_TAGS;
    // Invalidations not yet replayed (Redis was down) have not moved the generations: an unchanged
    // snapshot would prove nothing.
    if (!l2 || this.#o.pending.any) return this.#fallBack(inv, r);
    // Why this is safe. The snapshot S is read at t_s, after our COMMIT; the row at t_r > t_s; the
    // script at t_l checks that no generation moved in (t_s, t_l). The row holds every write committed
    // before t_r. A write W' committed after t_r bumps the generations only after its commit: before t_l
    // the check fails and nothing is stored; after t_l, W''s own script deletes or replaces our entry.
    // Either way, once W' has resolved the cache holds W''s row, a newer one, or nothing.
    const watch = l1.watch();
    const snapshot = await l2.snapshot(key, tags);
    if (snapshot === FAILED) return this.#fallBack(inv, r);
    counters.writeThroughRefreshes++;
    let value: unknown;
    try {
      value = await runLoader('cache.refresh', key, r.loader, this.#o.signal);
    } catch (error) {
      this.#failed(key, error);
      return this.#fallBack(inv, undefined);
    }
    let entry: L1Entry;
    let bytes: Buffer;
    try {
      entry = newEntry(value, options, this.#o.defaults, clock.now());
      bytes = encodeEntry(entry);
    } catch (error) {
      counters.serializationErrors++;
      this.#o.logger.warn({ key: safeKey(key), err: errorSummary(error) }, 'cache: value not cacheable');
      return this.#fallBack(inv, undefined);
    }
    const ttlMs = entry.staleUntil - clock.now();
    const replaced = await l2.invalidateAndSet(inv.keys, inv.tags, key, bytes, ttlMs, tags, snapshot);
    if (replaced === FAILED) {
      // The script may or may not have run: invalidate here now and in Redis once it answers again.
      counters.writeThroughFallbacks++;
      this.#o.applyInvalidation(inv);
      this.#o.pending.add(inv);
      return false;
    }
    // Asked before our own invalidation is logged. Another one applied here since the snapshot may come
    // from a write newer than our row whose script ran after ours: its bus message travels on another
    // connection than our script's reply and can be read first. Then L1 must not take our row.
    const overtaken = l1.invalidatedSince(watch, key, tags);
    this.#o.applyInvalidation(inv);
    if (replaced) {
      counters.writeThroughReplaced++;
      // A gap or bus outage since the snapshot leaves it untrusted, as for any load.
      if (!overtaken) l1.put(key, entry, bytes.length, l1.epochFor(watch));
      await this.#o.publish(inv);
      return true;
    }
    counters.writeThroughRefused++;
    counters.writeThroughFallbacks++;
    // A concurrent write moved a generation; the script invalidated regardless, so the entry is gone
    // everywhere. A refresh, guarded like any load, brings the newest row back.
    await Promise.all([this.#o.publish(inv), this.refresh(key, r.loader, options)]);
    return false;
  }

  /** Invalidates as `invalidateTags` does, with `refresh` (undefined: invalidate only). */
  async #fallBack(inv: Invalidation, refresh: RefreshRequest | undefined): Promise<false> {
    this.#o.counters.writeThroughFallbacks++;
    await this.#o.invalidate(inv, refresh);
    return false;
  }

  #failed(key: string, error: unknown): void {
    this.#o.counters.writeThroughErrors++;
    const logger = this.#o.logger;
    const log = this.#o.isClosed() ? logger.debug : logger.warn;
    log.call(logger, { key: safeKey(key), err: errorSummary(error) }, 'cache: write-through refresh failed');
  }
}

/** The error for a call whose key is not a string or whose loader is not a function, if it is one. */
function badKeyOrLoader(method: string, key: unknown, loader: unknown): InvalidArgumentError | undefined {
  if (typeof key !== 'string') return new InvalidArgumentError(`${method}: key must be a string`);
  if (typeof loader !== 'function') return new InvalidArgumentError(`${method}: loader must be a function`);
  return undefined;
}
