import { type Clock, InvalidArgumentError, type Logger, silentLogger, systemClock } from '../core/index.js';
import { HOT_KEY_DEFAULTS, type HotKeyOptions, type ResolvedHotKeyOptions } from './hot-keys.js';
import type { Loader } from './loader.js';
import type { MemoryStoreOptions } from './memory-store.js';
import type { RedisClient } from './redis-client.js';

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
  /** Fresh lifetime when a call gives none (ms, default 300,000: five minutes). */
  defaultTtlMs?: number;
  /** Grace after expiry when a call gives none (ms, default 0). */
  defaultGraceMs?: number;
  /**
   * Count sampled reads per key in Redis (needs `redis`), the history `warmFromHistory` loads from. Only
   * keys a registered warmer loads are recorded. Default off; `true` takes every default.
   */
  hotKeys?: HotKeyOptions | boolean;
  /**
   * Reload a hot entry read in the last part of its fresh life, before it expires, so that hot keys never
   * go cold. Default off; `true` takes every default.
   */
  refreshAhead?: RefreshAheadOptions | boolean;
  clock?: Clock;
  logger?: Logger;
}

export interface RefreshAheadOptions {
  /** An L1 hit in the last `fraction` of the entry's fresh life starts the reload (default 0.15). */
  fraction?: number;
  /** Only an entry hit at least this many times in L1 since it was stored is reloaded (default 2). */
  minHits?: number;
  /** Most reloads ahead running at once in this process; a hit beyond it starts none (default 4). */
  maxConcurrent?: number;
}

/** Options of `warmFromHistory`. */
export interface WarmFromHistoryOptions {
  /** Most keys loaded: the hottest recorded, then the warmers' seeds (default 1,000). */
  limit?: number;
  /** Resolves by then (ms from the call, default 3,000); loads already running carry on. */
  timeBudgetMs?: number;
  /** Loads running at once (default 8). */
  concurrency?: number;
  signal?: AbortSignal;
}

/** What a warm-up did. */
export interface WarmReport {
  /** Keys it meant to load: recorded and seed keys some warmer loads. */
  candidates: number;
  /** Keys loaded into L1 (from L2 or the loader). */
  warmed: number;
  /** Keys L1 held fresh already, or a load of which was running. */
  present: number;
  /** Keys whose load failed (logged). */
  failed: number;
  /** True when the time budget ran out, or `signal` aborted, before every candidate was loaded. */
  cutShort: boolean;
}

export interface EntryOptions {
  /** Fresh lifetime in ms. */
  ttlMs?: number;
  /**
   * After `ttlMs`, how long the old value may still be served: while one refresh runs, or when the loader
   * fails (ms).
   */
  graceMs?: number;
  /** Invalidation tags, e.g. `['videos', 'video:123']`. */
  tags?: readonly string[];
}

export interface GetOrSetOptions extends EntryOptions {
  /** Stops this caller's wait; the shared load itself carries on for the other callers. */
  signal?: AbortSignal;
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

/** Lifetimes used when a call gives none. */
export interface EntryDefaults {
  defaultTtlMs: number;
  defaultGraceMs: number;
}

/** `RedisLayerOptions` with every default applied and every value checked. */
interface ResolvedRedisLayer {
  client: RedisClient;
  /** Undefined: the cache duplicates `client` for the bus, and closes the duplicate. */
  subscriber: RedisClient | undefined;
  timeoutMs: number;
  /** Undefined: no lease. */
  lease: Required<LeaseOptions> | undefined;
  ackTimeoutMs: number;
  /** Undefined: no bound (turned off, or no L1 to bound). */
  maxStalenessMs: number | undefined;
  generationTtlMs: number;
  closeClient: boolean;
}

/** `CacheOptions` with every default applied and every value checked. */
export interface ResolvedCacheOptions extends EntryDefaults {
  namespace: string;
  /** Undefined: no L1. */
  l1: MemoryStoreOptions | undefined;
  /** Undefined: memory-only. */
  redis: ResolvedRedisLayer | undefined;
  /** Undefined: not recorded (off, or no Redis). */
  hotKeys: ResolvedHotKeyOptions | undefined;
  /** Undefined: off. */
  refreshAhead: Required<RefreshAheadOptions> | undefined;
  clock: Clock;
  logger: Logger;
}

const CACHE_DEFAULTS = {
  namespace: 'cache',
  defaultTtlMs: 300_000,
  defaultGraceMs: 0,
  timeoutMs: 50,
  ackTimeoutMs: 100,
  maxStalenessMs: 100,
  generationTtlMs: 86_400_000,
  lease: { ttlMs: 5_000, waitMs: 2_000, pollMs: 10 },
  refreshAhead: { fraction: 0.15, minHits: 2, maxConcurrent: 4 },
} as const;

/** The options a `Cache` runs with. Throws `ERR_INVALID_ARGUMENT` for a value it cannot run with. */
export function resolveCacheOptions(options: CacheOptions): ResolvedCacheOptions {
  rejectUnitless(options, CACHE_DURATIONS);
  const l1 = options.l1 === false ? undefined : (options.l1 ?? {});
  return {
    namespace: options.namespace ?? CACHE_DEFAULTS.namespace,
    l1,
    redis: options.redis ? resolveRedisLayer(options.redis, l1 !== undefined) : undefined,
    defaultTtlMs: options.defaultTtlMs ?? CACHE_DEFAULTS.defaultTtlMs,
    defaultGraceMs: options.defaultGraceMs ?? CACHE_DEFAULTS.defaultGraceMs,
    hotKeys: options.redis && options.hotKeys ? resolveHotKeys(options.hotKeys) : undefined,
    refreshAhead: options.refreshAhead ? resolveRefreshAhead(options.refreshAhead) : undefined,
    clock: options.clock ?? systemClock,
    logger: options.logger ?? silentLogger,
  };
}

function resolveHotKeys(given: HotKeyOptions | true): ResolvedHotKeyOptions {
  const o = { ...HOT_KEY_DEFAULTS, ...(given === true ? {} : given) };
  for (const [name, value] of Object.entries(o)) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 1) {
      throw new InvalidArgumentError(`hotKeys.${name} must be a number >= 1`, { details: { [name]: value } });
    }
  }
  return o;
}

