import { randomUUID } from 'node:crypto';
import { type Clock, coarseNow, type Logger, raceSignal, throwIfAborted } from '../core/index.js';
import { CacheBus, type Invalidation } from './cache-bus.js';
import { newEntry } from './cache-entry.js';
import { CacheCounters, type CacheMetricsSnapshot, snapshotCounters } from './cache-metrics.js';
import {
  type CacheOptions,
  type EntryDefaults,
  type EntryOptions,
  type GetOrSetOptions,
  type InvalidateOptions,
  type RefreshAheadOptions,
  type RefreshRequest,
  resolveCacheOptions,
  type WarmFromHistoryOptions,
  type WarmItem,
  type WarmReport,
} from './cache-options.js';
import { type CacheResult, resultValue } from './cache-result.js';
import { type CacheWarmer, CacheWarmers } from './cache-warmers.js';
import { CoherentL1 } from './coherent-l1.js';
import { FAILED, type Failed } from './command-guard.js';
import { closedError } from './errors.js';
import { type HotKey, HotKeyRecorder } from './hot-keys.js';
import { InflightLoads } from './inflight-loads.js';
import type { L2Hit } from './l2-hit.js';
import type { Loader } from './loader.js';
import { errorSummary, safeKey } from './log-fields.js';
import { type L1Entry, MemoryStore } from './memory-store.js';
import { PendingInvalidations } from './pending-invalidations.js';
import { type LoadKind, ReadThrough } from './read-through.js';
import type { RedisClient } from './redis-client.js';
import { isClusterClient } from './redis-connection.js';
import { RedisStore } from './redis-store.js';
import { encodeEntry } from './serializer.js';
import { ShardSubscriber } from './shard-subscriber.js';
import { warmAll } from './warm.js';
import { WriteThrough } from './write-through.js';

const NO_TAGS: readonly string[] = Object.freeze([]);

/**
 * Two-level cache: L1 in process (lru-cache), L2 in Redis, kept coherent by a pub/sub bus, with per-tag and
 * per-key generations that keep a load which began before an invalidation from storing its result after it.
 * Memory-only when `redis` is omitted.
 */
export class Cache {
  readonly instanceId: string;
  readonly #l1: CoherentL1;
  readonly #l2: RedisStore | undefined;
  readonly #bus: CacheBus | undefined;
  readonly #ownedSubscriber: RedisClient | ShardSubscriber | undefined;
  readonly #closeClient: boolean;
  readonly #clock: Clock;
  /** The clock to the millisecond, for the hit paths' freshness checks (see core's `coarseNow`). */
  readonly #now: () => number;
  readonly #logger: Logger;
  readonly #counters = new CacheCounters();
  readonly #defaults: EntryDefaults;
  readonly #inflight: InflightLoads;
  readonly #pending: PendingInvalidations;
  readonly #reads: ReadThrough;
  readonly #writeThrough: WriteThrough;
  readonly #closing = new AbortController();
  #closed = false;
  readonly #warmers = new CacheWarmers();
  readonly #hot: HotKeyRecorder | undefined;
  /** Reads left before the next sampled one; Infinity when nothing is recorded. */
  #sampleCountdown = Number.POSITIVE_INFINITY;
  readonly #sampleEvery: number;
  readonly #ahead: Required<RefreshAheadOptions> | undefined;
  #aheadRunning = 0;

