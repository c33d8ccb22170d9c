/**
 * `warm-start` case of the tuning suite: the cache's hit rate in the first minute after a restart,
 * warmed from the hot keys recorded in Redis against cold, in the same run.
 *
 * Workload: videos on PostgreSQL read by id through `VideoStore` and its `Cache` (L1 + Redis L2, hot-key
 * recording and refresh-ahead on, as `opusclip serve` runs it), ids drawn from a Zipf distribution
 * (s = 1), at a fixed rate: traffic arrives whatever the cache does, so both sides serve the same reads.
 * A "previous life" reads for a while and records its hot keys; then the process restarts (a new Cache,
 * an empty L1) and the first `seconds` of reads are measured. Two sides, each on a namespace of its own
 * with an identical previous life (the same reads, at the same moments), restart together: the cold
 * one serves at once, the warmed one first runs `warmFromHistory` (as `serve` does before it listens)
 * and its reads start when that is done. Two targets: `l2-kept` (only the process restarted: Redis
 * still holds L2, so an L1 miss is mostly an L2 hit and the figure is the L1 hit rate) and `l2-empty`
 * (L2 emptied too, e.g. Redis restarted or flushed, while the hot-key history survived: the figure is
 * the overall hit rate, misses being database reads).
 */

import { Redis } from 'ioredis';
import { Cache, redisClientOptions } from '../src/cache/index.js';
import type { Database } from '../src/db/index.js';
import type { StoreSchema } from '../src/store/index.js';
import { VideoStore } from '../src/store/index.js';
import { dropNamespace, openDb, pgSchema, seedVideos, zipfSampler } from './cache.js';
import { type BenchResult, log, result } from './lib/harness.js';

const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const ZIPF_S = 1;
/** `serve`'s defaults: store entries live 60 s; the warm-up's budget is 3 s. */
const STORE_TTL_MS = 60_000;
const WARM_BUDGET_MS = 3_000;
/** Also reported: the hit rates of the first 5 s, where a cold start misses most. */
const EARLY_MS = 5_000;

interface Side {
  cache: Cache;
  client: Redis;
  store: VideoStore;
}

async function openSide(db: Database<StoreSchema>, namespace: string): Promise<Side> {
  const client = new Redis(REDIS_URL, redisClientOptions());
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('error', reject);
  });
  // serve's cache: hot keys recorded, refresh-ahead on; a generous Redis timeout on a shared machine.
  const cache = new Cache({
    namespace,
    redis: { client, timeoutMs: 1_000 },
    hotKeys: true,
    refreshAhead: true,
  });
  await cache.ready(3_000);
  return { cache, client, store: new VideoStore(db, { cache, cacheTtlMs: STORE_TTL_MS }) };
}

async function closeSide(side: Side): Promise<void> {
  await side.cache.close();
  side.client.disconnect();
}

/**
 * Reads `rate` ids a second for `seconds`, the same id at the same moment on every store; `checkpoint`
 * runs once `checkpointMs` have passed (reads issued so far settled or not).
 */
