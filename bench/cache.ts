/**
 * Cache suite. `l1-hit`: an awaited `getOrSet` answered from L1 against a raw lru-cache `get` in a
 * synchronous tight loop. `l2-hit`: `getOrSet` with no L1 (every read decodes an entry from Redis) against
 * a raw ioredis `getBuffer` of the same key, both at concurrency 64.
 */
import { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import { Cache, type CacheOptions, redisClientOptions } from '../src/cache/index.js';
import { type BenchResult, compareLoad, log, median, result } from './lib/harness.js';
import type { SuiteOptions } from './main.js';

const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A Redis-backed cache for benchmarks, with its client and a cleanup that drops the namespace. */
export async function benchCache(
  namespace: string,
  options: Omit<CacheOptions, 'namespace' | 'redis'> & { lease?: boolean; timeoutMs?: number } = {},
): Promise<{ cache: Cache; client: Redis; close: () => Promise<void> }> {
  const client = new Redis(REDIS_URL, redisClientOptions());
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('error', reject);
  });
  const { lease, timeoutMs, ...rest } = options;
  const cache = new Cache({
    ...rest,
    namespace,
    redis: { client, ...(lease ? { lease: true } : {}), ...(timeoutMs ? { timeoutMs } : {}) },
  });
  await cache.ready(3_000);
  return {
    cache,
    client,
    close: async () => {
      await cache.close();
      await dropNamespace(client, namespace);
      await client.quit();
    },
  };
}

export async function dropNamespace(client: Redis, namespace: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `{${namespace}}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await client.unlink(...keys);
  } while (cursor !== '0');
}

/** Ops/s of a synchronous loop of `batch` calls repeated for `seconds`. */
function syncRate(fn: (i: number) => unknown, seconds: number): number {
  let ops = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  let sink = 0;
  while (performance.now() < end) {
    for (let i = 0; i < 10_000; i++) if (fn(ops + i) !== undefined) sink++;
    ops += 10_000;
  }
  if (sink < 0) log('unreachable');
  return ops / ((performance.now() - start) / 1000);
}

/** Ops/s of an awaited loop, checking the clock every 10,000 calls. */
async function awaitedRate(fn: (i: number) => Promise<unknown>, seconds: number): Promise<number> {
  let ops = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 10_000; i++) await fn(ops + i);
    ops += 10_000;
  }
  return ops / ((performance.now() - start) / 1000);
}

async function l1Hit(quick: boolean): Promise<BenchResult> {
  const keyCount = 1_000;
  const keys = Array.from({ length: keyCount }, (_, i) => `video:${i}`);
  const value = { id: 1, title: 'A video', status: 'ready', views: 1234 };
  const raw = new LRUCache<string, object>({ max: 10_000 });
  const cache = new Cache({ l1: { maxEntries: 10_000 }, defaultTtl: 3_600_000 });
  const loader = async (): Promise<object> => value;
  for (const k of keys) {
    raw.set(k, value);
    await cache.getOrSet(k, loader);
  }
  // Many short alternating rounds: the median shrugs off bursts from other processes on a shared machine.
  const seconds = quick ? 0.25 : 0.5;
  const rounds = quick ? 5 : 9;
  syncRate((i) => raw.get(keys[i % keyCount]!), 0.3);
  await awaitedRate((i) => cache.getOrSet(keys[i % keyCount]!, loader), 0.3);
  const s: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < rounds; r++) {
    b.push(syncRate((i) => raw.get(keys[i % keyCount]!), seconds));
    s.push(await awaitedRate((i) => cache.getOrSet(keys[i % keyCount]!, loader), seconds));
    log(
      `  l1-hit round ${r + 1}/${rounds}: subject ${s.at(-1)!.toFixed(0)}/s, baseline ${b.at(-1)!.toFixed(0)}/s`,
    );
  }
  const m = cache.metrics();
  return result({
    case: 'l1-hit',
    target: 'memory',
    subject: 'cache.getOrSet (L1 hit, awaited, one at a time)',
    baseline: 'lru-cache get (synchronous tight loop, not awaited)',
    unit: 'ops/s',
    value: median(s),
    baselineValue: median(b),
    params: { keys: keyCount, seconds, rounds },
    extra: { hitRate: Math.round(m.cacheHitRate * 10_000) / 10_000 },
  });
}

async function l2Hit(quick: boolean): Promise<BenchResult> {
  const ns = `bench_cache_${process.pid}`;
  // A generous timeout: on a loaded machine a few GETs exceed the 50 ms default and would fall back to
  // the loader, which is the right behaviour in production but not what this case measures.
  const timeoutMs = 1_000;
  const { cache, client, close } = await benchCache(ns, { l1: false, defaultTtl: 3_600_000, timeoutMs });
  try {
    // Many keys, so that concurrent callers rarely share a key: getOrSet would coalesce them onto one
    // GET, which is a feature but would not measure an L2 hit.
    const keyCount = 4_096;
    const keys = Array.from({ length: keyCount }, (_, i) => `video:${i}`);
    const entryKeys = keys.map((k) => `{${ns}}:k:${k}`);
    for (let i = 0; i < keyCount; i++) {
      await cache.set(keys[i]!, {
        id: i,
        url: 'https://youtube.com/watch?v=dQw4w9WgXcQ',
        title: 'A video title of ordinary length',
        status: 'ready',
        duration: 212,
        createdAt: new Date(),
      });
    }
    const bytes = (await client.getBuffer(entryKeys[0]!))?.length ?? 0;
    // Never expected to run; counted in loaderRuns if it does.
    const loader = async (): Promise<object> => ({});
    const seconds = quick ? 0.5 : 1.5;
    const concurrency = 64;
    const rounds = quick ? 3 : 7;
    const cmp = await compareLoad(
      'l2-hit',
      (i) => cache.getOrSet(keys[i % keyCount]!, loader),
      (i) => client.getBuffer(entryKeys[i % keyCount]!),
      { concurrency, seconds, rounds },
    );
    const m = cache.metrics();
    return result({
      case: 'l2-hit',
      target: 'redis',
      subject: 'cache.getOrSet (no L1: Redis GET + decode)',
      baseline: 'ioredis getBuffer of the same key',
      unit: 'ops/s',
      value: cmp.subject.opsPerSec,
      baselineValue: cmp.baseline.opsPerSec,
      p99Ms: cmp.subject.p99Ms,
      baselineP99Ms: cmp.baseline.p99Ms,
      params: { concurrency, seconds, rounds, keys: keyCount, entryBytes: bytes, timeoutMs },
      extra: {
        coalesced: m.coalesced,
        redisTimeouts: m.redisTimeouts,
        redisErrors: m.redisErrors,
        loaderRuns: m.loaderRuns,
      },
    });
  } finally {
    await close();
  }
}

export async function run(options: SuiteOptions): Promise<BenchResult[]> {
  const out: BenchResult[] = [];
  log('cache: l1-hit');
  out.push(await l1Hit(options.quick));
  log('cache: l2-hit');
  out.push(await l2Hit(options.quick));
  return out;
}
