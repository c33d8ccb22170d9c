import { LatencyRecorder, type LatencySummary } from '../core/latency-recorder.js';
import type { PoolStats } from './connection-pool.js';
import { dbChannels } from './db-channels.js';
import type { PipelineStats } from './pipelined-pool.js';
import type { ReplicaStats } from './replica-router.js';

export interface DbMetricsSnapshot {
  /** Queries run (successful or not). */
  queriesExecuted: number;
  /** Mean query time in milliseconds. */
  avgExecutionTime: number;
  latency: LatencySummary;
  /** Per query name (`store.getVideoById`, `kysely`, `raw`, …). */
  byName: Record<string, LatencySummary>;
  errorsByCode: Record<string, number>;
  transactions: { committed: number; rolledBack: number; retried: number };
  pool: PoolStats;
  /** Statements outside transactions on shared connections; absent when pipelining is off. */
  pipeline?: PipelineStats;
  /** Read replicas: where reads went, read-your-writes fallbacks, each replica's state and lag; absent without replicas. */
  replicas?: ReplicaStats;
}

/** Counters for one Database; recording is O(1) on the query path. */
export class DatabaseMetrics {
  readonly #all = new LatencyRecorder(4096);
  readonly #byName = new Map<string, LatencyRecorder>();
  readonly #errors = new Map<string, number>();
  committed = 0;
  rolledBack = 0;
  retried = 0;

  record(name: string, ms: number): void {
    this.#all.record(ms);
    let rec = this.#byName.get(name);
    if (rec === undefined) {
      rec = new LatencyRecorder(512);
      this.#byName.set(name, rec);
    }
    rec.record(ms);
    if (dbChannels.query.hasSubscribers) dbChannels.query.publish({ name, durationMs: ms });
  }

  error(code: string): void {
    this.#errors.set(code, (this.#errors.get(code) ?? 0) + 1);
  }

  snapshot(pool: PoolStats, pipeline?: PipelineStats, replicas?: ReplicaStats): DbMetricsSnapshot {
    const latency = this.#all.summary();
    return {
      queriesExecuted: latency.count,
      avgExecutionTime: latency.avgMs,
      latency,
      byName: Object.fromEntries([...this.#byName].map(([k, v]) => [k, v.summary()])),
      errorsByCode: Object.fromEntries(this.#errors),
      transactions: { committed: this.committed, rolledBack: this.rolledBack, retried: this.retried },
      pool,
      ...(pipeline ? { pipeline } : {}),
      ...(replicas ? { replicas } : {}),
    };
  }
}
