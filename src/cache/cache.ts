import { randomUUID } from 'node:crypto';
import {
  type Clock,
  coarseNow,
  InvalidArgumentError,
  type Logger,
  raceSignal,
  redactSecrets,
  silentLogger,
  systemClock,
  throwIfAborted,
} from '../core/index.js';
import { endSpan, startSpan } from '../core/tracing.js';
import { CacheBus, type Invalidation } from './cache-bus.js';
import { CacheCounters, type CacheMetricsSnapshot, snapshotCounters } from './cache-metrics.js';
import { CacheError, CacheErrorCode } from './errors.js';
import { type L1Entry, MemoryStore, type MemoryStoreOptions } from './memory-store.js';
import { FAILED, type GenerationSnapshot, type L2Hit, type RedisClient, RedisStore } from './redis-store.js';
import { encode, encodeEntry } from './serializer.js';

export interface RedisLayerOptions {
  /** Command connection (a Redis or a Cluster). Create it with `redisClientOptions()` so commands fail fast while down. */
  client: RedisClient;
  /** Pub/sub connection for the invalidation bus; default `client.duplicate()` (then closed by `close()`). */
  subscriber?: RedisClient;
  /** Every Redis operation gives up after this many ms and the cache falls back to L1 and the loader (default 50). */
  timeoutMs?: number;
  /** Cross-process stampede protection: one process loads a missing key, the others wait (default off). */
  lease?: boolean | LeaseOptions;
  /** How long an invalidation waits for the other processes to drop their L1 copies (ms, default 100). */
  ackTimeoutMs?: number;
  /**
   * Bounded staleness (ms, default 100; false: unbounded). An L1 entry is served only while this process
   * has heard from the bus within this many ms, so no read returns a value older than this after another
   * process's write was acknowledged, even when this process's event loop is too busy to receive the
   * bus's messages; past it, the read goes to Redis (and the loader), whose I/O lets the bus catch up.
   * Costs one PUBLISH every `maxStalenessMs / 4` ms (at least 5) per cache, on a channel only it hears.
   * While Redis is unreachable, L1 entries are refused after this long too.
   */
  maxStalenessMs?: number | false;
  /** Generation keys live this long after their last bump (ms, default 24 h); must outlast any loader. */
  generationTtlMs?: number;
  /** Also `quit` the command client on `close()` (default false: the caller owns it). */
  closeClient?: boolean;
}

export interface LeaseOptions {
  /** Lease lifetime in Redis (ms, default 5,000): how long others wait if the holder dies. */
  ttlMs?: number;
  /** Most a waiter waits for the holder's result before running the loader itself (ms, default 2,000). */
  waitMs?: number;
  /** Poll interval while waiting (ms, default 10). */
  pollMs?: number;
}

export interface CacheOptions {
  /** Prefix of every Redis key and channel (default 'cache'). Keys are `{namespace}:k:<key>`. */
  namespace?: string;
  /** L1 bounds, or false for no L1 (every read goes to Redis). Default `{ maxEntries: 10_000 }`. */
  l1?: MemoryStoreOptions | false;
  /** L2 and the invalidation bus; omit for a memory-only cache. */
  redis?: RedisLayerOptions;
  /** Fresh lifetime when a call gives none (ms, default 300,000: the seed's 300 s). */
  defaultTtl?: number;
  /** Grace after expiry when a call gives none (ms, default 0). */
  defaultGrace?: number;
  clock?: Clock;
  logger?: Logger;
}

export interface EntryOptions {
  /** Fresh lifetime in ms. */
  ttl?: number;
  /** After `ttl`, how long the old value may still be served: while one refresh runs, or when the loader fails (ms). */
  grace?: number;
  /** Invalidation tags, e.g. `['videos', 'video:123']`. */
  tags?: readonly string[];
}

export interface GetOrSetOptions extends EntryOptions {
  /** Stops this caller's wait; the shared load itself carries on for the other callers. */
  signal?: AbortSignal;
}

export interface LoaderContext {
  key: string;
  /** Aborted when the cache is closed. */
  signal: AbortSignal;
}

export type Loader<T> = (context: LoaderContext) => Promise<T> | T;

export type CacheSource = 'l1' | 'l2' | 'loader';

export interface CacheResult<T> {
  value: T;
  /** True when the value is past its ttl (served inside grace, or as fail-safe when the loader failed). */
  stale: boolean;
  source: CacheSource;
}

/** A write-through refresh to start once an invalidation has moved the generations (see `refresh`). */
export interface RefreshRequest<T = unknown> {
  key: string;
  loader: Loader<T>;
  options?: EntryOptions;
}

export interface InvalidateOptions {
  /**
   * Write-through: `refresh(key, loader, options)` once the invalidation has bumped the generations in
   * Redis, while the other processes' acknowledgements are awaited. The invalidation resolves when both
   * are done; the refresh's failure is logged and counted, never thrown.
   */
  refresh?: RefreshRequest;
}

export interface WarmItem<T = unknown> {
  key: string;
  loader: Loader<T>;
  options?: EntryOptions;
}

/** ioredis options that make commands fail at once while disconnected instead of queueing. */
export function redisClientOptions(): {
  enableOfflineQueue: false;
  maxRetriesPerRequest: number;
  retryStrategy: (times: number) => number;
} {
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    // Keep reconnecting forever, at most every 500 ms, so the cache picks Redis up again on its own.
    retryStrategy: (times: number) => Math.min(50 * times, 500),
  };
}

/**
 * Where a read or load started: the coherence epoch and the local invalidation sequence. Before its result
 * goes into L1, the invalidations applied since (ours and those received on the bus) are checked against
 * the entry's key and tags. These are the "local generations"; Redis keeps the shared ones.
 */
