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
import { InvalidArgumentError, isOpusError, OpusError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { endSpan, NO_SPAN, startSpan, tracingActive } from '../core/tracing.js';
import { type BackoffOptions, backoffDelay } from '../resilience/backoff.js';
import type { ConnectionPool, Slot } from './connection-pool.js';
import type { DatabaseMetrics, DbMetricsSnapshot } from './database-metrics.js';
import type { DialectDriver, DriverConnection } from './dialect-driver.js';
import { DatabaseError, DbErrorCode, transactionAbortedError } from './errors.js';
import type { PipelinedPool } from './pipelined-pool.js';
import { WriteMark } from './replica-router.js';
import { type ReplicaSet, WAL_POSITION_SQL } from './replica-set.js';
import type { SlowQueryEntry, SlowQueryLog } from './slow-query-log.js';
import { statementKind } from './statement-kind.js';
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
import { formatWalPosition, parseWalPosition } from './wal-position.js';

type AfterCommit = () => void | Promise<void>;

/** Waits between re-runs of a transaction, full jitter so two that deadlocked do not collide again. */
const TRANSACTION_BACKOFF: BackoffOptions = { initialDelayMs: 10, maxDelayMs: 1000 };

/** Hooks the cache layer plugs into (query-result caching and invalidation by tag). */
export interface QueryCacheHooks {
  getOrSet<T>(
    key: string,
    loader: () => Promise<T>,
    options: { ttlMs?: number; tags?: readonly string[] },
  ): Promise<T>;
  invalidateTags(tags: readonly string[]): Promise<void>;
}

export interface DatabaseInternals {
  driver: DialectDriver;
  pool: ConnectionPool<DriverConnection>;
  /** Statements outside transactions that share connections (see PipelinedPool); absent when off. */
  pipeline?: PipelinedPool | undefined;
  metrics: DatabaseMetrics;
  clock: Clock;
  logger: Logger;
  maxTransactionRetries: number;
  closeTimeoutMs: number;
  redactedUrl: string;
  /** PostgreSQL schema (search_path) the database was opened on, if any. */
  schema?: string | undefined;
  /** Slow-query capture (createDatabase's `slowQueries`); told of every statement's duration. */
  slowQueries?: SlowQueryLog | undefined;
  /** Set by `useCache`; kept here so transactions reach it too (their writes invalidate after COMMIT). */
  queryCache?: QueryCacheHooks | undefined;
  /** Read replicas (PostgreSQL): reads outside transactions go there; see docs/database.md, "Read replicas". */
  replicas?: ReplicaSet | undefined;
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
    let type: QueryType;
    let query: SqlQuery;
    try {
      if (typeof sql !== 'string') throw new InvalidArgumentError('executeQuery: `sql` must be a string');
      if (!Array.isArray(params)) throw new InvalidArgumentError('executeQuery: `params` must be an array');
      if (typeof options !== 'object' || options === null) {
        throw new InvalidArgumentError('executeQuery: `options` must be an object');
      }
      if ('cacheTtl' in options) {
        // 0.1's name took seconds: refused rather than read as milliseconds.
        throw new InvalidArgumentError(
          'executeQuery: `cacheTtl` is not an option; use `cacheTtlMs` (milliseconds)',
        );
      }
      type = options.queryType ?? inferQueryType(sql);
      query = translatePlaceholders(sql, params, this.dialect);
    } catch (error) {
      return Promise.reject(error);
    }
    const execOptions: ExecOptions = {};
    if (options.name !== undefined) execOptions.name = options.name;
    if (options.signal !== undefined) execOptions.signal = options.signal;
    if (options.consistency !== undefined) execOptions.consistency = options.consistency;
    const cache = this.cacheHooks();
    if (type === 'select') {
      const load = async (): Promise<unknown[]> => (await this.execute(query, execOptions)).rows;
      // Inside a transaction the cache is bypassed: the transaction may see its own uncommitted writes.
      if (cache && options.cacheKey !== undefined && !this.inTransaction) {
        const cacheOptions: { ttlMs?: number; tags?: readonly string[] } = {};
        if (options.cacheTtlMs !== undefined) cacheOptions.ttlMs = options.cacheTtlMs;
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
 * all-or-nothing transactions (savepoints when nested, re-run after conflicts), batch writes,
 * migrations and metrics. Create it with `createDatabase()`.
 */
export class Database<DB> extends QueryableBase<DB> {
  readonly dialect: DialectName;
  readonly kysely: Kysely<DB>;
  readonly inTransaction = false;
  readonly #in: DatabaseInternals;
  readonly #kyselyParts: KyselyParts;
  /** What this database has written (read-your-writes for calls that are not in a session). */
  readonly #marks: readonly WriteMark[] = [new WriteMark()];
  #inflight = 0;
  #closing: Promise<void> | undefined;
  #drained: (() => void) | undefined;

  constructor(internals: DatabaseInternals) {
    super();
    this.#in = internals;
    this.dialect = internals.driver.dialect;
    this.#kyselyParts = createKyselyParts(this as unknown as Database<unknown>, internals, this.#marks);
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
    return this.executeFor<R>(this.#marks, query, options);
  }

  /**
   * A session: its own read-your-writes. Its reads wait (on the primary) only for what the session
   * itself wrote, not for every write of the process; `after` resumes one from another's `position`
   * (another process's, handed over in a cookie or a job). Without replicas it is the database itself.
   */
  session(options: { after?: string | undefined } = {}): DbSession<DB> {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError('session: `options` must be an object');
    }
    const mark = new WriteMark();
    if (options.after !== undefined) {
      const position = parseWalPosition(options.after);
      if (position === undefined) {
        throw new InvalidArgumentError('session: `options.after` must be a position such as "16/B374D848"');
      }
      mark.position = position;
    }
    // The session's writes count for the database's own reads too.
    return new DbSession<DB>(
      this,
      [mark, ...this.#marks],
      () => this.#in.queryCache,
      (target) => this.#kyselyParts.bind<DB>(new KyselyConnectionAdapter(target)),
    );
  }

  /**
   * `execute` on behalf of the callers whose writes `marks` track (the first decides where a read may
   * go; a write is recorded in all of them). Used by sessions.
   */
  executeFor<R>(
    marks: readonly WriteMark[],
    query: SqlQuery,
    options: ExecOptions | undefined,
  ): Promise<ExecResult<R>> {
    const replicas = this.#in.replicas;
    if (replicas === undefined) return this.executeOnPrimary<R>(query, options);
    if (this.#closing) return Promise.reject(closedError());
    if (typeof query?.sql !== 'string' || !Array.isArray(query.parameters)) {
      return Promise.reject(malformedQuery(query));
    }
    const kind = statementKind(query.sql, this.dialect);
    if (kind !== 'exclusive' && (options?.readOnly ?? kind === 'read')) {
      return replicas.read<R>(query, options, marks[0]!, options?.consistency ?? 'read-your-writes');
    }
    const running = this.executeOnPrimary<R>(query, options);
    running.then(
      () => replicas.afterWrite(marks),
      () => replicas.afterWrite(marks),
    );
    return running;
  }

  /**
   * Runs a statement on the primary whatever it is, without the read-your-writes bookkeeping of
   * `execute` (the path of every statement without replicas, and of a replica's own database). Prefer
   * `execute`, with `{ consistency: 'primary' }` for a read that must see the primary.
   */
  executeOnPrimary<R = Record<string, unknown>>(
    query: SqlQuery,
    options?: ExecOptions,
  ): Promise<ExecResult<R>> {
    if (this.#closing) return Promise.reject(closedError());
    if (typeof query?.sql !== 'string' || !Array.isArray(query.parameters)) {
      return Promise.reject(malformedQuery(query));
    }
    if (options?.signal?.aborted) return Promise.reject(abortReason(options.signal));
    const name = options?.name ?? 'raw';
    const pipeline = this.#in.pipeline;
    if (pipeline !== undefined) {
      const kind = pipeline.kindOf(query.sql, options?.readOnly);
      if (kind !== undefined) return pipeline.submit<R>(query, name, kind === 'read', options?.signal);
    }
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

  /**
   * Runs one statement on a given connection, with metrics and error mapping. Never throws: a query the
   * driver cannot even send rejects. `watcher`, inside a transaction, learns of every failure.
   */
  runOn<R>(
    conn: DriverConnection,
    query: SqlQuery,
    name: string,
    watcher?: FailureWatcher,
  ): Promise<ExecResult<R>> {
    const started = performance.now();
    // The query's name, never its parameters: spans must stay free of user data and secrets.
    const span = tracingActive()
      ? startSpan('db.query', { 'db.system.name': this.dialect, 'db.operation.name': name })
      : NO_SPAN;
    let running: Promise<ExecResult<R>>;
    try {
      running = conn.exec<R>(query.sql, query.parameters, name);
    } catch (error) {
      // Nothing was sent (a query that is not { sql, parameters }, a value the driver refuses).
      const mapped = this.#in.driver.mapError(error);
      this.#in.metrics.error(mapped.code);
      endSpan(span, mapped);
      return Promise.reject(mapped);
    }
    // Callbacks rather than an async method: every query passes here, and a generator frame per query
    // showed in point-select profiles.
    return running.then(
      (res) => {
        const ms = performance.now() - started;
        this.#in.metrics.record(name, ms);
        this.#in.slowQueries?.observe(name, query, ms);
        endSpan(span);
        return res;
      },
      (error: unknown) => {
        const ms = performance.now() - started;
        this.#in.metrics.record(name, ms);
        this.#in.slowQueries?.observe(name, query, ms);
        const mapped = this.#in.driver.mapError(error);
        this.#in.metrics.error(mapped.code);
        endSpan(span, mapped);
        watcher?.noteFailure(mapped);
        throw mapped;
      },
    );
  }

  transaction<T>(fn: (tx: Transaction<DB>) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    return this.transactionFor(this.#marks, fn, options);
  }

  /** `transaction` on behalf of the callers whose writes `marks` track (used by sessions). */
  async transactionFor<T>(
    marks: readonly WriteMark[],
    fn: (tx: Transaction<DB>) => Promise<T>,
    options: TransactionOptions = {},
  ): Promise<T> {
    if (this.#closing) throw closedError();
    checkTransactionArguments(fn, options);
    const maxRetries = options.maxRetries ?? this.#in.maxTransactionRetries;
    const label = `tx:${options.name ?? 'anonymous'}`;
    // Counted from the call, not from the connection: close() must wait for a transaction still queued.
    this.#inflight++;
    try {
      return await this.#transactionAttempts(fn, options, maxRetries, label, marks);
    } finally {
      this.#done();
    }
  }

  async #transactionAttempts<T>(
    fn: (tx: Transaction<DB>) => Promise<T>,
    options: TransactionOptions,
    maxRetries: number,
    label: string,
    marks: readonly WriteMark[],
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
      const conn = slot.conn;
      let released = false;
      let discard = false;
      // Shared by the transaction and its savepoints: what the database has aborted, if anything.
      const state: TxState = { cause: undefined, depth: Number.POSITIVE_INFINITY, wrote: false };
      const tx = new DbTransaction<DB>(this, this.#in, this.#kyselyParts, conn, options.name, 0, state);
      let returned = false;
      try {
        await openTransaction(conn, this.#in.driver.beginStatements(options.isolationLevel), (sql) =>
          this.runOn(conn, { sql, parameters: [] }, 'tx.begin'),
        );
        conn.watchTransaction?.(true);
        const result = await fn(tx);
        tx.finish();
        if (state.cause !== undefined) {
          // The callback caught the failure and returned: its work is gone all the same, and a COMMIT
          // now would commit only what came after (MySQL) or silently roll back (PostgreSQL).
          returned = true;
          throw state.cause;
        }
        await commitOn(conn, this.#in.driver, (sql) =>
          this.runOn(conn, { sql, parameters: [] }, 'tx.commit'),
        );
        this.#in.metrics.committed++;
        if (state.wrote && this.#in.replicas !== undefined) await this.#noteCommit(conn, marks);
        this.#in.pool.release(slot);
        released = true;
        await runCallbacks(tx.takeAfterCommit(), this.#in.logger);
        return result;
      } catch (error) {
        tx.finish();
        if (released) throw error; // only runCallbacks' own failures could get here; they are logged
        this.#in.metrics.rolledBack++;
        const cause = state.cause;
        // A statement refused because of the abort, or a callback that returned normally, reports why
        // the transaction was aborted; an error of the callback's own making is reported as it is.
        const reported = cause !== undefined && (returned || isAbortedError(error)) ? cause : error;
        const unknownCommit = isOpusError(error) && error.code === DbErrorCode.CommitUnknown;
        if (!unknownCommit && !(await rollbackOn(conn))) discard = true;
        if (conn.broken || isConnectionLost(error) || unknownCommit) discard = true;
        if (unknownCommit) {
          this.#in.metrics.error(DbErrorCode.CommitUnknown);
          this.#in.replicas?.noteUnknownWrite(marks);
        }
        const decisive = cause ?? error;
        const retry = decisive instanceof DatabaseError && decisive.retryable && attempt < maxRetries;
        this.#in.pool.release(slot, discard);
        released = true;
        if (!retry) throw reported;
        this.#in.metrics.retried++;
        await this.#in.clock.sleep(backoffDelay(attempt, TRANSACTION_BACKOFF), options.signal);
      } finally {
        if (!released) this.#in.pool.release(slot, discard);
      }
    }
  }

  batchInsert(spec: BatchInsertSpec): Promise<number> {
    return this.batchInsertFor(this.#marks, spec);
  }

  /** `batchInsert` on behalf of the callers whose writes `marks` track (used by sessions). */
  batchInsertFor(marks: readonly WriteMark[], spec: BatchInsertSpec): Promise<number> {
    const bad = checkBatchSpec(spec);
    if (bad !== undefined) return Promise.reject(bad);
    if (spec.signal?.aborted) return Promise.reject(abortReason(spec.signal));
    // A replayable (array) batch may be re-run on deadlock; a stream can be read only once.
    const maxRetries = Array.isArray(spec.rows) ? undefined : 0;
    const options: TransactionOptions = { name: `batchInsert:${spec.table}` };
    if (maxRetries !== undefined) options.maxRetries = maxRetries;
    if (spec.signal) options.signal = spec.signal;
    return this.transactionFor(marks, (tx) => tx.batchInsert(spec), options);
  }

  /** Outside a transaction the work is already durable: runs `fn` now; await the result to wait for it. */
  afterCommit(fn: AfterCommit): Promise<void> {
    if (typeof fn !== 'function') {
      return Promise.reject(new InvalidArgumentError('afterCommit: `fn` must be a function'));
    }
    return runCallbacks([fn], this.#in.logger);
  }

  /**
   * Applies pending migrations under the dialect's migration lock (two processes never run them at once).
   * `options.table` names this set's bookkeeping tables, so independent sets (a library's and an
   * application's) can share one database; on PostgreSQL they live in the configured schema.
   */
  async migrate(migrations: MigrationSet, options: { table?: string } = {}): Promise<MigrationResultSummary> {
    if (typeof migrations !== 'object' || migrations === null) {
      throw new InvalidArgumentError('migrate: `migrations` must be an object of named migrations');
    }
    if (typeof options !== 'object' || options === null) {
      throw new InvalidArgumentError('migrate: `options` must be an object');
    }
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

  /**
   * After a writing transaction's COMMIT: the primary's WAL position, read on the same connection (so it
   * is at or past the commit), for read-your-writes.
   */
  async #noteCommit(conn: DriverConnection, marks: readonly WriteMark[]): Promise<void> {
    const replicas = this.#in.replicas!;
    const sentAt = this.#in.clock.now();
    try {
      const res = await this.runOn<{ position: string }>(
        conn,
        { sql: WAL_POSITION_SQL, parameters: [] },
        'replica.position',
      );
      replicas.noteCommit(marks, res.rows[0]?.position, sentAt);
    } catch {
      replicas.noteUnknownWrite(marks);
    }
  }

  metrics(): DbMetricsSnapshot {
    return this.#in.metrics.snapshot(
      this.#in.pool.stats(),
      this.#in.pipeline?.stats(),
      this.#in.replicas?.stats(),
    );
  }

  /**
   * Statements slower than the `slowQueries` threshold, one entry per distinct statement, most recently
   * seen first, with their plan and findings; empty when slow-query capture is off. With read replicas,
   * the reads they ran are here too (an entry per server that ran the statement, planned there).
   */
  slowQueries(): SlowQueryEntry[] {
    const own = this.#in.slowQueries?.entries() ?? [];
    const replicas = this.#in.replicas?.slowQueries() ?? [];
    if (replicas.length === 0) return own;
    return [...own, ...replicas].sort((a, b) => b.lastSeenAt - a.lastSeenAt);
  }

  /** Who holds connections right now (query or transaction name, and for how long). */
  holders(): Array<{ label: string; heldMs: number }> {
    return this.#in.pool.holders();
  }

  /** Refuses new work, waits for in-flight work up to `closeTimeoutMs`, then ends the pool. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const pipeline = this.#in.pipeline;
      const work: Promise<void>[] = [];
      if (this.#inflight > 0) {
        work.push(
          new Promise<void>((resolve) => {
            this.#drained = resolve;
          }),
        );
      }
      if (pipeline !== undefined) work.push(pipeline.drain());
      if (this.#in.slowQueries !== undefined) work.push(this.#in.slowQueries.close());
      let cancel: (() => void) | undefined;
      const deadline = new Promise<void>((resolve) => {
        cancel = this.#in.clock.setTimer(this.#in.closeTimeoutMs, resolve);
      });
      await Promise.race([Promise.all(work), deadline]);
      cancel?.();
      await pipeline?.close();
      await this.#in.replicas?.close();
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

/**
 * A caller of a Database with read replicas that reads its own writes without waiting for everyone
 * else's: `db.session()`. Everything runs as on the database; only where a read may go differs.
 */
export class DbSession<DB> extends QueryableBase<DB> {
  readonly dialect: DialectName;
  readonly inTransaction = false;
  readonly #db: Database<DB>;
  readonly #marks: readonly WriteMark[];
  readonly #cache: () => QueryCacheHooks | undefined;
  readonly #bind: (target: KyselyTarget) => Kysely<DB>;
  #kysely: Kysely<DB> | undefined;

  constructor(
    db: Database<DB>,
    marks: readonly WriteMark[],
    cache: () => QueryCacheHooks | undefined,
    bind: (target: KyselyTarget) => Kysely<DB>,
  ) {
    super();
    this.#db = db;
    this.dialect = db.dialect;
    this.#marks = marks;
    this.#cache = cache;
    this.#bind = bind;
  }

  /**
   * The WAL position of the session's latest write (`16/B374D848`), or undefined before any (or
   * without replicas): hand it to `db.session({ after })` elsewhere, so that session reads this one's
   * writes too. Resolves once the positions of the writes that have finished are known.
   */
  async position(): Promise<string | undefined> {
    const mark = this.#marks[0]!;
    await mark.settled();
    return mark.position === 0n ? undefined : formatWalPosition(mark.position);
  }

  /** A Kysely instance whose statements run as `session.execute` runs them (use `transaction()` for transactions). */
  get kysely(): Kysely<DB> {
    this.#kysely ??= this.#bind(this);
    return this.#kysely;
  }

  protected cacheHooks(): QueryCacheHooks | undefined {
    return this.#cache();
  }

  execute<R = Record<string, unknown>>(query: SqlQuery, options?: ExecOptions): Promise<ExecResult<R>> {
    return this.#db.executeFor<R>(this.#marks, query, options);
  }

  transaction<T>(fn: (tx: Transaction<DB>) => Promise<T>, options?: TransactionOptions): Promise<T> {
    return this.#db.transactionFor(this.#marks, fn, options);
  }

  batchInsert(spec: BatchInsertSpec): Promise<number> {
    return this.#db.batchInsertFor(this.#marks, spec);
  }

  afterCommit(fn: AfterCommit): Promise<void> {
    return this.#db.afterCommit(fn);
  }
}

/** Told of every failed statement of a transaction (see DbTransaction.noteFailure). */
interface FailureWatcher {
  noteFailure(error: DatabaseError): void;
}

/**
 * What a transaction and its savepoints share: whether the database has aborted work, why, and how much.
 * `depth` is the savepoint depth whose rollback recovers (PostgreSQL after a failure inside a savepoint);
 * 0 means the whole transaction is lost. Every statement checks `cause`: the one flag on the hot path.
 */
interface TxState {
  cause: DatabaseError | undefined;
  depth: number;
  /** A statement that is not a plain read ran (its commit position matters to read-your-writes). */
  wrote: boolean;
}

/** A transaction (depth 0) or a savepoint inside one (depth 1+), bound to one connection. */
class DbTransaction<DB> extends QueryableBase<DB> implements Transaction<DB>, FailureWatcher {
  readonly dialect: DialectName;
  readonly inTransaction = true;
  readonly name: string | undefined;
  readonly depth: number;
  readonly #db: Database<DB>;
  readonly #in: DatabaseInternals;
  readonly #parts: KyselyParts;
  readonly #conn: DriverConnection;
  readonly #state: TxState;
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
    state: TxState,
  ) {
    super();
    this.#db = db;
    this.#in = internals;
    this.#parts = parts;
    this.#conn = conn;
    this.#state = state;
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
    if (this.#state.cause !== undefined) return Promise.reject(transactionAbortedError(this.#state.cause));
    if (typeof query?.sql !== 'string' || !Array.isArray(query.parameters)) {
      return Promise.reject(malformedQuery(query));
    }
    if (options?.signal?.aborted) return Promise.reject(abortReason(options.signal));
    if (
      !this.#state.wrote &&
      (options?.readOnly === false || statementKind(query.sql, this.dialect) !== 'read')
    )
      this.#state.wrote = true;
    return this.#db.runOn<R>(this.#conn, query, options?.name ?? 'tx.query', this);
  }

  /**
   * A statement of this transaction failed: records whether the database aborted more than the
   * statement. The driver decides it as the answer arrives; this only reads what it decided.
   */
  noteFailure(error: DatabaseError): void {
    let depth: number;
    if (
      this.#conn.transactionLost !== undefined ||
      this.#conn.broken ||
      error.code === DbErrorCode.ConnectionLost
    ) {
      depth = 0;
    } else if (this.#in.driver.failureAbortsBlock) {
      depth = this.depth;
    } else {
      return;
    }
    const s = this.#state;
    if (s.cause === undefined) {
      s.cause = rootCause(error);
      s.depth = depth;
    } else if (depth < s.depth) {
      s.depth = depth;
      if (!isAbortedError(error)) s.cause = error;
    }
  }

  async transaction<T>(
    fn: (tx: Transaction<DB>) => Promise<T>,
    options: TransactionOptions = {},
  ): Promise<T> {
    if (this.#finished) throw finishedError();
    checkTransactionArguments(fn, options);
    const state = this.#state;
    if (state.cause !== undefined) throw transactionAbortedError(state.cause);
    const savepoint = `opus_sp_${this.depth + 1}_${this.#savepoints++}`;
    const d = this.#in.driver;
    await this.#db.runOn(
      this.#conn,
      { sql: d.savepointStatement(savepoint), parameters: [] },
      'tx.savepoint',
      this,
    );
    const child = new DbTransaction<DB>(
      this.#db,
      this.#in,
      this.#parts,
      this.#conn,
      options.name ?? this.name,
      this.depth + 1,
      state,
    );
    let result: T;
    try {
      result = await fn(child);
    } catch (error) {
      child.finish();
      child.takeAfterCommit();
      throw await this.#undoSavepoint(savepoint, child.depth, error);
    }
    child.finish();
    if (state.cause !== undefined) {
      // The callback caught a failure and returned normally: what it did is lost all the same.
      child.takeAfterCommit();
      throw await this.#undoSavepoint(savepoint, child.depth, state.cause);
    }
    try {
      await this.#db.runOn(
        this.#conn,
        { sql: d.releaseSavepointStatement(savepoint), parameters: [] },
        'tx.savepoint',
        this,
      );
    } catch (error) {
      child.takeAfterCommit();
      throw await this.#undoSavepoint(savepoint, child.depth, error);
    }
    // Work done under the savepoint now belongs to this (outer) transaction.
    this.#callbacks.push(...child.takeAfterCommit());
    return result;
  }

  /**
   * Undoes a failed savepoint at `depth` and returns what the savepoint rejects with: the callback's
   * own error, or, where that is only the refusal of a statement on aborted work, the database's cause.
   * When the database has aborted more than this savepoint (the whole transaction), nothing is sent.
   */
  async #undoSavepoint(name: string, depth: number, error: unknown): Promise<unknown> {
    const state = this.#state;
    const reported = (): unknown =>
      state.cause !== undefined && (error === state.cause || isAbortedError(error)) ? state.cause : error;
    if (state.cause !== undefined && state.depth < depth) return reported();
    const out = reported();
    try {
      await this.#db.runOn(
        this.#conn,
        { sql: this.#in.driver.rollbackToSavepointStatement(name), parameters: [] },
        'tx.savepoint',
      );
    } catch (rollbackError) {
      // The savepoint is gone (the server ended the transaction in a way the driver did not report):
      // the transaction cannot be trusted with anything more.
      state.cause ??= error instanceof DatabaseError ? rootCause(error) : (rollbackError as DatabaseError);
      state.depth = 0;
      return out;
    }
    // The abort happened inside this savepoint, and rolling back to it has recovered the transaction.
    if (state.cause !== undefined && state.depth >= depth) {
      state.cause = undefined;
      state.depth = Number.POSITIVE_INFINITY;
    }
    return out;
  }

  batchInsert(spec: BatchInsertSpec): Promise<number> {
    if (this.#finished) return Promise.reject(finishedError());
    if (this.#state.cause !== undefined) return Promise.reject(transactionAbortedError(this.#state.cause));
    const bad = checkBatchSpec(spec);
    if (bad !== undefined) return Promise.reject(bad);
    this.#state.wrote = true;
    // What the caller's row source throws (a validation error, a broken file) reaches the caller as it
    // is: it is not a database error.
    const source: { error?: unknown } = {};
    const rows = watchSource(spec.rows, source);
    let running: Promise<number>;
    try {
      running = this.#in.driver.batchInsert(this.#conn, rows === spec.rows ? spec : { ...spec, rows });
    } catch (error) {
      running = Promise.reject(error);
    }
    return running.catch((error: unknown) => {
      if ('error' in source && error === source.error) throw error;
      const mapped = this.#in.driver.mapError(error);
      this.#in.metrics.error(mapped.code);
      this.noteFailure(mapped);
      throw mapped;
    });
  }

  /**
   * Registers `fn` for after the outermost COMMIT. Returns undefined, or a rejected promise when the
   * transaction has ended or the database has aborted it (the callback would never run).
   */
  afterCommit(fn: AfterCommit): Promise<void> | undefined {
    if (this.#finished) return Promise.reject(finishedError());
    if (this.#state.cause !== undefined) return Promise.reject(transactionAbortedError(this.#state.cause));
    if (typeof fn !== 'function') {
      return Promise.reject(new InvalidArgumentError('afterCommit: `fn` must be a function'));
    }
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

function isAbortedError(error: unknown): error is DatabaseError {
  return error instanceof DatabaseError && error.code === DbErrorCode.TransactionAborted;
}

function isConnectionLost(error: unknown): boolean {
  return error instanceof DatabaseError && error.code === DbErrorCode.ConnectionLost;
}

/** The failure behind a refusal (a driver's ERR_DB_TRANSACTION_ABORTED carries it as its cause). */
function rootCause(error: DatabaseError): DatabaseError {
  return isAbortedError(error) && error.cause instanceof DatabaseError ? error.cause : error;
}

/**
 * COMMIT, on either transaction path. Refuses when the server has already ended the transaction; a
 * connection lost after COMMIT was sent becomes ERR_DB_COMMIT_UNKNOWN (it may have committed), which
 * nothing retries.
 */
async function commitOn(
  conn: DriverConnection,
  driver: DialectDriver,
  run: (sql: string) => Promise<unknown>,
): Promise<void> {
  if (conn.transactionLost !== undefined) throw rootCause(driver.mapError(conn.transactionLost));
  if (conn.broken) {
    throw new DatabaseError(
      DbErrorCode.ConnectionLost,
      'The connection was lost before COMMIT was sent; the server has rolled the transaction back',
    );
  }
  try {
    await run('COMMIT');
  } catch (error) {
    if (isConnectionLost(error)) {
      throw new DatabaseError(
        DbErrorCode.CommitUnknown,
        `The connection was lost after COMMIT was sent: the transaction may or may not have been committed (${
          (error as Error).message
        })`,
        { cause: error },
      );
    }
    throw error;
  } finally {
    conn.watchTransaction?.(false);
  }
}

/**
 * Ends a failed transaction. False when the connection cannot be trusted with another (ROLLBACK
 * failed). Where the server has already ended the transaction by itself, nothing is sent.
 */
async function rollbackOn(conn: DriverConnection): Promise<boolean> {
  const lost = conn.transactionLost !== undefined;
  conn.watchTransaction?.(false);
  if (lost) return true;
  try {
    await conn.exec('ROLLBACK', [], undefined);
    return true;
  } catch {
    return false;
  }
}

/** What execute() rejects with for a query that is not `{ sql: string, parameters: array }`. */
function malformedQuery(query: unknown): InvalidArgumentError {
  return typeof (query as Partial<SqlQuery> | null | undefined)?.sql !== 'string'
    ? new InvalidArgumentError('execute: `query.sql` must be a string')
    : new InvalidArgumentError('execute: `query.parameters` must be an array');
}

const ISOLATION_LEVELS: ReadonlySet<string> = new Set([
  'read uncommitted',
  'read committed',
  'repeatable read',
  'serializable',
]);

/** Throws InvalidArgumentError (inside the async caller, so it rejects) for a bad callback or option. */
function checkTransactionArguments(fn: unknown, options: unknown): void {
  if (typeof fn !== 'function') throw new InvalidArgumentError('transaction: `fn` must be a function');
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('transaction: `options` must be an object');
  }
  const o = options as TransactionOptions;
  if (o.maxRetries !== undefined && !(Number.isInteger(o.maxRetries) && o.maxRetries >= 0)) {
    throw new InvalidArgumentError('transaction: `options.maxRetries` must be a non-negative integer');
  }
  // Spliced into SQL (SET TRANSACTION ISOLATION LEVEL …): only the four known levels pass.
  if (o.isolationLevel !== undefined && !ISOLATION_LEVELS.has(o.isolationLevel)) {
    throw new InvalidArgumentError(
      'transaction: `options.isolationLevel` must be read uncommitted, read committed, repeatable read or serializable',
    );
  }
}

/** The InvalidArgumentError for a batch spec without a table, columns or rows, if it lacks one. */
function checkBatchSpec(spec: unknown): InvalidArgumentError | undefined {
  const s = spec as Partial<BatchInsertSpec> | null | undefined;
  if (typeof s !== 'object' || s === null)
    return new InvalidArgumentError('batchInsert: `spec` must be an object');
  if (typeof s.table !== 'string' || s.table === '') {
    return new InvalidArgumentError('batchInsert: `spec.table` must be a non-empty string');
  }
  if (!Array.isArray(s.columns) || s.columns.length === 0) {
    return new InvalidArgumentError('batchInsert: `spec.columns` must be a non-empty array');
  }
  const rows = s.rows as unknown;
  if (
    typeof rows !== 'object' ||
    rows === null ||
    !(Symbol.iterator in rows || Symbol.asyncIterator in rows)
  ) {
    return new InvalidArgumentError('batchInsert: `spec.rows` must be an iterable or async iterable of rows');
  }
  return undefined;
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

/** What a Kysely connection runs its statements through. */
interface KyselyTarget {
  execute(q: SqlQuery, o?: ExecOptions): Promise<ExecResult<unknown>>;
}

/** A Kysely DatabaseConnection that runs through a Queryable (metrics, error mapping, its connection). */
class KyselyConnectionAdapter implements DatabaseConnection {
  readonly #target: KyselyTarget;

  constructor(target: KyselyTarget) {
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

/**
 * Kysely's own connection while statements are pipelined or read replicas are on: its statements run as
 * `db.execute` would run them (shared connections, a replica for reads) until one needs a connection of
 * its own or a transaction begins; from then on it holds a connection of the pool until Kysely releases
 * it, so `db.kysely.connection()` keeps its session. A write on a held connection outside a transaction
 * has no position read for it: the database's reads go to the primary until its next check (see
 * ReplicaSet.noteUnknownWrite).
 */
class SharedKyselyConnection extends KyselyConnectionAdapter {
  readonly #holder: {
    slot: Slot<DriverConnection> | undefined;
    inTransaction: boolean;
    hold(): Promise<Slot<DriverConnection>>;
  };

  constructor(
    db: Database<unknown>,
    internals: DatabaseInternals,
    shareable: (sql: string) => boolean,
    marks: readonly WriteMark[],
  ) {
    const held = (q: SqlQuery): void => {
      if (
        internals.replicas !== undefined &&
        !holder.inTransaction &&
        statementKind(q.sql, db.dialect) !== 'read'
      )
        internals.replicas.noteUnknownWrite(marks);
    };
    const holder = {
      slot: undefined as Slot<DriverConnection> | undefined,
      inTransaction: false,
      async hold(): Promise<Slot<DriverConnection>> {
        if (holder.slot === undefined) {
          try {
            holder.slot = await internals.pool.acquire('kysely');
          } catch (error) {
            throw internals.driver.mapError(error);
          }
        }
        return holder.slot;
      },
    };
    super({
      execute: (q, o) => {
        const name = o?.name ?? 'kysely';
        if (holder.slot !== undefined) {
          const running = db.runOn(holder.slot.conn, q, name);
          held(q);
          return running;
        }
        if (shareable(q.sql)) return db.execute(q, o);
        return holder.hold().then((slot) => {
          const running = db.runOn(slot.conn, q, name);
          held(q);
          return running;
        });
      },
    });
    this.#holder = holder;
  }

  /** The connection this Kysely connection holds, taken from the pool now if it holds none. */
  hold(): Promise<Slot<DriverConnection>> {
    return this.#holder.hold();
  }

  get slot(): Slot<DriverConnection> | undefined {
    return this.#holder.slot;
  }

  /** Kysely began (true) or ended (false) a transaction on this connection. */
  set inTransaction(value: boolean) {
    this.#holder.inTransaction = value;
  }
}

/** The pool connection behind one of Kysely's connections (taken now for a shared one). */
async function heldSlot(conn: DatabaseConnection): Promise<Slot<DriverConnection>> {
  return conn instanceof SharedKyselyConnection ? conn.hold() : (conn as PooledKyselyConnection).slot;
}

function createKyselyParts(
  db: Database<unknown>,
  internals: DatabaseInternals,
  marks: readonly WriteMark[],
): KyselyParts {
  const { driver: dialectDriver, pool } = internals;
  // With replicas every statement that is not session-bound goes through db.execute (reads to a
  // replica, writes with their position read); otherwise those the pipeline takes.
  const shareable = (sql: string): boolean =>
    internals.replicas !== undefined
      ? statementKind(sql, dialectDriver.dialect) !== 'exclusive'
      : internals.pipeline?.kindOf(sql, undefined) !== undefined;
  const run = async (conn: DatabaseConnection, sql: string): Promise<void> => {
    await (conn as PooledKyselyConnection).executeQuery({ sql, parameters: [] } as unknown as CompiledQuery);
  };
  const kyselyDriver: Driver = {
    init: async () => {},
    acquireConnection: async () => {
      if (internals.pipeline !== undefined || internals.replicas !== undefined)
        return new SharedKyselyConnection(db, internals, shareable, marks);
      try {
        const slot = await pool.acquire('kysely');
        return new PooledKyselyConnection(db, slot);
      } catch (error) {
        throw dialectDriver.mapError(error);
      }
    },
    beginTransaction: async (conn, settings: TransactionSettings) => {
      const iso = settings.isolationLevel === 'snapshot' ? undefined : settings.isolationLevel;
      const c = (await heldSlot(conn)).conn;
      await openTransaction(c, dialectDriver.beginStatements(iso), (sql) => run(conn, sql));
      c.watchTransaction?.(true);
      if (conn instanceof SharedKyselyConnection) conn.inTransaction = true;
    },
    commitTransaction: async (conn) => {
      if (conn instanceof SharedKyselyConnection) conn.inTransaction = false;
      const c = (await heldSlot(conn)).conn;
      await commitOn(c, dialectDriver, (sql) => run(conn, sql));
      // Whether it wrote is not known here: its position is read all the same, on its connection.
      const replicas = internals.replicas;
      if (replicas !== undefined) {
        const sentAt = internals.clock.now();
        try {
          const res = await db.runOn<{ position: string }>(
            c,
            { sql: WAL_POSITION_SQL, parameters: [] },
            'replica.position',
          );
          replicas.noteCommit(marks, res.rows[0]?.position, sentAt);
        } catch {
          replicas.noteUnknownWrite(marks);
        }
      }
    },
    rollbackTransaction: async (conn) => {
      if (conn instanceof SharedKyselyConnection) conn.inTransaction = false;
      const c = (await heldSlot(conn)).conn;
      const lost = c.transactionLost !== undefined;
      c.watchTransaction?.(false);
      if (!lost) await run(conn, 'ROLLBACK');
    },
    savepoint: (conn, name) => run(conn, dialectDriver.savepointStatement(name)),
    rollbackToSavepoint: (conn, name) => run(conn, dialectDriver.rollbackToSavepointStatement(name)),
    releaseSavepoint: (conn, name) => run(conn, dialectDriver.releaseSavepointStatement(name)),
    releaseConnection: async (conn) => {
      const slot = conn instanceof SharedKyselyConnection ? conn.slot : (conn as PooledKyselyConnection).slot;
      if (slot !== undefined) pool.release(slot, slot.conn.broken);
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