async function drive(
  stores: readonly VideoStore[],
  ids: readonly string[],
  rate: number,
  seconds: number,
  next: () => number,
  checkpoint?: { ms: number; run: () => void },
): Promise<void> {
  const tickMs = 10;
  const perTick = rate / (1000 / tickMs);
  const ticks = Math.round((seconds * 1000) / tickMs);
  const started = performance.now();
  let owed = 0;
  const running = new Set<Promise<unknown>>();
  for (let t = 0; t < ticks; t++) {
    owed += perTick;
    while (owed >= 1) {
      owed--;
      const id = ids[next()]!;
      for (const store of stores) {
        const p = store.getVideoById(id).catch(() => undefined);
        running.add(p);
        void p.finally(() => running.delete(p));
      }
    }
    if (checkpoint && (t + 1) * tickMs === checkpoint.ms) checkpoint.run();
    const due = started + (t + 1) * tickMs;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  await Promise.all(running);
}

interface Rates {
  reads: number;
  hitRate: number;
  l1HitRate: number;
  l1StaleRefusals: number;
}

function ratesSince(cache: Cache, before: ReturnType<Cache['metrics']>): Rates {
  const m = cache.metrics();
  const hits = m.hits - before.hits;
  const reads = hits + m.misses - before.misses;
  return {
    reads,
    hitRate: reads === 0 ? 0 : hits / reads,
    l1HitRate: reads === 0 ? 0 : (m.l1Hits - before.l1Hits) / reads,
    l1StaleRefusals: m.l1StaleRefusals - before.l1StaleRefusals,
  };
}

const round3 = (n: number): number => Math.round(n * 1000) / 1000;

async function warmStart(
  db: Database<StoreSchema>,
  ids: readonly string[],
  target: 'l2-kept' | 'l2-empty',
  quick: boolean,
): Promise<BenchResult> {
  const seconds = quick ? 10 : 60;
  const previousSeconds = quick ? 10 : 30;
  const rate = 1_000;
  const tag = `${process.pid}_${Date.now().toString(36)}`;
  const namespaces = { cold: `bench_warm_cold_${tag}`, warmed: `bench_warm_warmed_${tag}` };
  const admin = new Redis(REDIS_URL);
  try {
    // The previous life: both namespaces get the same reads.
    log(`  warm-start ${target}: previous life, ${previousSeconds} s at ${rate} reads/s`);
    const next = zipfSampler(ids.length, ZIPF_S);
    let life = [await openSide(db, namespaces.cold), await openSide(db, namespaces.warmed)];
    await drive(
      life.map((s) => s.store),
      ids,
      rate,
      previousSeconds,
      next,
    );
    // The restart: close() sends the hot keys still pending.
    for (const side of life) await closeSide(side);
    if (target === 'l2-empty') {
      for (const ns of Object.values(namespaces)) {
        const keys = await admin.keys(`{${ns}}:k:*`);
        for (let i = 0; i < keys.length; i += 1000) await admin.del(...keys.slice(i, i + 1000));
      }
    }
    life = [await openSide(db, namespaces.cold), await openSide(db, namespaces.warmed)];
    const [cold, warmed] = life as [Side, Side];
    const warmStarted = performance.now();
    const report = await warmed.cache.warmFromHistory({ timeBudgetMs: WARM_BUDGET_MS });
    const warmMs = performance.now() - warmStarted;
    log(
      `  warm-start ${target}: warmed ${report.warmed} keys (${report.present} present) in ${Math.round(warmMs)} ms; measuring ${seconds} s`,
    );
    const before = { cold: cold.cache.metrics(), warmed: warmed.cache.metrics() };
    let early: { cold: Rates; warmed: Rates } | undefined;
    await drive([cold.store, warmed.store], ids, rate, seconds, next, {
      ms: EARLY_MS,
      run: () => {
        early = {
          cold: ratesSince(cold.cache, before.cold),
          warmed: ratesSince(warmed.cache, before.warmed),
        };
      },
    });
    const c = ratesSince(cold.cache, before.cold);
    const w = ratesSince(warmed.cache, before.warmed);
    for (const side of life) await closeSide(side);
    log(
      `  warm-start ${target}: hit rate warmed ${w.hitRate.toFixed(3)} (L1 ${w.l1HitRate.toFixed(3)}) vs cold ${c.hitRate.toFixed(3)} (L1 ${c.l1HitRate.toFixed(3)})`,
    );
    // With L2 kept, both sides hit L2 for almost every L1 miss: the L1 hit rate is the figure.
    const figure = target === 'l2-kept' ? 'l1HitRate' : 'hitRate';
    return result({
      case: 'warm-start',
      target,
      subject: 'restart warmed from Redis hot keys (warmFromHistory)',
      baseline: 'cold restart',
      unit: target === 'l2-kept' ? 'L1 hit rate' : 'hit rate',
      value: w[figure],
      baselineValue: c[figure],
      params: {
        seconds,
        previousLifeSeconds: previousSeconds,
        readsPerSecond: rate,
        videos: ids.length,
        zipfS: ZIPF_S,
        storeTtlMs: STORE_TTL_MS,
        warmBudgetMs: WARM_BUDGET_MS,
        warmLimit: 1000,
        database: 'postgres',
      },
      extra: {
        hitRate: round3(w.hitRate),
        baselineHitRate: round3(c.hitRate),
        l1HitRate: round3(w.l1HitRate),
        baselineL1HitRate: round3(c.l1HitRate),
        reads: w.reads,
        baselineReads: c.reads,
        first5sHitRate: round3(early?.warmed.hitRate ?? 0),
        baselineFirst5sHitRate: round3(early?.cold.hitRate ?? 0),
        first5sL1HitRate: round3(early?.warmed.l1HitRate ?? 0),
        baselineFirst5sL1HitRate: round3(early?.cold.l1HitRate ?? 0),
        l1StaleRefusals: w.l1StaleRefusals,
        baselineL1StaleRefusals: c.l1StaleRefusals,
        warmMs: Math.round(warmMs),
        warmedKeys: report.warmed,
      },
    });
  } finally {
    for (const ns of Object.values(namespaces)) await dropNamespace(admin, ns);
    admin.disconnect();
  }
}

export async function warmCases(options: { quick: boolean }): Promise<BenchResult[]> {
  const videos = options.quick ? 5_000 : 20_000;
  const place = await pgSchema('warm_start');
  const db = await openDb(place.schema);
  try {
    log(`  warm-start: seeding ${videos} videos`);
    const ids = await seedVideos(db, 'warm-start', videos);
    return [
      await warmStart(db, ids, 'l2-kept', options.quick),
      await warmStart(db, ids, 'l2-empty', options.quick),
    ];
  } finally {
    await db.close();
    await place.dispose();
  }
}