interface Watch {
  epoch: number;
  seq: number;
}

/**
 * A load in progress, joined by concurrent misses of its key. `tags` lets an invalidation detach it;
 * `refresh` marks a write-through refresh (its waiters are counted apart, see `writeThroughWaits`).
 */
interface Inflight {
  promise: Promise<CacheResult<unknown>>;
  tags: readonly string[];
  refresh: boolean;
}

/**
 * Whom a load serves: 'read' a miss (its outcome is the read's hit or miss), 'background' a refresh
 * inside grace (the read was served already), an object a write-through refresh (records if it stored).
 */
type LoadKind = 'read' | 'background' | { stored: boolean };

/** Invalidations remembered for that check; a load that outlives this many is never stored in L1. */
const INVALIDATION_LOG = 1024;

const NO_TAGS: readonly string[] = Object.freeze([]);
/** Epoch of entries stored while L1 is untrusted: never equal to a live epoch, so only usable as fallback. */
const UNTRUSTED = -1;

/**
 * Two-level cache: L1 in process (lru-cache), L2 in Redis, kept coherent by a pub/sub bus, with per-tag and
 * per-key generations that keep a load which began before an invalidation from storing its result after it.
 * Memory-only when `redis` is omitted.
 */
export class Cache {
  readonly instanceId: string;
  readonly #l1: MemoryStore | undefined;
  readonly #l2: RedisStore | undefined;
  readonly #bus: CacheBus | undefined;
  readonly #ownedSubscriber: RedisClient | undefined;
  readonly #closeClient: boolean;
  readonly #clock: Clock;
  /** The clock to the millisecond, for the hit paths' freshness checks (see core's `coarseNow`). */
  readonly #now: () => number;
  readonly #logger: Logger;
  readonly #counters = new CacheCounters();
  readonly #defaultTtl: number;
  readonly #defaultGrace: number;
  readonly #lease: Required<LeaseOptions> | undefined;
  readonly #inflight = new Map<string, Inflight>();
  /** Write-through refreshes and replacements running, awaited by `drainRefreshes()` and `close()`. */
  readonly #refreshing = new Set<Promise<boolean>>();
  readonly #invalidationLog: Array<Invalidation | undefined> = new Array(INVALIDATION_LOG);
  #invalidationSeq = 0;
  /** Loads finished so far: a miss read before one finished may be outdated (see #l2First). */
  #loadsDone = 0;
  readonly #closing = new AbortController();
  /** L1 entries are trusted only when their epoch equals this; a gap or bus outage moves it on. */
  #epoch = 0;
  #l1Trusted: boolean;
  /**
   * L1 may serve until this time (clock ms): the send time of the last bus echo heard plus
   * `maxStalenessMs`. Infinity without a bus, or with the bound off.
   */
  #freshUntil = Number.POSITIVE_INFINITY;
  readonly #pending = { tags: new Set<string>(), keys: new Set<string>(), all: false };
  #retryTimer: (() => void) | undefined;
  #closed = false;

