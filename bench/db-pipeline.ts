/**
 * The point-select rows about pipelining (part of the `db` suite): the raw configurations the store's
 * baseline is chosen from (each reported against the pool), the store against the pool, a long run in
 * fresh processes (throughput over time, p99, peak RSS) and the store as a fraction of pgbench.
 */
import type pg from 'pg';
import { type BenchResult, compareLoad, log, median, result } from './lib/harness.js';
import {
  type Measured,
  mariadbPipelined,
  mysql2Held,
  mysql2Pooled,
  pgbench,
  pgPipelinedClients,
  pgPooled,
  type RawConfig,
  runSteadyChild,
  type SteadyResult,
  steadiness,
} from './lib/pipelined-baselines.js';

/** The raw PostgreSQL configurations: a pg Pool and pg's pipeline mode over 2 and over 4 clients. */
export async function postgresRawConfigs(
  config: pg.ClientConfig,
  poolMax: number,
  sql: string,
  param: (i: number) => unknown,
): Promise<{ pool: RawConfig; all: RawConfig[] }> {
  const pool = pgPooled({ ...config, max: poolMax }, sql, param);
  const all = [
    pool,
    await pgPipelinedClients(config, 2, sql, param),
    await pgPipelinedClients(config, 4, sql, param),
  ];
  return { pool, all };
}

/**
 * The raw MySQL/MariaDB configurations: mysql2 (which does not pipeline) as a pool and as held
 * connections in its faster protocol, and the `mariadb` connector pipelining over 2 and over 4.
 */
export async function mysqlRawConfigs(
  url: string,
  poolMax: number,
  kind: 'execute' | 'query',
  sql: string,
  param: (i: number) => unknown,
): Promise<{ pool: RawConfig; all: RawConfig[] }> {
  const pool = mysql2Pooled(url, poolMax, sql, param);
  const all = [
    pool,
    await mysql2Held(url, poolMax, kind, sql, param),
    await mariadbPipelined(url, 2, sql, param),
    await mariadbPipelined(url, 4, sql, param),
  ];
  return { pool, all };
}

export interface PipelineCaseInput {
  target: 'postgres' | 'mysql';
  url: string;
  schema: string | undefined;
  quick: boolean;
  sql: string;
  /** One id of the table, for pgbench (PostgreSQL). */
  someId: string;
  subject: (i: number) => Promise<unknown>;
  measured: Measured[];
  pool: RawConfig;
  concurrency: number;
  poolMax: number;
  rounds: number;
  seconds: number;
  params: Record<string, unknown>;
}

export async function pipelinedPointCases(input: PipelineCaseInput): Promise<BenchResult[]> {
  const { target, measured, pool, params } = input;
  const out: BenchResult[] = [];
  const poolStats = measured.find((m) => m.config === pool)!.stats;
  for (const m of measured) {
    if (m.config === pool) continue;
    out.push(
      result({
        case: 'point-select-raw',
        target,
        subject: m.config.name,
        baseline: pool.name,
        unit: 'ops/s',
        value: m.stats.opsPerSec,
        baselineValue: poolStats.opsPerSec,
        p99Ms: m.stats.p99Ms,
        baselineP99Ms: poolStats.p99Ms,
        params: { ...params, fastest: m === measured[0] },
      }),
    );
  }

  const vsPool = await compareLoad(`point-select ${target} store vs pool`, input.subject, pool.op, {
    concurrency: input.concurrency,
    seconds: input.seconds,
    rounds: input.rounds,
  });
  out.push(
    result({
      case: 'point-select-vs-pool',
      target,
      subject: 'store.getVideoById',
      baseline: pool.name,
      unit: 'ops/s',
      value: vsPool.subject.opsPerSec,
      baselineValue: vsPool.baseline.opsPerSec,
      p99Ms: vsPool.subject.p99Ms,
      baselineP99Ms: vsPool.baseline.p99Ms,
      params,
    }),
  );

  out.push(await steadyCase(input));
  const bench = target === 'postgres' ? pgbenchCase(input, vsPool.subject.opsPerSec) : undefined;
  if (bench) out.push(bench);
  return out;
}

