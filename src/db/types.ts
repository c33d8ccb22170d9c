import type { Kysely, Migration } from 'kysely';
import type { ReadConsistency } from './replica-router.js';

export type DialectName = 'postgres' | 'mysql' | 'sqlite';

/** What a raw query does; it decides what `executeQuery` returns. */
export type QueryType = 'select' | 'insert' | 'update' | 'delete' | 'ddl';

export type IsolationLevel = 'read uncommitted' | 'read committed' | 'repeatable read' | 'serializable';

/** A query as data: SQL with the dialect's own placeholders and its parameters in order. */
export interface SqlQuery {
  readonly sql: string;
  readonly parameters: readonly unknown[];
}

export interface ExecOptions {
  /**
   * A stable name for metrics and for the pool's "who holds the connection" report. On PostgreSQL it
   * also names the prepared statement (when prepared statements are on), so one name must always mean
   * one SQL text.
   */
  name?: string;
  signal?: AbortSignal;
  /**
   * Whether the statement only reads, when its text does not say it: by default a SELECT (WITH, VALUES,
   * TABLE, SHOW) without a locking clause or nextval() is a read. Outside transactions a read may be
   * pipelined and is sent again if its connection breaks; pass `false` for a SELECT that calls a
   * function with effects, so that it never runs twice.
   */
  readOnly?: boolean;
  /**
   * With read replicas, where a read outside a transaction may go: `'read-your-writes'` (default) a
   * replica that has replayed this caller's latest write, else the primary; `'eventual'` any replica
   * within `maxReplicaLagMs`; `'primary'` the primary. Without replicas it changes nothing.
   */
  consistency?: ReadConsistency;
}

export interface ExecResult<R> {
  rows: R[];
  /** Rows changed by INSERT, UPDATE or DELETE. */
  affectedRows: number;
  /** Auto-increment id of an INSERT where the dialect reports one (MySQL, SQLite). */
  insertId?: bigint;
}

export interface ExecuteQueryOptions extends ExecOptions {
  queryType?: QueryType;
  /** Cache the rows of a select under this key (takes effect with the cache layer). */
  cacheKey?: string;
  /** Lifetime of the cached rows in milliseconds (default: the cache's own). */
  cacheTtlMs?: number;
  /** Cache tags to attach to the result (reads) or to invalidate (writes). */
  tags?: readonly string[];
}

export interface TransactionOptions {
  /** Shown in metrics and in the pool-exhaustion report. */
  name?: string;
  isolationLevel?: IsolationLevel;
  /**
   * Re-runs of the whole callback when the attempt ended with a failure that re-running fixes
   * (`DatabaseError.retryable`: serialization failure, deadlock, lock timeout, SQLite busy, connection
   * lost before COMMIT); default 3. Never after ERR_DB_COMMIT_UNKNOWN.
   */
  maxRetries?: number;
  signal?: AbortSignal;
}

/** Neutral column types for batch writes; each dialect maps them (e.g. json → jsonb on PostgreSQL). */
export type ColumnType = 'text' | 'uuid' | 'integer' | 'bigint' | 'double' | 'boolean' | 'timestamp' | 'json';

export interface BatchInsertSpec {
  table: string;
  columns: ReadonlyArray<{ name: string; type: ColumnType }>;
  /** Rows as arrays in column order. An async iterable is consumed chunk by chunk, never held whole. */
  rows: Iterable<readonly unknown[]> | AsyncIterable<readonly unknown[]>;
  /** On a unique-key conflict: fail (default) or skip the row. */
  onConflict?: 'error' | 'ignore';
  signal?: AbortSignal;
}

/** What the store and every other layer above uses: a Database, or a Transaction inside one. */
export interface Queryable<DB> {
  readonly dialect: DialectName;
  /** Typed query builder; queries built from it run on this Queryable's connection. */
  readonly kysely: Kysely<DB>;
  /** True inside a transaction. */
  readonly inTransaction: boolean;
  execute<R = Record<string, unknown>>(query: SqlQuery, options?: ExecOptions): Promise<ExecResult<R>>;
  /**
   * A raw query: `?` or `$n` placeholders (translated per dialect, values never spliced),
   * returning rows for selects, the inserted id for inserts and the affected count for updates/deletes.
   */
  executeQuery<R = Record<string, unknown>>(
    sql: string,
    params?: readonly unknown[],
    options?: ExecuteQueryOptions & { queryType?: 'select' },
  ): Promise<R[]>;
  executeQuery(
    sql: string,
    params: readonly unknown[],
    options: ExecuteQueryOptions & { queryType: 'insert' },
  ): Promise<bigint | string | undefined>;
  executeQuery(
    sql: string,
    params: readonly unknown[],
    options: ExecuteQueryOptions & { queryType: 'update' | 'delete' | 'ddl' },
  ): Promise<number>;
  /**
   * Runs `fn` in a transaction (a savepoint when already inside one): all of it commits or none of it.
   * When the database aborts the transaction by itself (a MySQL deadlock, a failed statement outside a
   * savepoint on PostgreSQL, a lost connection), every later call on it rejects with
   * ERR_DB_TRANSACTION_ABORTED, and the outermost transaction() never commits: it re-runs `fn` (see
   * `maxRetries`) or rejects with the cause, also when `fn` caught the failure and returned.
   */
  transaction<T>(fn: (tx: Transaction<DB>) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /** Inserts many rows in the fewest round trips the dialect allows; returns the number inserted. */
  batchInsert(spec: BatchInsertSpec): Promise<number>;
  /**
   * Runs `fn` once the current work is durable: at once outside a transaction (the returned promise
   * settles when `fn` has finished), after the outermost COMMIT inside one (transaction() resolves only
   * after the callbacks have run), never after a rollback, nor after the rollback of the savepoint it
   * was registered in. A failing callback is logged, never thrown: the data is committed either way.
   */
  afterCommit(fn: () => void | Promise<void>): Promise<void> | undefined;
}

export interface Transaction<DB> extends Queryable<DB> {
  readonly name: string | undefined;
  /** 0 for the outermost transaction, 1+ for savepoints. */
  readonly depth: number;
}

export interface MigrationResultSummary {
  applied: string[];
  alreadyApplied: string[];
}

export type MigrationSet = Record<string, Migration>;