  constructor(options: CacheOptions = {}) {
    this.instanceId = randomUUID();
    this.#clock = options.clock ?? systemClock;
    this.#now = coarseNow(this.#clock);
    this.#logger = options.logger ?? silentLogger;
    this.#defaultTtl = options.defaultTtl ?? 300_000;
    this.#defaultGrace = options.defaultGrace ?? 0;
    const namespace = options.namespace ?? 'cache';
    this.#l1 = options.l1 === false ? undefined : new MemoryStore(options.l1 ?? {});
    const redis = options.redis;
    this.#closeClient = redis?.closeClient ?? false;
    const checked = maxStaleness(redis);
    if (!redis) {
      this.#l1Trusted = true;
      return;
    }
    // Without L1 there is nothing to bound, and no echo to send.
    const bound = this.#l1 ? checked : undefined;
    // Nothing heard yet: with a bound, L1 serves nothing until the bus is subscribed.
    if (bound !== undefined) this.#freshUntil = Number.NEGATIVE_INFINITY;
    // Until the bus is subscribed, an invalidation elsewhere could be missed: L1 is fallback-only.
    this.#l1Trusted = false;
    const timeoutMs = redis.timeoutMs ?? 50;
    this.#l2 = new RedisStore({
      client: redis.client,
      namespace,
      clock: this.#clock,
      logger: this.#logger,
      counters: this.#counters,
      timeoutMs,
      generationTtlMs: redis.generationTtlMs ?? 86_400_000,
    });
    if (redis.lease) {
      const l = redis.lease === true ? {} : redis.lease;
      this.#lease = { ttlMs: l.ttlMs ?? 5_000, waitMs: l.waitMs ?? 2_000, pollMs: l.pollMs ?? 10 };
    }
    let subscriber = redis.subscriber;
    if (!subscriber) {
      subscriber = redis.client.duplicate() as RedisClient;
      this.#ownedSubscriber = subscriber;
    }
    this.#bus = new CacheBus({
      publisher: redis.client,
      subscriber,
      channel: `${namespace}:bus`,
      instanceId: this.instanceId,
      clock: this.#clock,
      logger: this.#logger,
      counters: this.#counters,
      ackTimeoutMs: redis.ackTimeoutMs ?? 100,
      timeoutMs,
      onInvalidation: (inv) => this.#applyInvalidation(inv),
      onUp: () => {
        this.#epoch++;
        this.#l1Trusted = true;
        void this.#flushPending();
      },
      onLost: (reason) => {
        this.#epoch++;
        // An invalidation may have been missed: a load already running may hold its old value, so later
        // readers must not join it.
        this.#inflight.clear();
        if (reason === 'disconnect') this.#l1Trusted = false;
      },
      echoIntervalMs: bound === undefined ? undefined : Math.max(5, bound / 4),
      onHeard: (sentAt) => {
        if (bound !== undefined && sentAt + bound > this.#freshUntil) this.#freshUntil = sentAt + bound;
      },
    });
  }

  /**
   * Resolves when the bus is subscribed (L1 trusted), or after `timeoutMs`; true if subscribed. A cache
   * works before that, but reads bypass L1 until then.
   */
  ready(timeoutMs = 2_000): Promise<boolean> {
    return this.#bus ? this.#bus.whenUp(timeoutMs) : Promise.resolve(true);
  }

  /** The value under `key`, or `loader`'s result (stored with `options`). The hot path: an L1 hit. */
  getOrSet<T>(key: string, loader: Loader<T>, options?: GetOrSetOptions): Promise<T> {
    const e = this.#l1?.get(key);
    if (e !== undefined && e.epoch === this.#epoch) {
      const now = this.#now();
      // Fresh, and the bus heard from recently enough (always, without a bound): two compares.
      if (e.expiresAt > now && now <= this.#freshUntil) {
        this.#counters.l1Hits++;
        // One settled promise per entry, reused by every hit: the hot path allocates nothing.
        if (e.resolved === undefined) e.resolved = Promise.resolve(e.value);
        return e.resolved as Promise<T>;
      }
    }
    if (
      e === undefined &&
      this.#l2 !== undefined &&
      options?.signal === undefined &&
      !this.#inflight.has(key)
    ) {
      return this.#l2First(key, loader, options) as Promise<T>;
    }
    return this.#resolve(key, loader, options, e).then(resultValue) as Promise<T>;
  }

  /** Like `getOrSet`, with where the value came from and whether it is stale. */
  getOrSetWithMeta<T>(key: string, loader: Loader<T>, options?: GetOrSetOptions): Promise<CacheResult<T>> {
    const e = this.#l1?.get(key);
    if (e !== undefined && e.epoch === this.#epoch) {
      const now = this.#clock.now();
      if (e.expiresAt > now && now <= this.#freshUntil) {
        this.#counters.l1Hits++;
        return Promise.resolve({ value: e.value as T, stale: false, source: 'l1' });
      }
    }
    return this.#resolve(key, loader, options, e) as Promise<CacheResult<T>>;
  }

  /** The cached value (fresh, or stale inside grace), or undefined. Never runs a loader. */
  async get<T>(key: string, options?: { signal?: AbortSignal }): Promise<T | undefined> {
    throwIfAborted(options?.signal);
    const now = this.#clock.now();
    const e = this.#l1?.get(key);
    if (
      e !== undefined &&
      e.epoch === this.#epoch &&
      this.#l1Trusted &&
      e.staleUntil > now &&
      this.#knownFresh(now)
    ) {
      if (e.expiresAt > now) this.#counters.l1Hits++;
      else this.#counters.staleServed++;
      return e.value as T;
    }
    if (this.#l1) this.#counters.l1Misses++;
    if (!this.#l2) {
      this.#counters.getMisses++;
      return undefined;
    }
    const watch = this.#watch();
    const hit = await raceSignal(this.#l2.get(key), options?.signal);
    if (hit === FAILED || hit === null || hit.entry.staleUntil <= this.#clock.now()) {
      this.#counters.l2Misses++;
      this.#counters.getMisses++;
      return undefined;
    }
    this.#counters.l2Hits++;
    this.#fillL1(key, hit, watch);
    return hit.entry.value as T;
  }

  /**
   * Stores `value` in both levels and drops every other process's L1 copy of `key`. A load of `key`
   * already running anywhere will not overwrite it.
   */
  async set<T>(key: string, value: T, options: EntryOptions = {}): Promise<void> {
    this.#ensureOpen();
    const tags = options.tags ?? NO_TAGS;
    const entry = this.#makeEntry(value, options);
    const bytes = this.#l2 || this.#l1?.tracksBytes ? encodeEntry(entry) : undefined;
    // Loads of `key` already running must not overwrite this value in L1.
    this.#logInvalidation({ keys: [key], tags: NO_TAGS, all: false });
    this.#storeL1(key, entry, bytes?.length ?? 0, this.#l1Trusted ? this.#epoch : UNTRUSTED);
    if (this.#l2 && bytes) {
      const ok = await this.#l2.put(key, bytes, entry.staleUntil - this.#clock.now(), tags);
      if (!ok) this.#markPending({ keys: [key], tags: NO_TAGS, all: false });
      else await this.#publish({ keys: [key], tags: NO_TAGS, all: false });
    }
  }

  /** Removes `key` from every level and every process. */
  delete(key: string): Promise<void> {
    return this.invalidate({ keys: [key], tags: NO_TAGS, all: false });
  }

  /** Removes every entry tagged `tag`, in every level and every process. */
  deleteByTag(tag: string): Promise<void> {
    return this.invalidate({ keys: NO_TAGS, tags: [tag], all: false });
  }

  /** Removes every entry carrying any of `tags`: one Redis script, one bus message. */
  invalidateTags(tags: readonly string[], options?: InvalidateOptions): Promise<void> {
    return this.invalidate({ keys: NO_TAGS, tags, all: false }, options);
  }

  /** Empties both levels in every process sharing the namespace. */
  clear(): Promise<void> {
    return this.invalidate({ keys: NO_TAGS, tags: NO_TAGS, all: true });
  }

  /**
   * The general form: keys and tags in one go. Resolves once Redis has bumped the generations, deleted the
   * entries and taken the bus message, and the other processes have acknowledged (or `ackTimeoutMs`
   * passed). A process that did not acknowledge in time (its event loop busy) stops serving its old L1
   * copy within `maxStalenessMs` of Redis taking the message, so of this resolving. When Redis is
   * unreachable it resolves anyway (the cache never fails a write) and retries once Redis is back; the
   * bound then counts from that retry.
   */
  async invalidate(
    inv: {
      keys?: readonly string[];
      tags?: readonly string[];
      all?: boolean;
    },
    options?: InvalidateOptions,
  ): Promise<void> {
    this.#ensureOpen();
    const full: Invalidation = {
      keys: inv.keys ?? NO_TAGS,
      tags: inv.tags ?? NO_TAGS,
      all: inv.all ?? false,
    };
    return this.#invalidateNow(full, options?.refresh);
  }

  /**
   * Invalidate and replace, for a key whose value a committed write has just changed and that this
   * process holds (the store's write-through). Reads the generations of `replace.key` and its tags,
   * then the new value with `replace.loader`, then runs one Redis script that invalidates `tags` exactly
   * as `invalidateTags` does and, only if none of those generations moved since they were read, stores
   * the new value under the key. Then this L1 drops what the invalidation covers and holds the new
   * value, and the other processes drop their copies (bus, acknowledged) and find the new value in L2.
   * So there is no moment in which the key is missing from L2 and readers wait for the database.
   *
   * Until the script has run, readers here may still get the old L1 value: their reads are concurrent
   * with the write, which has not resolved. When the script was refused (a concurrent write moved a
   * generation), Redis failed, invalidations are still pending from an outage, or there is no Redis,
   * it falls back to `invalidateTags(tags, { refresh: replace })`; when the loader fails, to a plain
   * invalidation (logged, counted in `writeThroughErrors`). Resolves true when replaced; rejects only when
   * the cache is closed (`ERR_CACHE_CLOSED`).
   */
  invalidateAndReplace(tags: readonly string[], replace: RefreshRequest): Promise<boolean> {
    if (this.#closed) return Promise.reject(closedError());
    if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string'))
      return Promise.reject(
        new InvalidArgumentError('invalidateAndReplace: tags must be an array of strings'),
      );
    const bad = badKeyOrLoader('invalidateAndReplace', replace?.key, replace?.loader);
    if (bad) return Promise.reject(bad);
    const done = this.#replace({ keys: NO_TAGS, tags, all: false }, replace);
    this.#refreshing.add(done);
    const forget = (): void => {
      this.#refreshing.delete(done);
    };
    done.then(forget, forget);
    return done;
  }

  async #replace(inv: Invalidation, r: RefreshRequest): Promise<boolean> {
    const l2 = this.#l2;
    const { key } = r;
    const options = r.options ?? {};
    const tags = options.tags ?? NO_TAGS;
    // Invalidations not yet replayed (Redis was down) have not moved the generations: an unchanged
    // snapshot would prove nothing.
    if (!l2 || this.#hasPending()) return this.#fallBack(inv, r);
    // Why this is safe. The snapshot S is read at t_s, after our COMMIT; the row at t_r > t_s; the
    // script at t_l checks that no generation moved in (t_s, t_l). The row holds every write committed
    // before t_r. A write W' committed after t_r bumps the generations only after its commit: before t_l
    // the check fails and nothing is stored; after t_l, W''s own script deletes or replaces our entry.
    // Either way, once W' has resolved the cache holds W''s row, a newer one, or nothing.
    const watch = this.#watch();
    const snapshot = await l2.snapshot(key, tags);
    if (snapshot === FAILED) return this.#fallBack(inv, r);
    this.#counters.writeThroughRefreshes++;
    const span = startSpan('cache.refresh', { 'opusclip.cache.key': safeKey(key) });
    let value: unknown;
    try {
      value = await r.loader({ key, signal: this.#closing.signal });
      endSpan(span);
    } catch (error) {
      endSpan(span, error);
      this.#refreshFailed(key, error);
      return this.#fallBack(inv, undefined);
    }
    let entry: L1Entry;
    let bytes: Buffer;
    try {
      entry = this.#makeEntry(value, options);
      bytes = encodeEntry(entry);
    } catch (error) {
      this.#counters.serializationErrors++;
      this.#logger.warn({ key: safeKey(key), err: summary(error) }, 'cache: value not cacheable');
      return this.#fallBack(inv, undefined);
    }
    const ttl = entry.staleUntil - this.#clock.now();
    const replaced = await l2.invalidateAndSet(inv.keys, inv.tags, key, bytes, ttl, tags, snapshot);
    if (replaced === FAILED) {
      // The script may or may not have run: invalidate here now and in Redis once it answers again.
      this.#counters.writeThroughFallbacks++;
      this.#applyInvalidation(inv);
      this.#markPending(inv);
      return false;
    }
    // Asked before our own invalidation is logged. Another one applied here since the snapshot may come
    // from a write newer than our row whose script ran after ours: its bus message travels on another
    // connection than our script's reply and can be read first. Then L1 must not take our row.
    const overtaken = this.#invalidatedSince(watch, key, tags);
    this.#applyInvalidation(inv);
    if (replaced) {
      this.#counters.writeThroughReplaced++;
      // A gap or bus outage since the snapshot leaves it untrusted, as for any load.
      if (!overtaken) this.#storeL1(key, entry, bytes.length, this.#trustedEpochFor(watch));
      await this.#publish(inv);
      return true;
    }
    this.#counters.writeThroughRefused++;
    this.#counters.writeThroughFallbacks++;
    // A concurrent write moved a generation; the script invalidated regardless, so the entry is gone
    // everywhere. A refresh, guarded like any load, brings the newest row back.
    await Promise.all([this.#publish(inv), this.refresh(key, r.loader, options)]);
    return false;
  }

  /** `refresh` undefined: invalidate only. */
  async #fallBack(inv: Invalidation, refresh: RefreshRequest | undefined): Promise<false> {
    this.#counters.writeThroughFallbacks++;
    await this.#invalidateNow(inv, refresh);
    return false;
  }

  #hasPending(): boolean {
    const p = this.#pending;
    return p.all || p.keys.size > 0 || p.tags.size > 0;
  }

  async #invalidateNow(full: Invalidation, r: RefreshRequest | undefined): Promise<void> {
    this.#applyInvalidation(full);
    if (!this.#l2) {
      if (r) await this.refresh(r.key, r.loader, r.options);
      return;
    }
    const ok = await this.#l2.invalidate(full.keys, full.tags, full.all);
    // The generations have moved (or Redis is unreachable and the refresh stores in L1 only): a load
    // that starts now reads newer data than the write and is rejected by any later one, so it need
    // not wait for the acknowledgements, and the caller waits for the two side by side. Other
    // processes may still serve their old L1 copy until they acknowledge, as they may before any
    // invalidation resolves; the refreshed L2 entry is there when they drop it.
    const refreshed = r ? this.refresh(r.key, r.loader, r.options) : undefined;
    if (!ok) {
      this.#markPending(full);
      await refreshed;
      return;
    }
    await Promise.all([this.#publish(full), refreshed]);
  }

  /** Loads each item (through `getOrSet`, so present entries are kept), `concurrency` at a time. */
  async warm<T>(
    items: Iterable<WarmItem<T>>,
    options: { concurrency?: number; signal?: AbortSignal } = {},
  ): Promise<number> {
    const queue = [...items];
    let next = 0;
    let loaded = 0;
    const worker = async (): Promise<void> => {
      while (next < queue.length) {
        throwIfAborted(options.signal);
        const item = queue[next++]!;
        await this.getOrSet(item.key, item.loader, {
          ...item.options,
          ...(options.signal ? { signal: options.signal } : {}),
        });
        loaded++;
      }
    };
    await Promise.all(
      Array.from({ length: Math.max(1, Math.min(options.concurrency ?? 8, queue.length)) }, worker),
    );
    return loaded;
  }

  /**
   * Write-through refresh: loads `key` with `loader` now and stores the result, as a miss would, without
   * reading L1 or L2 first. Meant for right after a committed write whose invalidation has moved the
   * generations (`invalidateTags(tags, { refresh })` starts it at that point), so that the next reader
   * hits instead of missing. It is exactly as safe as a miss: the generations are
   * read before the loader runs and the result is stored only if none moved, so a newer write that
   * invalidates meanwhile rejects it (or deletes it, if it lands first). Readers of `key` in this process
   * that arrive meanwhile wait for it instead of loading again.
   *
   * Rejects only on bad arguments. Resolves true when the value was stored (in L2, or in L1 without Redis), false when
   * it was not: rejected by a newer invalidation, a failed loader (logged, counted in
   * `writeThroughErrors`), or a closed cache. Counted in `writeThroughRefreshes`, not in `loaderRuns`.
   */
  refresh<T>(key: string, loader: Loader<T>, options: EntryOptions = {}): Promise<boolean> {
    const bad = badKeyOrLoader('refresh', key, loader);
    if (bad) return Promise.reject(bad);
    if (this.#closed || (!this.#l1 && !this.#l2)) return Promise.resolve(false);
    const outcome = { stored: false };
    const load = this.#startLoad(key, loader, options, undefined, outcome);
    const done = load.then(
      () => outcome.stored,
      (error: unknown) => {
        this.#refreshFailed(key, error);
        return false;
      },
    );
    this.#refreshing.add(done);
    void done.then(() => this.#refreshing.delete(done));
    return done;
  }

  #refreshFailed(key: string, error: unknown): void {
    this.#counters.writeThroughErrors++;
    const log = this.#closed ? this.#logger.debug : this.#logger.warn;
    log.call(this.#logger, { key: safeKey(key), err: summary(error) }, 'cache: write-through refresh failed');
  }

  /**
   * Resolves once every write-through refresh and replacement started so far has finished (for tests
   * and shutdown).
   */
  async drainRefreshes(): Promise<void> {
    while (this.#refreshing.size > 0) await Promise.all([...this.#refreshing]);
  }

  /**
   * Whether `key` has an entry in this process's L1 (fresh or not), without touching its recency. A cheap
   * hint that `key` is being read here: the store refreshes only such keys after a write.
   */
  inL1(key: string): boolean {
    return this.#l1?.peek(key) !== undefined;
  }

  metrics(): CacheMetricsSnapshot {
    return snapshotCounters(this.#counters, this.#l1?.size ?? 0, this.#l1?.bytes ?? 0);
  }

  /** True while L1 entries may be served (no bus, or bus subscribed and no outage since). */
  get l1Trusted(): boolean {
    return this.#l1Trusted;
  }

  /** Treats L1 as if the bus connection dropped (for tests and operators); it recovers on the next 'ready'. */
  simulateBusLoss(): void {
    this.#bus?.simulateLoss();
  }

  /** Stops the bus, aborts running loaders' signals, closes connections this cache created. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#retryTimer?.();
    this.#closing.abort(closedError());
    // Aborted first so a loader that honours its signal stops; the rest still get to store their value
    // before the connections go. A refresh is bounded by its loader and the Redis timeout.
    await this.drainRefreshes();
    await this.#bus?.close();
    this.#l2?.dispose();
    const quit = async (c: RedisClient | undefined): Promise<void> => {
      if (!c) return;
      try {
        await c.quit();
      } catch {
        c.disconnect();
      }
    };
    await quit(this.#ownedSubscriber);
    if (this.#closeClient) await quit(this.#l2?.client);
  }

  // ---- internals ----

  #resolve(
    key: string,
    loader: Loader<unknown>,
    options: GetOrSetOptions | undefined,
    l1: L1Entry | undefined,
  ): Promise<CacheResult<unknown>> {
    const signal = options?.signal;
    if (signal?.aborted) return raceSignal(Promise.resolve({} as CacheResult<unknown>), signal);
    const now = this.#clock.now();
    if (
      l1 !== undefined &&
      l1.epoch === this.#epoch &&
      l1.staleUntil > now &&
      this.#l1Trusted &&
      this.#knownFresh(now)
    ) {
      // Inside grace: serve the old value now, refresh once in the background.
      this.#counters.staleServed++;
      if (!this.#inflight.has(key)) {
        this.#counters.backgroundRefreshes++;
        this.#startLoad(key, loader, options, l1, 'background').catch((error: unknown) => {
          this.#logger.warn({ key: safeKey(key), err: summary(error) }, 'cache: background refresh failed');
        });
      }
      return Promise.resolve({ value: l1.value, stale: true, source: 'l1' });
    }
    if (this.#l1) this.#counters.l1Misses++;
    const running = this.#inflight.get(key);
    if (running) return raceSignal(this.#join(running), signal);
    return raceSignal(this.#startLoad(key, loader, options, l1, 'read'), signal);
  }

  /**
   * The L2-hit path of `getOrSet`, lean on purpose: one GET, no coalescing bookkeeping. Anything but a fresh
   * hit joins the full path with the GET's result, so a miss costs no second round trip.
   */
  #l2First(key: string, loader: Loader<unknown>, options: GetOrSetOptions | undefined): Promise<unknown> {
    if (this.#l1) this.#counters.l1Misses++;
    const watch = this.#watch();
    const loadsBefore = this.#loadsDone;
    return this.#l2!.getThen(key, (hit): unknown => {
      if (hit !== FAILED && hit !== null && hit.entry.expiresAt > this.#now()) {
        this.#counters.l2Hits++;
        this.#fillL1(key, hit, watch);
        return hit.entry.value;
      }
      const running = this.#inflight.get(key);
      if (running) return this.#join(running).then(resultValue);
      // A load that finished while our GET was out may have stored the value: let #load read L2 again,
      // or two callers could both run the loader.
      const prefetched = this.#loadsDone === loadsBefore ? hit : undefined;
      return this.#startLoad(key, loader, options, undefined, 'read', prefetched).then(resultValue);
    });
  }

  /** A miss that waits for the load already running for its key. */
  #join(running: Inflight): Promise<CacheResult<unknown>> {
    this.#counters.coalesced++;
    if (running.refresh) this.#counters.writeThroughWaits++;
    return running.promise;
  }

  #startLoad(
    key: string,
    loader: Loader<unknown>,
    options: EntryOptions | undefined,
    l1: L1Entry | undefined,
    kind: LoadKind,
    prefetched?: L2Hit | null | typeof FAILED,
  ): Promise<CacheResult<unknown>> {
    const o = options ?? {};
    const refresh = typeof kind === 'object' ? kind : undefined;
    const p = this.#load(key, loader, o, l1, kind, prefetched);
    // A refresh replaces a load already registered: that one may have started before the write's
    // invalidation reached Redis, so its result would be rejected; readers from now on wait for ours.
    this.#inflight.set(key, { promise: p, tags: o.tags ?? NO_TAGS, refresh: refresh !== undefined });
    p.then(
      () => this.#settled(key, p),
      () => this.#settled(key, p),
    );
    return p;
  }

  #settled(key: string, p: Promise<CacheResult<unknown>>): void {
    this.#loadsDone++;
    if (this.#inflight.get(key)?.promise === p) this.#inflight.delete(key);
  }

  async #load(
    key: string,
    loader: Loader<unknown>,
    options: EntryOptions,
    l1: L1Entry | undefined,
    kind: LoadKind,
    prefetched: L2Hit | null | typeof FAILED | undefined,
  ): Promise<CacheResult<unknown>> {
    const tags = options.tags ?? NO_TAGS;
    const refresh = typeof kind === 'object' ? kind : undefined;
    // Only a read's own outcome counts as a hit or a miss: a grace refresh's read was already served.
    const read = kind === 'read';
    // Taken before anything is read: an invalidation from here on keeps this load out of L1.
    const watch = this.#watch();
    let leaseHeld = false;
    try {
      let fallback: { value: unknown; staleUntil: number; source: CacheSource } | undefined =
        l1 !== undefined && l1.staleUntil > this.#clock.now()
          ? { value: l1.value, staleUntil: l1.staleUntil, source: 'l1' }
          : undefined;
      let snapshot: GenerationSnapshot | undefined;
      const l2 = this.#l2;
      if (l2 && refresh) {
        // A refresh reads no entry (the write just deleted it) and takes no lease: it is not a reader
        // others should wait on across processes, and it must store whatever a lease holder does.
        const snap = await l2.snapshot(key, tags);
        if (snap !== FAILED) snapshot = snap;
      } else if (l2) {
        const hit = prefetched !== undefined ? prefetched : await l2.get(key);
        if (hit !== FAILED && hit !== null) {
          const now = this.#clock.now();
          if (hit.entry.expiresAt > now) {
            if (read) this.#counters.l2Hits++;
            this.#fillL1(key, hit, watch);
            return { value: hit.entry.value, stale: false, source: 'l2' };
          }
          if (hit.entry.staleUntil > now && (!fallback || hit.entry.staleUntil > fallback.staleUntil)) {
            fallback = { value: hit.entry.value, staleUntil: hit.entry.staleUntil, source: 'l2' };
          }
        }
        if (read) this.#counters.l2Misses++;
        if (hit !== FAILED) {
          const snap = await l2.snapshot(key, tags);
          if (snap !== FAILED) snapshot = snap;
        }
        if (snapshot && this.#lease) {
          const got = await l2.acquireLease(key, this.instanceId, this.#lease.ttlMs);
          if (got === true) {
            leaseHeld = true;
            this.#counters.leaseAcquired++;
          } else if (got === false) {
            const waited = await this.#waitForLease(key, watch);
            if (waited) {
              if (read) this.#counters.leaseWaitHits++;
              return waited;
            }
            // The holder gave up or stored nothing; take the snapshot again, our load starts now.
            const snap = await l2.snapshot(key, tags);
            snapshot = snap === FAILED ? undefined : snap;
          }
        }
      }

      if (refresh) this.#counters.writeThroughRefreshes++;
      else if (read) this.#counters.loaderRuns++;
      let value: unknown;
      // Only misses get a span: an L1 hit is a few hundred nanoseconds and must stay that way.
      const span = startSpan(refresh ? 'cache.refresh' : 'cache.load', {
        'opusclip.cache.key': safeKey(key),
      });
      try {
        value = await loader({ key, signal: this.#closing.signal });
        endSpan(span);
      } catch (error) {
        endSpan(span, error);
        if (!refresh) this.#counters.loaderErrors++;
        if (fallback && fallback.staleUntil > this.#clock.now()) {
          // Fail-safe: the database is down, the old value is better than an error.
          if (read) {
            this.#counters.staleServed++;
            this.#counters.failSafeServed++;
          }
          this.#logger.warn(
            { key: safeKey(key), err: summary(error) },
            'cache: loader failed, served stale value',
          );
          return { value: fallback.value, stale: true, source: fallback.source };
        }
        throw error;
      }

      const entry = this.#makeEntry(value, options);
      let bytes: Buffer | undefined;
      if ((l2 && snapshot) || this.#l1?.tracksBytes) {
        try {
          bytes = encodeEntry(entry);
        } catch (error) {
          this.#counters.serializationErrors++;
          this.#logger.warn({ key: safeKey(key), err: summary(error) }, 'cache: value not cacheable');
          return { value, stale: false, source: 'loader' };
        }
      }
      let storable = !this.#invalidatedSince(watch, key, tags);
      let inL2 = false;
      if (l2 && snapshot && bytes && storable) {
        const stored = await l2.setIfUnchanged(
          key,
          bytes,
          entry.staleUntil - this.#clock.now(),
          tags,
          snapshot,
        );
        if (stored === false) storable = false;
        inL2 = stored === true;
      }
      if (storable && !this.#invalidatedSince(watch, key, tags)) {
        this.#storeL1(key, entry, bytes?.length ?? 0, this.#trustedEpochFor(watch));
        if (refresh) refresh.stored = inL2 || !l2;
      } else {
        this.#counters.writeBackRejected++;
        // Stored in L2 before a local invalidation arrived: that invalidation deletes it there too.
        if (refresh) refresh.stored = false;
      }
      return { value, stale: false, source: 'loader' };
    } finally {
      if (leaseHeld) void this.#l2?.releaseLease(key, this.instanceId);
    }
  }

  /** Waits for another process's lease on `key`: its stored result, or undefined to load ourselves. */
  async #waitForLease(key: string, watch: Watch): Promise<CacheResult<unknown> | undefined> {
    const lease = this.#lease!;
    const l2 = this.#l2!;
    this.#counters.leaseWaits++;
    const deadline = this.#clock.now() + lease.waitMs;
    while (this.#clock.now() < deadline && !this.#closed) {
      await this.#clock.sleep(lease.pollMs);
      const polled = await l2.pollLease(key);
      if (polled === FAILED) return undefined;
      if (polled.hit && polled.hit.entry.expiresAt > this.#clock.now()) {
        this.#fillL1(key, polled.hit, watch);
        return { value: polled.hit.entry.value, stale: false, source: 'l2' };
      }
      if (!polled.leased) return undefined;
    }
    return undefined;
  }

  #makeEntry(value: unknown, options: EntryOptions): L1Entry {
    const now = this.#clock.now();
    const ttl = options.ttl ?? this.#defaultTtl;
    const grace = options.grace ?? this.#defaultGrace;
    if (!(ttl > 0) || !(grace >= 0)) {
      throw new InvalidArgumentError('ttl must be > 0 and grace >= 0', {
        details: { ttl, grace },
      });
    }
    return {
      value,
      expiresAt: now + ttl,
      staleUntil: now + ttl + grace,
      tags: options.tags ?? NO_TAGS,
      epoch: 0,
      size: 0,
      resolved: undefined,
    };
  }

  #fillL1(key: string, hit: L2Hit, watch: Watch): void {
    const e = hit.entry;
    if (!this.#l1 || this.#invalidatedSince(watch, key, e.tags)) return;
    this.#storeL1(
      key,
      {
        value: e.value,
        expiresAt: e.expiresAt,
        staleUntil: e.staleUntil,
        tags: e.tags,
        epoch: 0,
        size: 0,
        resolved: undefined,
      },
      hit.bytes,
      this.#trustedEpochFor(watch),
    );
  }

  #storeL1(key: string, entry: L1Entry, bytes: number, epoch: number): void {
    if (!this.#l1) return;
    entry.epoch = epoch;
    if (this.#l1.tracksBytes) entry.size = (bytes > 0 ? bytes : encode(entry.value).length) + 64;
    this.#l1.set(key, entry);
  }

  /** The epoch to stamp on an entry read or loaded under `watch`: untrusted if L1 was distrusted meanwhile. */
  #trustedEpochFor(watch: Watch): number {
    return this.#l1Trusted && watch.epoch === this.#epoch ? this.#epoch : UNTRUSTED;
  }

  #watch(): Watch {
    return { epoch: this.#epoch, seq: this.#invalidationSeq };
  }

  #logInvalidation(inv: Invalidation): void {
    this.#invalidationSeq++;
    this.#invalidationLog[this.#invalidationSeq % INVALIDATION_LOG] = inv;
  }

  /** True if an invalidation applied since `w` was taken touches `key` or one of `tags`. */
  #invalidatedSince(w: Watch, key: string, tags: readonly string[]): boolean {
    const last = this.#invalidationSeq;
    if (last === w.seq) return false;
    if (last - w.seq >= INVALIDATION_LOG) return true;
    for (let seq = w.seq + 1; seq <= last; seq++) {
      const inv = this.#invalidationLog[seq % INVALIDATION_LOG];
      if (inv === undefined || inv.all || inv.keys.includes(key)) return true;
      for (const t of tags) if (inv.tags.includes(t)) return true;
    }
    return false;
  }

  /** Local effect of an invalidation (ours, or one received on the bus). */
  #applyInvalidation(inv: Invalidation): void {
    this.#logInvalidation(inv);
    if (this.#inflight.size > 0) this.#detachLoads(inv);
    if (!this.#l1) return;
    if (inv.all) {
      this.#l1.clear();
      return;
    }
    for (const k of inv.keys) this.#l1.delete(k);
    for (const t of inv.tags) this.#l1.deleteByTag(t);
  }

  /**
   * Loads running for the invalidated keys or tags keep serving the callers that already wait for them
   * (their reads began before the invalidation finished), but no later reader may join them: they may
   * have read the database before the write committed. Later readers start a load of their own.
   */
  #detachLoads(inv: Invalidation): void {
    if (inv.all) {
      this.#inflight.clear();
      return;
    }
    for (const k of inv.keys) this.#inflight.delete(k);
    if (inv.tags.length === 0) return;
    for (const [k, load] of this.#inflight) {
      if (load.tags.some((t) => inv.tags.includes(t))) this.#inflight.delete(k);
    }
  }

  async #publish(inv: Invalidation): Promise<void> {
    if (!this.#bus) return;
    const sent = await this.#bus.publish(inv);
    if (!sent) this.#markPending(inv);
  }

  /** Remembers an invalidation that did not reach Redis, to replay it when Redis is back. */
  #markPending(inv: Invalidation): void {
    for (const k of inv.keys) this.#pending.keys.add(k);
    for (const t of inv.tags) this.#pending.tags.add(t);
    if (inv.all) this.#pending.all = true;
    this.#counters.pendingInvalidations =
      this.#pending.keys.size + this.#pending.tags.size + (this.#pending.all ? 1 : 0);
    this.#logger.warn(
      { pending: this.#counters.pendingInvalidations },
      'cache: invalidation deferred until Redis is back',
    );
    this.#scheduleRetry();
  }

  #scheduleRetry(): void {
    if (this.#retryTimer || this.#closed) return;
    this.#retryTimer = this.#clock.setTimer(1_000, () => {
      this.#retryTimer = undefined;
      void this.#flushPending();
    });
  }

  async #flushPending(): Promise<void> {
    const p = this.#pending;
    if (this.#closed || !this.#l2 || (p.keys.size === 0 && p.tags.size === 0 && !p.all)) return;
    const inv: Invalidation = { keys: [...p.keys], tags: [...p.tags], all: p.all };
    p.keys.clear();
    p.tags.clear();
    p.all = false;
    this.#counters.pendingInvalidations = 0;
    const ok = await this.#l2.invalidate(inv.keys, inv.tags, inv.all);
    if (!ok) {
      this.#markPending(inv);
      return;
    }
    await this.#publish(inv);
  }

  #ensureOpen(): void {
    if (this.#closed) throw closedError();
  }

  /**
   * Whether L1 may serve at `now`: the bus was heard from within `maxStalenessMs`. When not, counts a
   * refusal and asks for an echo, which the I/O of the read that follows gives the chance to come back.
   */
  #knownFresh(now: number): boolean {
    if (now <= this.#freshUntil) return true;
    this.#counters.l1StaleRefusals++;
    this.#bus?.echo();
    return false;
  }
}

