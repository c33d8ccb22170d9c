import Sqlite from 'better-sqlite3';
import { SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler } from 'kysely';
import type { DialectDriver, DriverConnection } from '../../dialect-driver.js';
import type { ExecResult } from '../../types.js';
import { sqliteBatchInsert } from './sqlite-batch-insert.js';
import { mapSqliteError } from './sqlite-map-error.js';

export interface SqliteDriverOptions {
  filename: string;
  busyTimeoutMs: number;
}

const STATEMENT_CACHE_LIMIT = 500;

export class SqliteConnection implements DriverConnection {
  readonly raw: Sqlite.Database;
  readonly #statements = new Map<string, Sqlite.Statement>();

  constructor(raw: Sqlite.Database) {
    this.raw = raw;
  }

  get broken(): boolean {
    return !this.raw.open;
  }

  /** Synchronous under the hood; the promise keeps one signature across dialects. */
  exec<R>(sql: string, params: readonly unknown[], _name: string | undefined): Promise<ExecResult<R>> {
    try {
      return Promise.resolve(this.execSync<R>(sql, params));
    } catch (error) {
      return Promise.reject(error);
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

/** better-sqlite3 binds numbers, strings, bigints, buffers and null only. */
export function normalizeParams(params: readonly unknown[]): unknown[] {
  let out: unknown[] | undefined;
  for (let i = 0; i < params.length; i++) {
    const v = params[i];
    let mapped: unknown = v;
    if (v === undefined) mapped = null;
    else if (typeof v === 'boolean') mapped = v ? 1 : 0;
    else if (v instanceof Date) mapped = v.toISOString();
    else if (v !== null && typeof v === 'object' && !Buffer.isBuffer(v) && !(v instanceof Uint8Array))
      mapped = JSON.stringify(v);
    if (mapped !== v) {
      out ??= params.slice();
      out[i] = mapped;
    }
  }
  return out ?? (params as unknown[]);
}

export function createSqliteDriver(options: SqliteDriverOptions): DialectDriver<SqliteConnection> {
  return {
    dialect: 'sqlite',
    // One connection: better-sqlite3 is synchronous and SQLite has a single writer, so a second
    // connection would only add lock contention (and `:memory:` would be a different database).
    maxConnections: 1,
    async connect() {
      const raw = new Sqlite(options.filename, { timeout: options.busyTimeoutMs });
      if (options.filename !== ':memory:') raw.pragma('journal_mode = WAL');
      raw.pragma('synchronous = NORMAL');
      raw.pragma('foreign_keys = ON');
      return new SqliteConnection(raw);
    },
    mapError: mapSqliteError,
    // IMMEDIATE takes the write lock at BEGIN, so two processes never deadlock upgrading a read lock.
    beginStatements: () => ['BEGIN IMMEDIATE'],
    savepointStatement: (name) => `SAVEPOINT ${name}`,
    rollbackToSavepointStatement: (name) => `ROLLBACK TO SAVEPOINT ${name}`,
    releaseSavepointStatement: (name) => `RELEASE SAVEPOINT ${name}`,
    batchInsert: sqliteBatchInsert,
    createAdapter: () => new SqliteAdapter(),
    createQueryCompiler: () => new SqliteQueryCompiler(),
    createIntrospector: (db) => new SqliteIntrospector(db),
  };
}