function resolveRefreshAhead(given: RefreshAheadOptions | true): Required<RefreshAheadOptions> {
  const o = { ...CACHE_DEFAULTS.refreshAhead, ...(given === true ? {} : given) };
  if (!(o.fraction > 0 && o.fraction < 1)) {
    throw new InvalidArgumentError('refreshAhead.fraction must be between 0 and 1', {
      details: { fraction: o.fraction },
    });
  }
  if (!(o.minHits >= 0) || !(o.maxConcurrent >= 1)) {
    throw new InvalidArgumentError('refreshAhead.minHits must be >= 0 and maxConcurrent >= 1', {
      details: { minHits: o.minHits, maxConcurrent: o.maxConcurrent },
    });
  }
  return o;
}

function resolveRedisLayer(redis: RedisLayerOptions, hasL1: boolean): ResolvedRedisLayer {
  const maxStalenessMs = maxStaleness(redis);
  const lease = redis.lease === true ? {} : redis.lease || undefined;
  return {
    client: redis.client,
    subscriber: redis.subscriber,
    timeoutMs: redis.timeoutMs ?? CACHE_DEFAULTS.timeoutMs,
    lease: lease && {
      ttlMs: lease.ttlMs ?? CACHE_DEFAULTS.lease.ttlMs,
      waitMs: lease.waitMs ?? CACHE_DEFAULTS.lease.waitMs,
      pollMs: lease.pollMs ?? CACHE_DEFAULTS.lease.pollMs,
    },
    ackTimeoutMs: redis.ackTimeoutMs ?? CACHE_DEFAULTS.ackTimeoutMs,
    // Without L1 there is nothing to bound (the value is still checked).
    maxStalenessMs: hasL1 ? maxStalenessMs : undefined,
    generationTtlMs: redis.generationTtlMs ?? CACHE_DEFAULTS.generationTtlMs,
    closeClient: redis.closeClient ?? false,
  };
}

/** `redis.maxStalenessMs` checked: the bound in ms, or undefined when turned off. */
function maxStaleness(redis: RedisLayerOptions): number | undefined {
  if (redis.maxStalenessMs === false) return undefined;
  const ms = redis.maxStalenessMs ?? CACHE_DEFAULTS.maxStalenessMs;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0) {
    throw new InvalidArgumentError('redis.maxStalenessMs must be a positive number of ms, or false', {
      details: { maxStalenessMs: ms },
    });
  }
  return ms;
}

/** An entry's fresh lifetime and grace (ms) under `options`, checked. */
export function entryLifetime(
  options: EntryOptions,
  defaults: EntryDefaults,
): { ttlMs: number; graceMs: number } {
  const given = options as { ttl?: unknown; grace?: unknown };
  if (given.ttl !== undefined || given.grace !== undefined) rejectUnitless(options, ENTRY_DURATIONS);
  const ttlMs = options.ttlMs ?? defaults.defaultTtlMs;
  const graceMs = options.graceMs ?? defaults.defaultGraceMs;
  if (!(ttlMs > 0) || !(graceMs >= 0)) {
    throw new InvalidArgumentError('ttlMs must be > 0 and graceMs >= 0', { details: { ttlMs, graceMs } });
  }
  return { ttlMs, graceMs };
}

const CACHE_DURATIONS = { defaultTtl: 'defaultTtlMs', defaultGrace: 'defaultGraceMs' } as const;
const ENTRY_DURATIONS = { ttl: 'ttlMs', grace: 'graceMs' } as const;

/**
 * Durations are options named in `Ms`: a name without the unit (`ttl`, `defaultTtl`) is refused rather
 * than ignored, so a JavaScript caller does not silently get the default lifetime.
 */
function rejectUnitless(options: object, names: Readonly<Record<string, string>>): void {
  for (const name in names) {
    if ((options as Record<string, unknown>)[name] !== undefined) {
      throw new InvalidArgumentError(
        `\`${name}\` is not a cache option: durations are \`${names[name]}\`, in ms`,
        {
          details: { option: name, use: names[name] },
        },
      );
    }
  }
}