function closedError(): CacheError {
  return new CacheError(CacheErrorCode.Closed, 'The cache was closed');
}

/** `redis.maxStalenessMs` checked: the bound in ms, or undefined for none (no Redis, or turned off). */
function maxStaleness(redis: RedisLayerOptions | undefined): number | undefined {
  if (!redis || redis.maxStalenessMs === false) return undefined;
  const ms = redis.maxStalenessMs ?? 100;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0) {
    throw new InvalidArgumentError('redis.maxStalenessMs must be a positive number of ms, or false', {
      details: { maxStalenessMs: ms },
    });
  }
  return ms;
}

function resultValue(r: CacheResult<unknown>): unknown {
  return r.value;
}

/** Keys may embed user data; logs get a bounded, secret-scrubbed form. */
function safeKey(key: string): string {
  return redactSecrets(key.length > 120 ? `${key.slice(0, 120)}…` : key);
}

function summary(error: unknown): string {
  return redactSecrets(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
}

/** The error for a call whose key is not a string or whose loader is not a function, if it is one. */
function badKeyOrLoader(method: string, key: unknown, loader: unknown): InvalidArgumentError | undefined {
  if (typeof key !== 'string') return new InvalidArgumentError(`${method}: key must be a string`);
  if (typeof loader !== 'function') return new InvalidArgumentError(`${method}: loader must be a function`);
  return undefined;
}
