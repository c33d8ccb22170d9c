import Sqlite from 'better-sqlite3';
import { SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler } from 'kysely';
import type { Clock } from '../../../core/clock.js';
import { type BackoffOptions, backoffDelay } from '../../../resilience/backoff.js';
import type { DialectDriver, DriverConnection } from '../../dialect-driver.js';
import { transactionAbortedError } from '../../errors.js';
import type { ExecResult } from '../../types.js';
import { sqliteBatchInsert } from './sqlite-batch-insert.js';
import { mapSqliteError } from './sqlite-map-error.js';
import { normalizeParams } from './sqlite-params.js';

export interface SqliteDriverOptions {
  filename: string;
  busyTimeoutMs: number;
  clock: Clock;
}

/** Waits between tries of a statement while another connection holds the write lock. */
const BUSY_BACKOFF: BackoffOptions = { initialDelayMs: 2, maxDelayMs: 100 };

const STATEMENT_CACHE_LIMIT = 500;

export class SqliteConnection implements DriverConnection {
  readonly raw: Sqlite.Database;
  readonly #statements = new Map<string, Sqlite.Statement>();
  readonly #busyTimeoutMs: number;
  readonly #clock: Clock;
  #watching = false;
  #lost: unknown;

  constructor(raw: Sqlite.Database, busyTimeoutMs: number, clock: Clock) {
    this.raw = raw;
    this.#busyTimeoutMs = busyTimeoutMs;
    this.#clock = clock;
  }

  get broken(): boolean {
    return !this.raw.open;
  }

  get transactionLost(): unknown {
    return this.#lost;
  }

  watchTransaction(open: boolean): void {
    this.#watching = open;
    this.#lost = undefined;
  }

  /** Synchronous under the hood; the promise keeps one signature across dialects. */
  exec<R>(sql: string, params: readonly unknown[], _name: string | undefined): Promise<ExecResult<R>> {
    if (this.#lost !== undefined) {
      return Promise.reject(transactionAbortedError(mapSqliteError(this.#lost)));
    }
    try {
      return Promise.resolve(this.execSync<R>(sql, params));
    } catch (error) {
      if (isBusy(error)) return this.#retryBusy<R>(sql, params);
      this.#failed(error);
      return Promise.reject(error);
    }
  }

  /**
   * Some failures (SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM, ...) make SQLite roll back the whole
   * transaction by itself; noted here, before any later statement could run in autocommit.
   */
  #failed(error: unknown): void {
    if (this.#watching && this.#lost === undefined && !this.raw.inTransaction) this.#lost = error;
  }

  /**
   * Another connection holds the write lock. SQLite's own busy timeout would block the event loop while
   * it waits (and deadlock two connections in one process), so the waiting happens here, asynchronously.
   */
  async #retryBusy<R>(sql: string, params: readonly unknown[]): Promise<ExecResult<R>> {
    const deadline = this.#clock.now() + this.#busyTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      await this.#clock.sleep(backoffDelay(attempt, BUSY_BACKOFF));
      if (this.#lost !== undefined) throw transactionAbortedError(mapSqliteError(this.#lost));
      try {
        return this.execSync<R>(sql, params);
      } catch (error) {
        if (!isBusy(error) || this.#clock.now() >= deadline) {
          this.#failed(error);
          throw error;
        }
      }
    }
  }

  execSync<R>(sql: string, params: readonly unknown[]): ExecResult<R> {
    const stmt = this.statement(sql);
    const values = normalizeParams(params);
    if (stmt.reader) {
      const rows = stmt.all(values) as R[];
      return { rows, affectedRows: rows.length };
    }
    const info = stmt.run(values);
    return { rows: [], affectedRows: info.changes, insertId: BigInt(info.lastInsertRowid) };
  }

  statement(sql: string): Sqlite.Statement {
    let stmt = this.#statements.get(sql);
    if (!stmt) {
      stmt = this.raw.prepare(sql);
      if (this.#statements.size >= STATEMENT_CACHE_LIMIT) this.#statements.clear();
      this.#statements.set(sql, stmt);
    }
    return stmt;
  }

  async ping(): Promise<void> {
    this.raw.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (this.raw.open) this.raw.close();
  }
}

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
}

/**
 * SQLite does run DDL inside transactions; saying so makes Kysely's Migrator wrap a run in one, and our
 * BEGIN IMMEDIATE then serialises two processes migrating the same file (Kysely's SQLite lock is a no-op).
 */
class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

export function createSqliteDriver(options: SqliteDriverOptions): DialectDriver<SqliteConnection> {
  return {
    dialect: 'sqlite',
    // One connection: better-sqlite3 is synchronous and SQLite has a single writer, so a second
    // connection would only add lock contention (and `:memory:` would be a different database).
    maxConnections: 1,
    failureAbortsBlock: false,
    async connect() {
      // A zero driver timeout: waits for another writer happen asynchronously in exec().
      const raw = new Sqlite(options.filename, { timeout: 0 });
      if (options.filename !== ':memory:') raw.pragma('journal_mode = WAL');
      raw.pragma('synchronous = NORMAL');
      raw.pragma('foreign_keys = ON');
      return new SqliteConnection(raw, options.busyTimeoutMs, options.clock);
    },
    mapError: mapSqliteError,
    // IMMEDIATE takes the write lock at BEGIN, so two processes never deadlock upgrading a read lock.
    beginStatements: () => ['BEGIN IMMEDIATE'],
    savepointStatement: (name) => `SAVEPOINT ${name}`,
    rollbackToSavepointStatement: (name) => `ROLLBACK TO SAVEPOINT ${name}`,
    releaseSavepointStatement: (name) => `RELEASE SAVEPOINT ${name}`,
    batchInsert: sqliteBatchInsert,
    createAdapter: () => new TransactionalDdlSqliteAdapter(),
    createQueryCompiler: () => new SqliteQueryCompiler(),
    createIntrospector: (db) => new SqliteIntrospector(db),
  };
}
