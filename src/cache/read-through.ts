import type { Clock, Logger } from '../core/index.js';
import { newEntry } from './cache-entry.js';
import type { CacheCounters } from './cache-metrics.js';
import type { EntryDefaults, EntryOptions, LeaseOptions } from './cache-options.js';
import type { CacheResult, CacheSource } from './cache-result.js';
import type { CoherentL1, Watch } from './coherent-l1.js';
import { FAILED, type Failed } from './command-guard.js';
import type { L2Hit } from './l2-hit.js';
import { type Loader, runLoader } from './loader.js';
import { errorSummary, safeKey } from './log-fields.js';
import type { L1Entry } from './memory-store.js';
import type { GenerationSnapshot, RedisStore } from './redis-store.js';
import { encodeEntry } from './serializer.js';

const NO_TAGS: readonly string[] = Object.freeze([]);

/**
 * Whom a load serves: 'read' a miss (its outcome is the read's hit or miss), 'background' a refresh
 * inside grace or a warm-up (no read waits on it), 'ahead' a refresh-ahead of a fresh entry (an L2 copy
 * is taken only if it outlives that entry: another process refreshed it already), an object a
 * write-through refresh (records if it stored).
 */
export type LoadKind = 'read' | 'background' | 'ahead' | { stored: boolean };

export interface ReadThroughOptions {
  l1: CoherentL1;
  l2: RedisStore | undefined;
  /** Cross-process lease; undefined: none. */
  lease: Required<LeaseOptions> | undefined;
  /** Owner of the leases this process takes. */
  instanceId: string;
  counters: CacheCounters;
  clock: Clock;
  logger: Logger;
  defaults: EntryDefaults;
  /** Given to every loader; aborted when the cache closes. */
  signal: AbortSignal;
}

/**
 * The load behind a miss: L2 first, then the loader, then the result stored in both levels only if no
 * invalidation came in between. In Redis that is checked by the generations snapshotted before the
 * loader ran (inside a script, so no clock is involved); in this process by the invalidation log. With a
 * lease, one process loads a missing key and the others wait for its result. A failing loader is
 * answered with a value still inside its grace (fail-safe) when there is one.
 */
export class ReadThrough {
  readonly #o: ReadThroughOptions;

  constructor(options: ReadThroughOptions) {
    this.#o = options;
  }

