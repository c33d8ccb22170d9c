import {
  type CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  Kysely,
  type KyselyConfig,
  Migrator,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';
import { abortReason } from '../core/abort.js';
import type { Clock } from '../core/clock.js';
import { OpusError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { endSpan, NO_SPAN, startSpan, tracingActive } from '../core/tracing.js';
import type { ConnectionPool, Slot } from './connection-pool.js';
import type { DatabaseMetrics, DbMetricsSnapshot } from './database-metrics.js';
import type { DialectDriver, DriverConnection } from './dialect-driver.js';
import { DatabaseError, DbErrorCode } from './errors.js';
import { translatePlaceholders } from './translate-placeholders.js';
import type {
  BatchInsertSpec,
  DialectName,
  ExecOptions,
  ExecResult,
  ExecuteQueryOptions,
  MigrationResultSummary,
  MigrationSet,
  Queryable,
  QueryType,
  SqlQuery,
  Transaction,
  TransactionOptions,
} from './types.js';

type AfterCommit = () => void | Promise<void>;

/** Hooks the cache layer plugs into (query-result caching and invalidation by tag). */
export interface QueryCacheHooks {
  getOrSet<T>(
    key: string,
    loader: () => Promise<T>,
    options: { ttl?: number; tags?: readonly string[] },
  ): Promise<T>;
  invalidateTags(tags: readonly string[]): Promise<void>;
}

export interface DatabaseInternals {
  driver: DialectDriver;
  pool: ConnectionPool<DriverConnection>;
  metrics: DatabaseMetrics;
  clock: Clock;
  logger: Logger;
  maxTransactionRetries: number;
  closeTimeoutMs: number;
  redactedUrl: string;
  /** PostgreSQL schema (search_path) the database was opened on, if any. */
  schema?: string | undefined;
  /** Set by `useCache`; kept here so transactions reach it too (their writes invalidate after COMMIT). */
  queryCache?: QueryCacheHooks | undefined;
}

/** What Database and Transaction share: raw queries, result shaping, batch writes. */
abstract class QueryableBase<DB> implements Queryable<DB> {
  abstract readonly dialect: DialectName;
  abstract readonly kysely: Kysely<DB>;
  abstract readonly inTransaction: boolean;
  abstract execute<R = Record<string, unknown>>(
    query: SqlQuery,
    options?: ExecOptions,
  ): Promise<ExecResult<R>>;
  abstract transaction<T>(fn: (tx: Transaction<DB>) => Promise<T>, options?: TransactionOptions): Promise<T>;
  abstract batchInsert(spec: BatchInsertSpec): Promise<number>;
  abstract afterCommit(fn: AfterCommit): Promise<void> | undefined;
  protected abstract cacheHooks(): QueryCacheHooks | undefined;

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
  executeQuery(
    sql: string,
    params: readonly unknown[] = [],
    options: ExecuteQueryOptions = {},
  ): Promise<unknown> {
    const type = options.queryType ?? inferQueryType(sql);
    const query = translatePlaceholders(sql, params, this.dialect);
    const execOptions: ExecOptions = {};
    if (options.name !== undefined) execOptions.name = options.name;
    if (options.signal !== undefined) execOptions.signal = options.signal;
    const cache = this.cacheHooks();
    if (type === 'select') {
      const load = async (): Promise<unknown[]> => (await this.execute(query, execOptions)).rows;
      // Inside a transaction the cache is bypassed: the transaction may see its own uncommitted writes.
      if (cache && options.cacheKey !== undefined && !this.inTransaction) {
        const cacheOptions: { ttl?: number; tags?: readonly string[] } = {};
        if (options.cacheTtl !== undefined) cacheOptions.ttl = options.cacheTtl * 1000;
        if (options.tags !== undefined) cacheOptions.tags = options.tags;
        return cache.getOrSet(options.cacheKey, load, cacheOptions);
      }
      return load();
    }
    return this.execute(query, execOptions).then(async (res) => {
      if (cache && options.tags && options.tags.length > 0) {
        const tags = options.tags;
        // Outside a transaction this resolves once the invalidation is done, so the write's promise
        // never resolves while another reader could still get the old value.
        await this.afterCommit(async () => {
          await cache.invalidateTags(tags);
        });
      }
      if (type === 'insert') {
        const first = res.rows[0] as Record<string, unknown> | undefined;
        if (first) return Object.values(first)[0] as bigint | string | undefined;
        return res.insertId;
      }
      return res.affectedRows;
    });
  }
}

const WRITE_VERBS = /^\s*(?:with\b[\s\S]*?\)\s*)?(insert|update|delete|replace|merge)\b/i;
const READ_VERBS = /^\s*(select|with|values|show|explain|pragma|describe|table)\b/i;

function inferQueryType(sql: string): QueryType {
  const write = WRITE_VERBS.exec(sql)?.[1]?.toLowerCase();
  if (write === 'insert' || write === 'replace') return 'insert';
  if (write === 'update' || write === 'merge') return 'update';
  if (write === 'delete') return 'delete';
  if (READ_VERBS.test(sql)) return 'select';
  return 'ddl';
}

/**
 * A pool of connections to one database, with the typed Kysely builder, raw parameterized queries,
 * transactions (savepoints when nested, re-run on serialization failures and deadlocks), batch writes,
 * migrations and metrics. Create it with `createDatabase()`.
 */
export class Database<DB> extends QueryableBase<DB> {
  readonly dialect: DialectName;
  readonly kysely: Kysely<DB>;
  readonly inTransaction = false;
  readonly #in: DatabaseInternals;
  readonly #kyselyParts: KyselyParts;
  #inflight = 0;
  #closing: Promise<void> | undefined;
  #drained: (() => void) | undefined;

  constructor(internals: DatabaseInternals) {
    super();
    this.#in = internals;
    this.dialect = internals.driver.dialect;
    this.#kyselyParts = createKyselyParts(this as unknown as Database<unknown>, internals);
    this.kysely = new Kysely<DB>(this.#kyselyParts.config);
  }

  /** The URL with its password hidden, for logs. */
  get redactedUrl(): string {
    return this.#in.redactedUrl;
  }

  /** Connects the query-result cache (done by the cache layer; see `cache/`). */
  useCache(hooks: QueryCacheHooks | undefined): void {
    this.#in.queryCache = hooks;
  }

  protected cacheHooks(): QueryCacheHooks | undefined {
    return this.#in.queryCache;
  }

  execute<R = Record<string, unknown>>(query: SqlQuery, options?: ExecOptions): Promise<ExecResult<R>> {
    if (this.#closing) return Promise.reject(closedError());
    if (options?.signal?.aborted) return Promise.reject(abortReason(options.signal));
    const name = options?.name ?? 'raw';
    const slot = this.#in.pool.tryAcquire(name);
    if (slot !== undefined) return this.#runAndRelease<R>(slot, query, name);
    this.#inflight++;
    return this.#in.pool.acquire(name, options?.signal).then(
      (s) => {
        const running = this.#runAndRelease<R>(s, query, name);
        this.#done();
        return running;
      },
      (error: unknown) => {
        this.#done();
        const mapped = this.#in.driver.mapError(error);
        this.#in.metrics.error(mapped.code);
        throw mapped;
      },
    );
  }

  // Callbacks rather than an async method with try/finally: this is every query's path outside a
  // transaction, and the async frame showed in point-select profiles.
  #runAndRelease<R>(slot: Slot<DriverConnection>, query: SqlQuery, name: string): Promise<ExecResult<R>> {
    this.#inflight++;
    let running: Promise<ExecResult<R>>;
    try {
      running = this.runOn<R>(slot.conn, query, name);
    } catch (error) {
      running = Promise.reject(error);
    }
    return running.then(
      (res) => {
        this.#in.pool.release(slot, false);
        this.#done();
        return res;
      },
      (error: unknown) => {
        const discard = slot.conn.broken || (error as DatabaseError).code === DbErrorCode.ConnectionLost;
        this.#in.pool.release(slot, discard);
        this.#done();
        throw error;
      },
    );
  }

  /** Runs one statement on a given connection, with metrics and error mapping. */
  runOn<R>(conn: DriverConnection, query: SqlQuery, name: string): Promise<ExecResult<R>> {
    const started = performance.now();
    // The query's name, never its parameters: spans must stay free of user data and secrets.
    const span = tracingActive()
      ? startSpan('db.query', { 'db.system.name': this.dialect, 'db.operation.name': name })
      : NO_SPAN;
    // Callbacks rather than an async method: every query passes here, and a generator frame per query
    // showed in point-select profiles.
    return conn.exec<R>(query.sql, query.parameters, name).then(
      (res) => {
        this.#in.metrics.record(name, performance.now() - started);
        endSpan(span);
        return res;
      },
      (error: unknown) => {
        this.#in.metrics.record(name, performance.now() - started);
        const mapped = this.#in.driver.mapError(error);
        this.#in.metrics.error(mapped.code);
        endSpan(span, mapped);
        throw mapped;
      },
    );
  }

  async transaction<T>(
    fn: (tx: Transaction<DB>) => Promise<T>,
    options: TransactionOptions = {},
  ): Promise<T> {
    if (this.#closing) throw closedError();
    const maxRetries = options.maxRetries ?? this.#in.maxTransactionRetries;
    const label = `tx:${options.name ?? 'anonymous'}`;
    // Counted from the call, not from the connection: close() must wait for a transaction still queued.
    this.#inflight++;
    try {
      return await this.#transactionAttempts(fn, options, maxRetries, label);
    } finally {
      this.#done();
    }
  }

  async #transactionAttempts<T>(
    fn: (tx: Transaction<DB>) => Promise<T>,
    options: TransactionOptions,
    maxRetries: number,
    label: string,
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      if (options.signal?.aborted) throw abortReason(options.signal);
      let slot: Slot<DriverConnection>;
      try {
        slot = await this.#in.pool.acquire(label, options.signal);
      } catch (error) {
        const mapped = error instanceof OpusError ? error : this.#in.driver.mapError(error);
        this.#in.metrics.error(mapped.code);
        throw mapped;
      }
      let released = false;
      let discard = false;
      const tx = new DbTransaction<DB>(this, this.#in, this.#kyselyParts, slot.conn, options.name, 0);
      try {
        await openTransaction(slot.conn, this.#in.driver.beginStatements(options.isolationLevel), (sql) =>
          this.runOn(slot.conn, { sql, parameters: [] }, 'tx.begin'),
        );
        const result = await fn(tx);
        tx.finish();
        await this.runOn(slot.conn, { sql: 'COMMIT', parameters: [] }, 'tx.commit');
        this.#in.metrics.committed++;
        this.#in.pool.release(slot);
        released = true;
        await runCallbacks(tx.takeAfterCommit(), this.#in.logger);
        return result;
      } catch (error) {
        tx.finish();
        this.#in.metrics.rolledBack++;
        try {
          await slot.conn.exec('ROLLBACK', [], undefined);
        } catch {
          discard = true;
        }
        if (slot.conn.broken || (error as DatabaseError).code === DbErrorCode.ConnectionLost) discard = true;
        const retry = error instanceof DatabaseError && error.retryable && attempt < maxRetries;
        if (!released) {
          this.#in.pool.release(slot, discard);
          released = true;
        }
        if (!retry) throw error;
        this.#in.metrics.retried++;
        // Jittered exponential backoff so two transactions that deadlocked do not collide again.
        const delay = Math.min(1000, 10 * 2 ** attempt) * (0.5 + Math.random());
        await this.#in.clock.sleep(delay, options.signal);
      } finally {
        if (!released) this.#in.pool.release(slot, discard);
      }
    }
  }

  batchInsert(spec: BatchInsertSpec): Promise<number> {
    if (spec.signal?.aborted) return Promise.reject(abortReason(spec.signal));
    // A replayable (array) batch may be re-run on deadlock; a stream can be read only once.
    const maxRetries = Array.isArray(spec.rows) ? undefined : 0;
    const options: TransactionOptions = { name: `batchInsert:${spec.table}` };
    if (maxRetries !== undefined) options.maxRetries = maxRetries;
    if (spec.signal) options.signal = spec.signal;
    return this.transaction((tx) => tx.batchInsert(spec), options);
  }

  /** Outside a transaction the work is already durable: runs `fn` now; await the result to wait for it. */
  afterCommit(fn: AfterCommit): Promise<void> {
    return runCallbacks([fn], this.#in.logger);
  }

  /**
   * Applies pending migrations under the dialect's migration lock (two processes never run them at once).
   * `options.table` names this set's bookkeeping tables, so independent sets (a library's and an
   * application's) can share one database; on PostgreSQL they live in the configured schema.
   */
  async migrate(migrations: MigrationSet, options: { table?: string } = {}): Promise<MigrationResultSummary> {
    const table = options.table ?? 'kysely_migration';
    const migrator = new Migrator({
      db: this.kysely,
      provider: { getMigrations: async () => migrations },
      migrationTableName: table,
      migrationLockTableName: `${table}_lock`,
      ...(this.#in.schema ? { migrationTableSchema: this.#in.schema } : {}),
    });
    const { error, results = [] } = await migrator.migrateToLatest();
    if (error) {
      const failed = results.find((r) => r.status === 'Error')?.migrationName;
      throw new DatabaseError(
        error instanceof DatabaseError ? (error.code as DbErrorCode) : DbErrorCode.Query,
        `Migration ${failed ?? ''} failed: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
    const applied = results.filter((r) => r.status === 'Success').map((r) => r.migrationName);
    return { applied, alreadyApplied: Object.keys(migrations).filter((n) => !applied.includes(n)) };
  }

  metrics(): DbMetricsSnapshot {
    return this.#in.metrics.snapshot(this.#in.pool.stats());
  }

  /** Who holds connections right now (query or transaction name, and for how long). */
  holders(): Array<{ label: string; heldMs: number }> {
    return this.#in.pool.holders();
  }

  /** Refuses new work, waits for in-flight work up to `closeTimeoutMs`, then ends the pool. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#inflight > 0) {
        const drained = new Promise<void>((resolve) => {
          this.#drained = resolve;
        });
        const deadline = this.#in.clock.sleep(this.#in.closeTimeoutMs);
        await Promise.race([drained, deadline]);
      }
      await this.#in.pool.destroyAll();
      await this.#in.driver.destroy?.();
    })();
    return this.#closing;
  }

  #done(): void {
    this.#inflight--;
    if (this.#inflight === 0 && this.#drained) this.#drained();
  }
}

/** A transaction (depth 0) or a savepoint inside one (depth 1+), bound to one connection. */
class DbTransaction<DB> extends QueryableBase<DB> implements Transaction<DB> {
  readonly dialect: DialectName;
  readonly inTransaction = true;
  readonly name: string | undefined;
  readonly depth: number;
  readonly #db: Database<DB>;
  readonly #in: DatabaseInternals;
  readonly #parts: KyselyParts;
  readonly #conn: DriverConnection;
  #callbacks: AfterCommit[] = [];
  #finished = false;
  #savepoints = 0;
  #kysely: Kysely<DB> | undefined;

  constructor(
    db: Database<DB>,
    internals: DatabaseInternals,
    parts: KyselyParts,
    conn: DriverConnection,
    name: string | undefined,
    depth: number,
  ) {
    super();
    this.#db = db;
    this.#in = internals;
    this.#parts = parts;
    this.#conn = conn;
    this.dialect = internals.driver.dialect;
    this.name = name;
    this.depth = depth;
  }

  /** A Kysely instance whose every query runs on this transaction's connection. */
  get kysely(): Kysely<DB> {
    this.#kysely ??= this.#parts.bind<DB>(new KyselyConnectionAdapter(this));
    return this.#kysely;
  }

  /** Selects inside a transaction bypass the cache (executeQuery checks inTransaction); writes need it. */
  protected cacheHooks(): QueryCacheHooks | undefined {
    return this.#in.queryCache;
  }

  execute<R = Record<string, unknown>>(query: SqlQuery, options?: ExecOptions): Promise<ExecResult<R>> {
    if (this.#finished) return Promise.reject(finishedError());
    if (options?.signal?.aborted) return Promise.reject(abortReason(options.signal));
    return this.#db.runOn<R>(this.#conn, query, options?.name ?? 'tx.query');
  }

  async transaction<T>(
    fn: (tx: Transaction<DB>) => Promise<T>,
    options: TransactionOptions = {},
  ): Promise<T> {
    if (this.#finished) throw finishedError();
    const savepoint = `opus_sp_${this.depth + 1}_${this.#savepoints++}`;
    const d = this.#in.driver;
    await this.#db.runOn(
      this.#conn,
      { sql: d.savepointStatement(savepoint), parameters: [] },
      'tx.savepoint',
    );
    const child = new DbTransaction<DB>(
      this.#db,
      this.#in,
      this.#parts,
      this.#conn,
      options.name ?? this.name,
      this.depth + 1,
    );
    try {
      const result = await fn(child);
      child.finish();
      await this.#db.runOn(
        this.#conn,
        { sql: d.releaseSavepointStatement(savepoint), parameters: [] },
        'tx.savepoint',
      );
      // Work done under the savepoint now belongs to this (outer) transaction.
      this.#callbacks.push(...child.takeAfterCommit());
      return result;
    } catch (error) {
      child.finish();
      child.takeAfterCommit();
      await this.#db.runOn(
        this.#conn,
        { sql: d.rollbackToSavepointStatement(savepoint), parameters: [] },
        'tx.savepoint',
      );
      throw error;
    }
  }

  batchInsert(spec: BatchInsertSpec): Promise<number> {
    if (this.#finished) return Promise.reject(finishedError());
    // What the caller's row source throws (a validation error, a broken file) reaches the caller as it
    // is: it is not a database error.
    const source: { error?: unknown } = {};
    const rows = watchSource(spec.rows, source);
    return this.#in.driver
      .batchInsert(this.#conn, rows === spec.rows ? spec : { ...spec, rows })
      .catch((error: unknown) => {
        if ('error' in source && error === source.error) throw error;
        const mapped = this.#in.driver.mapError(error);
        this.#in.metrics.error(mapped.code);
        throw mapped;
      });
  }

  afterCommit(fn: AfterCommit): undefined {
    if (this.#finished) throw finishedError();
    this.#callbacks.push(fn);
    return undefined;
  }

  finish(): void {
    this.#finished = true;
  }

  takeAfterCommit(): AfterCommit[] {
    const out = this.#callbacks;
    this.#callbacks = [];
    return out;
  }
}

async function runCallbacks(callbacks: AfterCommit[], logger: Logger): Promise<void> {
  for (const fn of callbacks) {
    try {
      await fn();
    } catch (error) {
      // The data is committed; a failing hook (e.g. cache invalidation) must not turn that into an error.
      logger.warn(
        { err: error instanceof Error ? error.message : String(error) },
        'afterCommit callback failed',
      );
    }
  }
}

function closedError(): DatabaseError {
  return new DatabaseError(DbErrorCode.Closed, 'The database is closed');
}

function finishedError(): DatabaseError {
  return new DatabaseError(DbErrorCode.Closed, 'The transaction has already committed or rolled back');
}

/* ---------- Kysely bridge: Kysely builds the SQL, our pool and drivers run it. ---------- */

interface KyselyParts {
  config: KyselyConfig;
  bind<DB>(conn: DatabaseConnection): Kysely<DB>;
}

/** A Kysely DatabaseConnection that runs through a Queryable (metrics, error mapping, its connection). */
class KyselyConnectionAdapter implements DatabaseConnection {
  readonly #target: { execute(q: SqlQuery, o?: ExecOptions): Promise<ExecResult<unknown>> };

  constructor(target: { execute(q: SqlQuery, o?: ExecOptions): Promise<ExecResult<unknown>> }) {
    this.#target = target;
  }

  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    const res = await this.#target.execute(
      { sql: compiled.sql, parameters: compiled.parameters },
      { name: 'kysely' },
    );
    const out: { rows: R[]; numAffectedRows?: bigint; insertId?: bigint } = {
      rows: res.rows as R[],
      numAffectedRows: BigInt(res.affectedRows),
    };
    if (res.insertId !== undefined) out.insertId = res.insertId;
    return out;
  }

  // biome-ignore lint/correctness/useYield: streaming is not offered; the error says so.
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new DatabaseError(
      DbErrorCode.Query,
      'Streaming queries are not supported; page with keyset pagination',
    );
  }
}

/** Kysely's own connection (used by Kysely transactions and migrations) checked out of our pool. */
class PooledKyselyConnection extends KyselyConnectionAdapter {
  readonly slot: Slot<DriverConnection>;
  constructor(db: Database<unknown>, slot: Slot<DriverConnection>) {
    super({ execute: (q, o) => db.runOn(slot.conn, q, o?.name ?? 'kysely') });
    this.slot = slot;
  }
}

function createKyselyParts(db: Database<unknown>, internals: DatabaseInternals): KyselyParts {
  const { driver: dialectDriver, pool } = internals;
  const run = async (conn: DatabaseConnection, sql: string): Promise<void> => {
    await (conn as PooledKyselyConnection).executeQuery({ sql, parameters: [] } as unknown as CompiledQuery);
  };
  const kyselyDriver: Driver = {
    init: async () => {},
    acquireConnection: async () => {
      try {
        const slot = await pool.acquire('kysely');
        return new PooledKyselyConnection(db, slot);
      } catch (error) {
        throw dialectDriver.mapError(error);
      }
    },
    beginTransaction: async (conn, settings: TransactionSettings) => {
      const iso = settings.isolationLevel === 'snapshot' ? undefined : settings.isolationLevel;
      await openTransaction(
        (conn as PooledKyselyConnection).slot.conn,
        dialectDriver.beginStatements(iso),
        (sql) => run(conn, sql),
      );
    },
    commitTransaction: (conn) => run(conn, 'COMMIT'),
    rollbackTransaction: (conn) => run(conn, 'ROLLBACK'),
    savepoint: (conn, name) => run(conn, dialectDriver.savepointStatement(name)),
    rollbackToSavepoint: (conn, name) => run(conn, dialectDriver.rollbackToSavepointStatement(name)),
    releaseSavepoint: (conn, name) => run(conn, dialectDriver.releaseSavepointStatement(name)),
    releaseConnection: async (conn) => {
      const slot = (conn as PooledKyselyConnection).slot;
      pool.release(slot, slot.conn.broken);
    },
    destroy: async () => {},
  };
  const dialect: Dialect = {
    createAdapter: () => dialectDriver.createAdapter(),
    createDriver: () => kyselyDriver,
    createQueryCompiler: () => dialectDriver.createQueryCompiler(),
    createIntrospector: (k) => dialectDriver.createIntrospector(k),
  };
  const config: KyselyConfig = { dialect };
  let base: Kysely<unknown> | undefined;
  return {
    config,
    bind<DB>(conn: DatabaseConnection): Kysely<DB> {
      base ??= db.kysely as Kysely<unknown>;
      const executor = base.getExecutor().withConnectionProvider({
        provideConnection: (consumer) => consumer(conn),
      });
      return new Kysely<DB>({ config, dialect, driver: kyselyDriver, executor });
    },
  };
}

/**
 * Starts a transaction on `conn`: where the driver can, its BEGIN goes with the first statement (one
 * round trip less); otherwise each statement runs now through `run`.
 */
async function openTransaction(
  conn: DriverConnection,
  statements: readonly string[],
  run: (sql: string) => Promise<unknown>,
): Promise<void> {
  if (conn.deferBegin !== undefined && statements.length === 1) {
    conn.deferBegin(statements[0]!);
    return;
  }
  for (const sql of statements) await run(sql);
}

/** `rows`, recording in `box` what the source itself throws; arrays (which cannot throw) as they are. */
function watchSource(rows: BatchInsertSpec['rows'], box: { error?: unknown }): BatchInsertSpec['rows'] {
  if (Array.isArray(rows)) return rows;
  if (Symbol.asyncIterator in rows) {
    return (async function* () {
      try {
        yield* rows as AsyncIterable<readonly unknown[]>;
      } catch (error) {
        box.error = error;
        throw error;
      }
    })();
  }
  // A sync source stays sync: the drivers read it without a promise per row.
  return (function* () {
    try {
      yield* rows as Iterable<readonly unknown[]>;
    } catch (error) {
      box.error = error;
      throw error;
    }
  })();
}
