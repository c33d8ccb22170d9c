/**
 * Redis Cluster cases of the scale suite. `cluster-cache`: `getOrSet` with no L1 on a Cache whose L2 is
 * a Redis Cluster (every read decodes an entry from the cluster; the reads of one tick go as one MGET to
 * the primary that owns the namespace's hash slot) against a raw ioredis Cluster `getBuffer` of the same
 * key, at concurrency 64, in the same run. The same measurement as the cache suite's `l2-hit` on a
 * single Redis. Needs the local cluster of scripts/start-redis-cluster.sh (started here when it is not
 * running), or BENCH_REDIS_CLUSTER_URL.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Cluster } from 'ioredis';
import { Cache, createRedisClient, redisClientOptions } from '../src/cache/index.js';
import { type BenchResult, compareLoad, log, median, result, runLoad } from './lib/harness.js';

const CLUSTER_URL = process.env.BENCH_REDIS_CLUSTER_URL ?? 'redis+cluster://127.0.0.1:7000,127.0.0.1:7001';

async function clusterClient(autoPipelining: boolean): Promise<Cluster> {
  const client = createRedisClient(
    CLUSTER_URL,
    {
      ...redisClientOptions(),
      lazyConnect: true,
    },
    autoPipelining ? { enableAutoPipelining: true } : {},
  ) as Cluster;
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** Raw GETs of one key at concurrency 64 through a plain and an auto-pipelining Cluster client. */
async function fasterWithAutoPipelining(
  quick: boolean,
): Promise<{ chosen: boolean; probe: { plain: number; autoPipelining: number } }> {
  const plain = await clusterClient(false);
  const auto = await clusterClient(true);
  const key = `{bench_cluster_probe_${process.pid}}:k`;
  try {
    await plain.set(key, 'x'.repeat(200));
    const opts = { concurrency: 64, seconds: quick ? 0.3 : 0.6 };
    const p: number[] = [];
    const a: number[] = [];
    for (let r = 0; r < 2; r++) {
      p.push((await runLoad(() => plain.getBuffer(key), opts)).opsPerSec);
      a.push((await runLoad(() => auto.getBuffer(key), opts)).opsPerSec);
    }
    const probe = { plain: Math.round(median(p)), autoPipelining: Math.round(median(a)) };
    log(`  cluster-cache: raw GET ${probe.plain}/s plain, ${probe.autoPipelining}/s auto-pipelining`);
    return { chosen: probe.autoPipelining > probe.plain, probe };
  } finally {
    await plain.del(key);
    plain.disconnect();
    auto.disconnect();
  }
}

async function clusterCache(quick: boolean): Promise<BenchResult> {
  const ns = `bench_cluster_${process.pid}`;
  const timeoutMs = 1_000;
  const autoPipelining = await fasterWithAutoPipelining(quick);
  const client = await clusterClient(autoPipelining.chosen);
  const raw = await clusterClient(autoPipelining.chosen);
  const cache = new Cache({
    namespace: ns,
    l1: false,
    defaultTtlMs: 3_600_000,
    redis: { client, timeoutMs },
  });
  await cache.ready(5_000);
  try {
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
    const bytes = (await raw.getBuffer(entryKeys[0]!))?.length ?? 0;
    const loader = async (): Promise<object> => ({});
    const seconds = quick ? 0.5 : 1.5;
    const concurrency = 64;
    const rounds = quick ? 3 : 7;
    const cmp = await compareLoad(
      'cluster-cache',
      (i) => cache.getOrSet(keys[i % keyCount]!, loader),
      (i) => raw.getBuffer(entryKeys[i % keyCount]!),
      { concurrency, seconds, rounds },
    );
    const m = cache.metrics();
    return result({
      case: 'cluster-cache',
      target: 'redis-cluster',
      subject: 'cache.getOrSet on Redis Cluster (no L1: the reads of a tick as one MGET, + decode)',
      baseline: 'ioredis Cluster getBuffer of the same key',
      unit: 'ops/s',
      value: cmp.subject.opsPerSec,
      baselineValue: cmp.baseline.opsPerSec,
      p99Ms: cmp.subject.p99Ms,
      baselineP99Ms: cmp.baseline.p99Ms,
      params: {
        concurrency,
        seconds,
        rounds,
        keys: keyCount,
        entryBytes: bytes,
        timeoutMs,
        nodes: client.nodes('master').length,
        autoPipelining: autoPipelining.chosen,
        probeOpsPerSec: autoPipelining.probe,
      },
      extra: {
        coalesced: m.coalesced,
        redisTimeouts: m.redisTimeouts,
        redisErrors: m.redisErrors,
        loaderRuns: m.loaderRuns,
      },
    });
  } finally {
    await cache.clear();
    await cache.close();
    client.disconnect();
    raw.disconnect();
  }
}

/** The Redis Cluster cases; starts the local cluster first unless BENCH_REDIS_CLUSTER_URL names one. */
export async function clusterCases(options: { quick: boolean }): Promise<BenchResult[]> {
  if (!process.env.BENCH_REDIS_CLUSTER_URL) {
    await promisify(execFile)('bash', ['scripts/start-redis-cluster.sh'], { timeout: 60_000 });
  }
  return [await clusterCache(options.quick)];
}