  /**
   * Loads `key`. `l1` is the L1 entry the read found (a fail-safe candidate); `prefetched`, the L2 read
   * already made for it, if any.
   */
  async load(
    key: string,
    loader: Loader<unknown>,
    options: EntryOptions,
    l1: L1Entry | undefined,
    kind: LoadKind,
    prefetched: L2Hit | null | Failed | undefined,
  ): Promise<CacheResult<unknown>> {
    const { clock, counters, l2, lease } = this.#o;
    const tags = options.tags ?? NO_TAGS;
    const refresh = typeof kind === 'object' ? kind : undefined;
    // Only a read's own outcome counts as a hit or a miss: a grace refresh's read was already served.
    const read = kind === 'read';
    // Taken before anything is read: an invalidation from here on keeps this load out of L1.
    const watch = this.#o.l1.watch();
    let leaseHeld = false;
    try {
      let fallback: { value: unknown; staleUntil: number; source: CacheSource } | undefined =
        l1 !== undefined && l1.staleUntil > clock.now()
          ? { value: l1.value, staleUntil: l1.staleUntil, source: 'l1' }
          : undefined;
      let snapshot: GenerationSnapshot | undefined;
      if (l2 && refresh) {
        // A refresh reads no entry (the write just deleted it) and takes no lease: it is not a reader
        // others should wait on across processes, and it must store whatever a lease holder does.
        const snap = await l2.snapshot(key, tags);
        if (snap !== FAILED) snapshot = snap;
      } else if (l2) {
        const hit = prefetched !== undefined ? prefetched : await l2.get(key);
        if (hit !== FAILED && hit !== null) {
          const now = clock.now();
          if (hit.entry.expiresAt > now && (kind !== 'ahead' || hit.entry.expiresAt > (l1?.expiresAt ?? 0))) {
            if (read) counters.l2Hits++;
            this.#o.l1.fill(key, hit, watch);
            return { value: hit.entry.value, stale: false, source: 'l2' };
          }
          if (hit.entry.staleUntil > now && (!fallback || hit.entry.staleUntil > fallback.staleUntil)) {
            fallback = { value: hit.entry.value, staleUntil: hit.entry.staleUntil, source: 'l2' };
          }
        }
        if (read) counters.l2Misses++;
        if (hit !== FAILED) {
          const snap = await l2.snapshot(key, tags);
          if (snap !== FAILED) snapshot = snap;
        }
        if (snapshot && lease) {
          const got = await l2.acquireLease(key, this.#o.instanceId, lease.ttlMs);
          if (got === true) {
            leaseHeld = true;
            counters.leaseAcquired++;
          } else if (got === false) {
            const waited = await this.#waitForLease(l2, lease, key, watch);
            if (waited) {
              if (read) counters.leaseWaitHits++;
              return waited;
            }
            // The holder gave up or stored nothing; take the snapshot again, our load starts now.
            const snap = await l2.snapshot(key, tags);
            snapshot = snap === FAILED ? undefined : snap;
          }
        }
      }

      if (refresh) counters.writeThroughRefreshes++;
      else if (read) counters.loaderRuns++;
      let value: unknown;
      try {
        value = await runLoader(refresh ? 'cache.refresh' : 'cache.load', key, loader, this.#o.signal);
      } catch (error) {
        if (!refresh) counters.loaderErrors++;
        if (fallback && fallback.staleUntil > clock.now()) {
          // Fail-safe: the database is down, the old value is better than an error.
          if (read) {
            counters.staleServed++;
            counters.failSafeServed++;
          }
          this.#o.logger.warn(
            { key: safeKey(key), err: errorSummary(error) },
            'cache: loader failed, served stale value',
          );
          return { value: fallback.value, stale: true, source: fallback.source };
        }
        throw error;
      }
      const stored = await this.#store(key, value, options, tags, watch, snapshot);
      if (refresh) refresh.stored = stored;
      return { value, stale: false, source: 'loader' };
    } finally {
      if (leaseHeld) void l2?.releaseLease(key, this.#o.instanceId);
    }
  }

  /**
   * Stores a loaded value in L2 (if `snapshot` is still current there) and in L1 (if no invalidation
   * touched it since `watch`). True when it is stored: in L2, or in L1 alone without Redis.
   */
  async #store(
    key: string,
    value: unknown,
    options: EntryOptions,
    tags: readonly string[],
    watch: Watch,
    snapshot: GenerationSnapshot | undefined,
  ): Promise<boolean> {
    const { clock, counters, l1, l2 } = this.#o;
    const entry = newEntry(value, options, this.#o.defaults, clock.now());
    let bytes: Buffer | undefined;
    if ((l2 && snapshot) || l1.tracksBytes) {
      try {
        bytes = encodeEntry(entry);
      } catch (error) {
        counters.serializationErrors++;
        this.#o.logger.warn({ key: safeKey(key), err: errorSummary(error) }, 'cache: value not cacheable');
        return false;
      }
    }
    let storable = !l1.invalidatedSince(watch, key, tags);
    let inL2 = false;
    if (l2 && snapshot && bytes && storable) {
      const stored = await l2.setIfUnchanged(key, bytes, entry.staleUntil - clock.now(), tags, snapshot);
      if (stored === false) storable = false;
      inL2 = stored === true;
    }
    if (storable && !l1.invalidatedSince(watch, key, tags)) {
      l1.put(key, entry, bytes?.length ?? 0, l1.epochFor(watch));
      return inL2 || !l2;
    }
    counters.writeBackRejected++;
    // Stored in L2 before a local invalidation arrived: that invalidation deletes it there too.
    return false;
  }

  /** Waits for another process's lease on `key`: its stored result, or undefined to load ourselves. */
  async #waitForLease(
    l2: RedisStore,
    lease: Required<LeaseOptions>,
    key: string,
    watch: Watch,
  ): Promise<CacheResult<unknown> | undefined> {
    const { clock, signal } = this.#o;
    this.#o.counters.leaseWaits++;
    const deadline = clock.now() + lease.waitMs;
    while (clock.now() < deadline && !signal.aborted) {
      await clock.sleep(lease.pollMs);
      const polled = await l2.pollLease(key);
      if (polled === FAILED) return undefined;
      if (polled.hit && polled.hit.entry.expiresAt > clock.now()) {
        this.#o.l1.fill(key, polled.hit, watch);
        return { value: polled.hit.entry.value, stale: false, source: 'l2' };
      }
      if (!polled.leased) return undefined;
    }
    return undefined;
  }
}
