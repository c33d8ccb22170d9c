export type { AdaptivePoolOptions } from './adaptive-pool-limit.js';
export {
  type DatabaseConfig,
  DEFAULT_DATABASE_URL,
  type ParsedDatabaseUrl,
  type PoolOptions,
  parseDatabaseUrl,
} from './config.js';
export type { Holder, PoolStats } from './connection-pool.js';
export { createDatabase } from './create-database.js';
export { Database, DbSession, type QueryCacheHooks } from './database.js';
export type { DbMetricsSnapshot } from './database-metrics.js';
export { dbChannels } from './db-channels.js';
export { DatabaseError, DbErrorCode } from './errors.js';
export type { PipelineOptions, PipelineStats } from './pipelined-pool.js';
export type { PlanFinding } from './plan-findings.js';
export type { ReadConsistency, ReplicaState, ReplicaStats, ReplicaStatus } from './replica-router.js';
export type { PlanStatus, SlowQueryEntry, SlowQueryOptions } from './slow-query-log.js';
export type {
  BatchInsertSpec,
  ColumnType,
  DialectName,
  ExecOptions,
  ExecResult,
  ExecuteQueryOptions,
  IsolationLevel,
  MigrationResultSummary,
  MigrationSet,
  Queryable,
  QueryType,
  SqlQuery,
  Transaction,
  TransactionOptions,
} from './types.js';
