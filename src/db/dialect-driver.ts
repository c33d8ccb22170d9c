import type { DatabaseIntrospector, DialectAdapter, Kysely, QueryCompiler } from 'kysely';
import type { PoolableConnection } from './connection-pool.js';
import type { DatabaseError } from './errors.js';
import type { BatchInsertSpec, DialectName, ExecResult, IsolationLevel } from './types.js';

/** One open connection of a dialect: runs SQL with the dialect's own placeholders. */
export interface DriverConnection extends PoolableConnection {
  exec<R>(sql: string, params: readonly unknown[], name: string | undefined): Promise<ExecResult<R>>;
  /**
   * Where the driver can: the next `exec` starts the transaction with `sql` (a BEGIN) in the same round
   * trip. A COMMIT or ROLLBACK before any statement ends the empty transaction without I/O.
   */
  deferBegin?(sql: string): void;
  /**
   * For servers that can end an open transaction by themselves while the client goes on (InnoDB rolls
   * back the whole transaction of a deadlock victim; SQLite rolls back on some I/O errors): called with
   * `true` once a transaction is open on this connection and with `false` before it ends. In between,
   * the driver sets `transactionLost` when it sees the server end the transaction.
   */
  watchTransaction?(open: boolean): void;
  /**
   * The driver error with which the server ended the watched transaction by itself. Set synchronously
   * as the failing statement's answer arrives, before any later statement is sent; from then on `exec`
   * rejects every statement with ERR_DB_TRANSACTION_ABORTED without sending it, so nothing meant for the
   * transaction runs in autocommit. Cleared by `watchTransaction`.
   */
  readonly transactionLost?: unknown;
  /**
   * Where the driver can pipeline: switches between exclusive use (the default: one statement at a
   * time) and pipelined use (statements sent without waiting for earlier answers, each able to fail
   * alone). Called only while nothing is in flight on the connection.
   */
  setPipelined?(on: boolean): void;
}

/**
 * Everything dialect-specific lives behind this interface, one folder per dialect with the same files
 * (`<dialect>-driver.ts`, `<dialect>-map-error.ts`, `<dialect>-batch-insert.ts`), as in Kysely.
 * Builders produce data (SQL and parameters); drivers do the I/O.
 */
export interface DialectDriver<C extends DriverConnection = DriverConnection> {
  readonly dialect: DialectName;
  /** A hard cap on connections regardless of configuration (1 for SQLite's single writer). */
  readonly maxConnections: number | undefined;
  /**
   * True where a failed statement aborts the enclosing transaction, or the savepoint it ran in, until
   * ROLLBACK (TO SAVEPOINT) (PostgreSQL); false where only the statement is undone (MySQL, SQLite).
   */
  readonly failureAbortsBlock: boolean;
  connect(): Promise<C>;
  mapError(error: unknown): DatabaseError;
  beginStatements(isolation: IsolationLevel | undefined): string[];
  savepointStatement(name: string): string;
  rollbackToSavepointStatement(name: string): string;
  releaseSavepointStatement(name: string): string;
  /** Inserts on an open transaction's connection; returns rows inserted. */
  batchInsert(conn: C, spec: BatchInsertSpec): Promise<number>;
  createAdapter(): DialectAdapter;
  createQueryCompiler(): QueryCompiler;
  // biome-ignore lint/suspicious/noExplicitAny: Kysely's own introspector signature takes Kysely<any>.
  createIntrospector(db: Kysely<any>): DatabaseIntrospector;
  /** Ends driver-level resources shared by connections (none today). */
  destroy?(): Promise<void>;
}

/**
 * Calls `mark` when a driver connection reports an error or its end. Listening is also what keeps an
 * error on an idle connection (server restart, killed session) from crashing the process.
 */
export function onConnectionEnd(
  emitter: { on(event: 'error' | 'end', listener: () => void): unknown },
  mark: () => void,
): void {
  emitter.on('error', mark);
  emitter.on('end', mark);
}

/** Splits an iterable or async iterable of rows into arrays of at most `size` rows. */
export async function* chunkRows(
  rows: Iterable<readonly unknown[]> | AsyncIterable<readonly unknown[]>,
  size: number,
): AsyncGenerator<Array<readonly unknown[]>> {
  if (Array.isArray(rows)) {
    for (let i = 0; i < rows.length; i += size) yield rows.slice(i, i + size);
    return;
  }
  let chunk: Array<readonly unknown[]> = [];
  if (!(Symbol.asyncIterator in rows)) {
    // A sync iterable (a generator, a Set) is read synchronously: one await per chunk, not per row.
    for (const row of rows) {
      chunk.push(row);
      if (chunk.length >= size) {
        yield chunk;
        chunk = [];
      }
    }
    if (chunk.length > 0) yield chunk;
    return;
  }
  for await (const row of rows) {
    chunk.push(row);
    if (chunk.length >= size) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length > 0) yield chunk;
}

/** The values of a chunk of rows in one flat array (row by row), checking each row's width. */
export function flattenRows(
  chunk: ReadonlyArray<readonly unknown[]>,
  width: number,
  table: string,
): unknown[] {
  const values: unknown[] = [];
  for (const row of chunk) {
    checkRowWidth(row, width, table);
    for (let j = 0; j < row.length; j++) values.push(row[j]);
  }
  return values;
}

/** Checks every row has one value per column before anything is written. */
export function checkRowWidth(row: readonly unknown[], width: number, table: string): void {
  if (row.length !== width) {
    throw new RangeError(`batchInsert into ${table}: a row has ${row.length} values for ${width} columns`);
  }
}

export function quoteIdent(name: string, quote: '"' | '`'): string {
  return `${quote}${name.split(quote).join(quote + quote)}${quote}`;
}

export function toJsonText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  return typeof value === 'string' ? value : JSON.stringify(value);
}