  constructor(options: CacheOptions = {}) {
    const o = resolveCacheOptions(options);
    this.instanceId = randomUUID();
    this.#clock = o.clock;
    this.#now = coarseNow(o.clock);
    this.#logger = o.logger;
    this.#defaults = { defaultTtlMs: o.defaultTtlMs, defaultGraceMs: o.defaultGraceMs };
    const redis = o.redis;
    const counters = this.#counters;
    this.#closeClient = redis?.closeClient ?? false;
    this.#ahead = o.refreshAhead;
    this.#l1 = new CoherentL1(
      o.l1 && new MemoryStore(o.l1),
      redis !== undefined,
      redis?.maxStalenessMs,
      o.refreshAhead && { fraction: o.refreshAhead.fraction, now: this.#now },
    );
    this.#sampleEvery = o.hotKeys?.sampleEvery ?? 0;
    if (redis && o.hotKeys) {
      this.#hot = new HotKeyRecorder(
        {
          ...o.hotKeys,
          client: redis.client,
          namespace: o.namespace,
          clock: o.clock,
          logger: o.logger,
          counters,
        },
        (key) => this.#warmers.accepts(key),
      );
      this.#sampleCountdown = this.#sampleEvery;
    }
    this.#inflight = new InflightLoads(counters);
    this.#pending = new PendingInvalidations({
      clock: o.clock,
      logger: o.logger,
      counters,
      replay: (inv) => this.#replay(inv),
    });
    if (redis) {
      this.#l2 = new RedisStore({
        client: redis.client,
        namespace: o.namespace,
        clock: o.clock,
        logger: o.logger,
        counters,
        timeoutMs: redis.timeoutMs,
        generationTtlMs: redis.generationTtlMs,
      });
      // On Redis Cluster the bus uses sharded pub/sub on the namespace's hash slot: its channels carry
      // the same `{namespace}` tag as its keys, and one ShardSubscriber listens on that slot's primary.
      const client = redis.client;
      const onCluster = isClusterClient(client);
      const channel = onCluster ? `{${o.namespace}}:bus` : `${o.namespace}:bus`;
      let subscriber: RedisClient | ShardSubscriber | undefined = redis.subscriber;
      if (onCluster) {
        subscriber = new ShardSubscriber(
          subscriber && isClusterClient(subscriber) ? subscriber : client,
          channel,
        );
        this.#ownedSubscriber = subscriber;
      } else if (!subscriber) {
        subscriber = client.duplicate() as RedisClient;
        this.#ownedSubscriber = subscriber;
      }
      const bound = redis.maxStalenessMs;
      this.#bus = new CacheBus({
        publisher: client,
        subscriber,
        channel,
        instanceId: this.instanceId,
        clock: o.clock,
        logger: o.logger,
        counters,
        ackTimeoutMs: redis.ackTimeoutMs,
        timeoutMs: redis.timeoutMs,
        onInvalidation: (inv) => this.#applyInvalidation(inv),
        onUp: () => {
          this.#l1.busUp();
          void this.#pending.flush();
        },
        onLost: (reason) => {
          this.#l1.busLost(reason);
          // An invalidation may have been missed: a load already running may hold its old value, so later
          // readers must not join it.
          this.#inflight.clear();
        },
        echoIntervalMs: bound === undefined ? undefined : Math.max(5, bound / 4),
        onHeard: (sentAt) => this.#l1.heard(sentAt),
      });
    }
    const shared = {
      l1: this.#l1,
      l2: this.#l2,
      counters,
      clock: o.clock,
      logger: o.logger,
      defaults: this.#defaults,
      signal: this.#closing.signal,
    };
    this.#reads = new ReadThrough({ ...shared, lease: redis?.lease, instanceId: this.instanceId });
    this.#writeThrough = new WriteThrough({
      ...shared,
      pending: this.#pending,
      isClosed: () => this.#closed,
      startRefresh: (key, loader, entryOptions, outcome) =>
        this.#startLoad(key, loader, entryOptions, undefined, outcome),
      invalidate: (inv, refresh) => this.#invalidateNow(inv, refresh),
      applyInvalidation: (inv) => this.#applyInvalidation(inv),
      publish: (inv) => this.#publish(inv),
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
    if (--this.#sampleCountdown === 0) this.#sample(key);
    const l1 = this.#l1;
    const e = l1.entries?.get(key);
    if (e !== undefined && e.epoch === l1.epoch) {
      const now = this.#now();
      // Fresh, and the bus heard from recently enough (always, without a bound): two compares.
      if (e.expiresAt > now && now <= l1.freshUntil) {
        this.#counters.l1Hits++;
        // Refresh-ahead off: refreshAfter is Infinity and this is one compare.
        if (now >= e.refreshAfter) this.#refreshAhead(key, loader, options, e);
        else e.hits++;
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
    const l1 = this.#l1;
    const e = l1.entries?.get(key);
    if (e !== undefined && e.epoch === l1.epoch) {
      const now = this.#clock.now();
      if (e.expiresAt > now && now <= l1.freshUntil) {
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
    const l1 = this.#l1;
    const e = l1.entries?.get(key);
    if (
      e !== undefined &&
      e.epoch === l1.epoch &&
      l1.trusted &&
      e.staleUntil > now &&
      this.#knownFresh(now)
    ) {
      if (e.expiresAt > now) this.#counters.l1Hits++;
      else this.#counters.staleServed++;
      return e.value as T;
    }
    if (l1.entries) this.#counters.l1Misses++;
    if (!this.#l2) {
      this.#counters.getMisses++;
      return undefined;
    }
    const watch = l1.watch();
    const hit = await raceSignal(this.#l2.get(key), options?.signal);
    if (hit === FAILED || hit === null || hit.entry.staleUntil <= this.#clock.now()) {
      this.#counters.l2Misses++;
      this.#counters.getMisses++;
      return undefined;
    }
    this.#counters.l2Hits++;
    l1.fill(key, hit, watch);
    return hit.entry.value as T;
  }

  /**
   * Stores `value` in both levels and drops every other process's L1 copy of `key`. A load of `key`
   * already running anywhere will not overwrite it.
   */
  async set<T>(key: string, value: T, options: EntryOptions = {}): Promise<void> {
    this.#ensureOpen();
    const tags = options.tags ?? NO_TAGS;
    const entry = newEntry(value, options, this.#defaults, this.#clock.now());
    const bytes = this.#l2 || this.#l1.tracksBytes ? encodeEntry(entry) : undefined;
    const own: Invalidation = { keys: [key], tags: NO_TAGS, all: false };
    // Loads of `key` already running must not overwrite this value in L1.
    this.#l1.record(own);
    this.#l1.put(key, entry, bytes?.length ?? 0, this.#l1.currentEpoch());
    if (this.#l2 && bytes) {
      const ok = await this.#l2.put(key, bytes, entry.staleUntil - this.#clock.now(), tags);
      if (!ok) this.#pending.add(own);
      else await this.#publish(own);
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
    return this.#writeThrough.replace(tags, replace);
  }

  /** Loads each item (through `getOrSet`, so present entries are kept), `concurrency` at a time. */
  warm<T>(
    items: Iterable<WarmItem<T>>,
    options: { concurrency?: number; signal?: AbortSignal } = {},
  ): Promise<number> {
    return warmAll(items, (key, loader, itemOptions) => this.getOrSet(key, loader, itemOptions), options);
  }

  /**
   * Registers how keys starting with `prefix` are loaded again for warming (see `CacheWarmer`); the one
   * with the longest matching prefix serves a key. Only keys some warmer loads are recorded as hot.
   */
  registerWarmer(prefix: string, warmer: CacheWarmer): void {
    this.#warmers.register(prefix, warmer);
  }

  /**
   * Loads what is likely to be read next into L1: the `limit` keys read most recently across processes
   * (recorded in Redis with `hotKeys` on), then the registered warmers' seed keys (e.g. the most popular
   * videos), each through its warmer's loader and L2 first, `concurrency` at a time. Bounded: it
   * resolves within `timeBudgetMs` (or when `signal` aborts) with what it did, and never rejects for a
   * failed load. Each load is single-flight with real reads: a read of a key being warmed waits for that
   * load instead of starting its own, and a key already fresh in L1 or already loading is left alone.
   * Warm loads are not reads: they count in `warmedKeys`, not in hits or misses.
   */
  async warmFromHistory(options: WarmFromHistoryOptions = {}): Promise<WarmReport> {
    const limit = options.limit ?? 1_000;
    const concurrency = Math.max(1, options.concurrency ?? 8);
    const budget = options.timeBudgetMs ?? 3_000;
    const report: WarmReport = { candidates: 0, warmed: 0, present: 0, failed: 0, cutShort: false };
    if (this.#closed) return report;
    const stop = new AbortController();
    const cancelTimer = this.#clock.setTimer(budget, () => stop.abort());
    const onAbort = (): void => stop.abort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) stop.abort();
    const stopped = new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve()));
    try {
      const recorded = this.#hot ? this.#hot.top(limit).then((hot) => hot.map((h) => h.key)) : [];
      const seeds = this.#warmers.seedKeys(limit, stop.signal, (error) =>
        this.#logger.warn({ err: errorSummary(error) }, 'cache: warm seed keys failed'),
      );
      const found = await Promise.race([Promise.all([recorded, seeds]), stopped]);
      if (found === undefined) {
        report.cutShort = true;
        return report;
      }
      const items: WarmItem[] = [];
      const seen = new Set<string>();
      for (const key of [...found[0], ...found[1]]) {
        if (items.length >= limit || seen.has(key)) continue;
        seen.add(key);
        const item = this.#warmers.itemFor(key);
        if (item !== undefined && item.key === key) items.push(item);
      }
      report.candidates = items.length;
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < items.length && !stop.signal.aborted && !this.#closed) {
          const item = items[next++]!;
          await this.#warmOne(item, report);
        }
      };
      const all = Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
      await Promise.race([all, stopped]);
      report.cutShort = stop.signal.aborted && report.warmed + report.present + report.failed < items.length;
      return report;
    } finally {
      cancelTimer();
      options.signal?.removeEventListener('abort', onAbort);
      stop.abort();
    }
  }

  /** The `limit` hottest recorded keys with their decayed read counts (empty without `hotKeys`). */
  hotKeys(limit: number): Promise<HotKey[]> {
    return this.#hot ? this.#hot.top(limit) : Promise.resolve([]);
  }

  /** Sends the sampled reads recorded so far to Redis now (they are sent every `flushIntervalMs` anyway). */
  flushHotKeys(): Promise<void> {
    return this.#hot ? this.#hot.flush() : Promise.resolve();
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
    return this.#writeThrough.refresh(key, loader, options);
  }

  /**
   * Resolves once every write-through refresh and replacement started so far has finished (for tests
   * and shutdown).
   */
  drainRefreshes(): Promise<void> {
    return this.#writeThrough.drain();
  }

  /**
   * Whether `key` has an entry in this process's L1 (fresh or not), without touching its recency. A cheap
   * hint that `key` is being read here: the store refreshes only such keys after a write.
   */
  inL1(key: string): boolean {
    return this.#l1.entries?.peek(key) !== undefined;
  }

  metrics(): CacheMetricsSnapshot {
    const entries = this.#l1.entries;
    return snapshotCounters(this.#counters, entries?.size ?? 0, entries?.bytes ?? 0);
  }

  /** True while L1 entries may be served (no bus, or bus subscribed and no outage since). */
  get l1Trusted(): boolean {
    return this.#l1.trusted;
  }

  /** Treats L1 as if the bus connection dropped (for tests and operators); it recovers on the next 'ready'. */
  simulateBusLoss(): void {
    this.#bus?.simulateLoss();
  }

  /** Stops the bus, aborts running loaders' signals, closes connections this cache created. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#pending.close();
    this.#closing.abort(closedError());
    await this.#hot?.close();
    // Aborted first so a loader that honours its signal stops; the rest still get to store their value
    // before the connections go. A refresh is bounded by its loader and the Redis timeout.
    await this.drainRefreshes();
    await this.#bus?.close();
    this.#l2?.dispose();
    const quit = async (c: RedisClient | ShardSubscriber | undefined): Promise<void> => {
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

  /** One sampled read: recorded as hot (locally; sent to Redis on the next flush). */
  #sample(key: string): void {
    this.#sampleCountdown = this.#sampleEvery;
    this.#hot?.note(key);
  }

  /**
   * An L1 hit inside the entry's refresh-ahead window: reloads it in the background if it is hot
   * (`minHits`), no load of the key is running, and fewer than `maxConcurrent` reloads are. Once per
   * entry: the reload's result is a new entry with a window of its own.
   */
  #refreshAhead(
    key: string,
    loader: Loader<unknown>,
    options: GetOrSetOptions | undefined,
    e: L1Entry,
  ): void {
    const ahead = this.#ahead!;
    if (e.hits < ahead.minHits || this.#inflight.has(key) || this.#aheadRunning >= ahead.maxConcurrent) {
      e.hits++;
      return;
    }
    e.refreshAfter = Number.POSITIVE_INFINITY;
    this.#counters.refreshAheads++;
    this.#aheadRunning++;
    this.#startLoad(key, loader, options, e, 'ahead').then(
      () => {
        this.#aheadRunning--;
      },
      (error: unknown) => {
        this.#aheadRunning--;
        this.#logger.warn({ key: safeKey(key), err: errorSummary(error) }, 'cache: refresh-ahead failed');
      },
    );
  }

  /** One warm-up load, unless L1 holds `item.key` fresh or a load of it is running. */
  async #warmOne(item: WarmItem, report: WarmReport): Promise<void> {
    const key = item.key;
    const e = this.#l1.entries?.peek(key);
    if ((e !== undefined && e.expiresAt > this.#clock.now()) || this.#inflight.has(key)) {
      report.present++;
      return;
    }
    try {
      await this.#startLoad(key, item.loader, item.options, undefined, 'background');
      report.warmed++;
      this.#counters.warmedKeys++;
    } catch (error) {
      report.failed++;
      this.#logger.warn({ key: safeKey(key), err: errorSummary(error) }, 'cache: warm load failed');
    }
  }

  /** A read that L1 did not answer fresh: a stale value inside grace (refreshed once), a join, or a load. */
  #resolve(
    key: string,
    loader: Loader<unknown>,
    options: GetOrSetOptions | undefined,
    e: L1Entry | undefined,
  ): Promise<CacheResult<unknown>> {
    const signal = options?.signal;
    if (signal?.aborted) return raceSignal(Promise.resolve({} as CacheResult<unknown>), signal);
    const now = this.#clock.now();
    const l1 = this.#l1;
    if (
      e !== undefined &&
      e.epoch === l1.epoch &&
      e.staleUntil > now &&
      l1.trusted &&
      this.#knownFresh(now)
    ) {
      // Inside grace: serve the old value now, refresh once in the background.
      this.#counters.staleServed++;
      if (!this.#inflight.has(key)) {
        this.#counters.backgroundRefreshes++;
        this.#startLoad(key, loader, options, e, 'background').catch((error: unknown) => {
          this.#logger.warn(
            { key: safeKey(key), err: errorSummary(error) },
            'cache: background refresh failed',
          );
        });
      }
      return Promise.resolve({ value: e.value, stale: true, source: 'l1' });
    }
    if (l1.entries) this.#counters.l1Misses++;
    const running = this.#inflight.get(key);
    if (running) return raceSignal(this.#inflight.join(running), signal);
    return raceSignal(this.#startLoad(key, loader, options, e, 'read'), signal);
  }

  /**
   * The L2-hit path of `getOrSet`, lean on purpose: one GET, no coalescing bookkeeping. Anything but a fresh
   * hit joins the full path with the GET's result, so a miss costs no second round trip.
   */
  #l2First(key: string, loader: Loader<unknown>, options: GetOrSetOptions | undefined): Promise<unknown> {
    const l1 = this.#l1;
    if (l1.entries) this.#counters.l1Misses++;
    const watch = l1.watch();
    const settledBefore = this.#inflight.settled;
    return this.#l2!.getThen(key, (hit): unknown => {
      if (hit !== FAILED && hit !== null && hit.entry.expiresAt > this.#now()) {
        this.#counters.l2Hits++;
        l1.fill(key, hit, watch);
        return hit.entry.value;
      }
      const running = this.#inflight.get(key);
      if (running) return this.#inflight.join(running).then(resultValue);
      // A load that finished while our GET was out may have stored the value: let the load read L2
      // again, or two callers could both run the loader.
      const prefetched = this.#inflight.settled === settledBefore ? hit : undefined;
      return this.#startLoad(key, loader, options, undefined, 'read', prefetched).then(resultValue);
    });
  }

  /** Starts a load of `key` that later misses of `key` join. */
  #startLoad(
    key: string,
    loader: Loader<unknown>,
    options: EntryOptions | undefined,
    e: L1Entry | undefined,
    kind: LoadKind,
    prefetched?: L2Hit | null | Failed,
  ): Promise<CacheResult<unknown>> {
    const o = options ?? {};
    const p = this.#reads.load(key, loader, o, e, kind, prefetched);
    // A refresh replaces a load already registered: that one may have started before the write's
    // invalidation reached Redis, so its result would be rejected; readers from now on wait for ours.
    this.#inflight.add(key, p, o.tags ?? NO_TAGS, typeof kind === 'object');
    return p;
  }

  /**
   * Applies `full` here, then in Redis and on the bus (kept pending when Redis does not take it), with
   * `r` refreshed once the generations moved.
   */
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
      this.#pending.add(full);
      await refreshed;
      return;
    }
    await Promise.all([this.#publish(full), refreshed]);
  }

  /** Local effect of an invalidation (ours, or one received on the bus): L1 and the loads running. */
  #applyInvalidation(inv: Invalidation): void {
    this.#l1.apply(inv);
    if (this.#inflight.size > 0) this.#inflight.detach(inv);
  }

  async #publish(inv: Invalidation): Promise<void> {
    if (!this.#bus) return;
    const sent = await this.#bus.publish(inv);
    if (!sent) this.#pending.add(inv);
  }

  /** Sends a deferred invalidation to Redis, then the bus; false when either did not take it. */
  async #replay(inv: Invalidation): Promise<boolean> {
    if (!this.#l2) return true;
    if (!(await this.#l2.invalidate(inv.keys, inv.tags, inv.all))) return false;
    return this.#bus ? this.#bus.publish(inv) : true;
  }

  #ensureOpen(): void {
    if (this.#closed) throw closedError();
  }

  /**
   * Whether L1 may serve at `now`: the bus was heard from within `maxStalenessMs`. When not, counts a
   * refusal and asks for an echo, which the I/O of the read that follows gives the chance to come back.
   */
  #knownFresh(now: number): boolean {
    if (now <= this.#l1.freshUntil) return true;
    this.#counters.l1StaleRefusals++;
    this.#bus?.echo();
    return false;
  }
}