/**
 * The store and the fastest raw configuration, each for 30 s (6 s with --quick) in a fresh process,
 * one after the other, twice (order swapped): overall rate, decay (last 5 s over first 5 s), p99 and
 * peak RSS.
 */
async function steadyCase(input: PipelineCaseInput): Promise<BenchResult> {
  const seconds = input.quick ? 6 : 30;
  const fastest = input.measured[0]!.config;
  const rawMode = fastest.mode;
  const base = {
    url: input.url,
    ...(input.schema ? { schema: input.schema } : {}),
    seconds,
    concurrency: input.concurrency,
    poolMax: input.poolMax,
    ...(fastest.protocol ? { protocol: fastest.protocol } : {}),
  };
  const subject: SteadyResult[] = [];
  const baseline: SteadyResult[] = [];
  for (let round = 0; round < 2; round++) {
    const order = round === 0 ? (['store', rawMode] as const) : ([rawMode, 'store'] as const);
    for (const mode of order) {
      const r = await runSteadyChild({ ...base, mode });
      (mode === 'store' ? subject : baseline).push(r);
      log(
        `  point-select ${input.target} ${seconds} s ${mode}: ${r.opsPerSec.toFixed(0)}/s, last/first 5 s ${steadiness(r.perSecond).toFixed(3)}, p99 ${r.p99Ms.toFixed(2)} ms, peak RSS ${r.peakRssMb} MB`,
      );
    }
  }
  const med = (xs: SteadyResult[], f: (r: SteadyResult) => number) => median(xs.map(f));
  const subjectPeak = med(subject, (r) => r.peakRssMb);
  const baselinePeak = med(baseline, (r) => r.peakRssMb);
  return result({
    case: 'point-select-steady',
    target: input.target,
    subject: 'store.getVideoById',
    baseline: fastest.name,
    unit: 'ops/s',
    value: med(subject, (r) => r.opsPerSec),
    baselineValue: med(baseline, (r) => r.opsPerSec),
    p99Ms: med(subject, (r) => r.p99Ms),
    baselineP99Ms: med(baseline, (r) => r.p99Ms),
    peakRssMb: subjectPeak,
    params: {
      concurrency: input.concurrency,
      poolMax: input.poolMax,
      seconds,
      rounds: 2,
      process: 'fresh child per run',
    },
    extra: {
      steadiness: Math.round(med(subject, (r) => steadiness(r.perSecond)) * 1000) / 1000,
      baselineSteadiness: Math.round(med(baseline, (r) => steadiness(r.perSecond)) * 1000) / 1000,
      baselinePeakRssMb: baselinePeak,
      peakRssRatio: Math.round((subjectPeak / baselinePeak) * 1000) / 1000,
    },
  });
}

/** The store's rate (measured just before) over pgbench -M prepared's best over a few client counts. */
function pgbenchCase(input: PipelineCaseInput, storeOpsPerSec: number): BenchResult | undefined {
  const seconds = input.quick ? 2 : 5;
  const runs = [];
  for (const clients of [4, 16, 32]) {
    const run = pgbench({
      url: input.url,
      schema: input.schema,
      sql: input.sql,
      value: input.someId,
      clients,
      seconds,
    });
    if (run === undefined) {
      log('  pgbench not found: its row is left out');
      return undefined;
    }
    log(`  pgbench -M prepared -c ${clients}: ${run.tps.toFixed(0)} tps`);
    runs.push(run);
  }
  const best = runs.sort((a, b) => b.tps - a.tps)[0]!;
  return result({
    case: 'point-select-pgbench',
    target: input.target,
    subject: 'store.getVideoById',
    baseline: `pgbench -M prepared, ${best.clients} clients (best of ${runs.map((r) => r.clients).join('/')})`,
    unit: 'ops/s',
    value: storeOpsPerSec,
    baselineValue: best.tps,
    params: {
      ...input.params,
      pgbenchSeconds: seconds,
      pgbenchRow: 'one row (pgbench variables hold one id)',
    },
  });
}
