import { defineErrorCodes } from '../core/error-codes.js';
import { OpusError, type OpusErrorOptions } from '../core/errors.js';

/** The database layer's codes: every driver error is mapped to one of these (the dialect's own code is kept). */
export const DbErrorCode = defineErrorCodes('db', {
  UniqueViolation: {
    code: 'ERR_DB_UNIQUE_VIOLATION',
    class: 'permanent',
    meaning:
      'A row would repeat the value of a unique key or primary key (`constraint` names it where known).',
    action: 'Do not retry the same write: read the existing row, or write with other values.',
  },
  ForeignKey: {
    code: 'ERR_DB_FOREIGN_KEY',
    class: 'permanent',
    meaning: 'A row refers to a row that does not exist, or a referenced row was to be deleted.',
    action: 'Create or keep the referenced row first; retrying the same write fails the same way.',
  },
  NotNull: {
    code: 'ERR_DB_NOT_NULL',
    class: 'permanent',
    meaning: 'A required column was given no value.',
    action: 'Give the column a value.',
  },
  Check: {
    code: 'ERR_DB_CHECK',
    class: 'permanent',
    meaning: "A value broke one of the table's CHECK constraints.",
    action: 'Fix the value; the constraint is named in the message.',
  },
  InvalidData: {
    code: 'ERR_DB_INVALID_DATA',
    class: 'permanent',
    meaning: "A value does not fit its column (too long, out of range, not of the column's type).",
    action: 'Fix the value; retrying the same write fails the same way.',
  },
  ConnectionLost: {
    code: 'ERR_DB_CONNECTION_LOST',
    class: 'transient',
    meaning:
      'The connection broke while a statement was running (server restart, killed backend, network). ' +
      'A transaction on it was rolled back by the server; transaction() re-runs it on a new connection.',
    action:
      'Outside a transaction, retry only if the statement is safe to run twice (a write may have been applied).',
  },
  ConnectFailed: {
    code: 'ERR_DB_CONNECT_FAILED',
    class: 'transient',
    meaning: 'A new connection could not be opened (server down, wrong host, port, credentials or database).',
    action: 'Retry later if the server is down; check the URL and credentials if it persists.',
  },
  Timeout: {
    code: 'ERR_DB_TIMEOUT',
    class: 'transient',
    meaning: 'A statement ran longer than statementTimeoutMs and the server cancelled it.',
    action: 'Retry later, or make the statement cheaper (an index, a smaller batch) or the limit larger.',
  },
  PoolExhausted: {
    code: 'ERR_DB_POOL_EXHAUSTED',
    class: 'transient',
    meaning: 'No connection became free within acquireTimeoutMs; the message names who held the connections.',
    action: 'Retry later; if it recurs, shorten what holds connections (long transactions) or raise `max`.',
  },
  Serialization: {
    code: 'ERR_DB_SERIALIZATION',
    class: 'transient',
    meaning: 'The transaction conflicted with a concurrent one and was rolled back (SQLSTATE 40001).',
    action: 'Re-run the whole transaction; transaction() does so itself up to maxRetries.',
  },
  Deadlock: {
    code: 'ERR_DB_DEADLOCK',
    class: 'transient',
    meaning:
      'Two transactions waited for each other and the database chose this one as the victim. On MariaDB/' +
      'MySQL the whole transaction was rolled back, even inside a savepoint.',
    action: 'Re-run the whole transaction; transaction() does so itself up to maxRetries.',
  },
  LockTimeout: {
    code: 'ERR_DB_LOCK_TIMEOUT',
    class: 'transient',
    meaning:
      'A row lock was not granted in time (innodb_lock_wait_timeout, lock_timeout). With ' +
      'innodb_rollback_on_timeout the whole transaction was rolled back, otherwise only the statement.',
    action: 'Re-run the whole transaction; transaction() does so itself up to maxRetries.',
  },
  Busy: {
    code: 'ERR_DB_BUSY',
    class: 'transient',
    meaning: 'SQLite: another connection held the database lock for longer than busyTimeoutMs.',
    action: 'Retry later; transaction() re-runs itself up to maxRetries.',
  },
  TransactionAborted: {
    code: 'ERR_DB_TRANSACTION_ABORTED',
    class: 'permanent',
    meaning:
      'A statement, savepoint, batch insert or afterCommit was refused because the database had already ' +
      'aborted the transaction (its `cause` says why: a deadlock, a lost connection, a failed statement on ' +
      'PostgreSQL). Nothing was sent; nothing of the transaction will be committed.',
    action:
      'Let it propagate out of the transaction callback: transaction() then re-runs the callback when the ' +
      'cause is a conflict, or rejects with the cause. Retrying inside the same transaction cannot succeed.',
  },
  CommitUnknown: {
    code: 'ERR_DB_COMMIT_UNKNOWN',
    class: 'permanent',
    meaning:
      'The connection was lost after COMMIT was sent and before the answer arrived: the transaction may ' +
      'or may not have been committed. It is never retried automatically, and afterCommit callbacks did not run.',
    action:
      'Find out before writing again: read the rows back, or re-run the work only if it is idempotent ' +
      '(the store methods that are idempotent by URL are listed in the transaction docs).',
  },
  WriteUnknown: {
    code: 'ERR_DB_WRITE_UNKNOWN',
    class: 'permanent',
    meaning:
      'The connection broke while a write sent outside a transaction on a pipelined connection was in ' +
      'flight: it may or may not have been applied. It is never re-sent automatically (reads are).',
    action:
      'Find out before writing again: read the row back, or re-run the write only if running it twice is harmless.',
  },
  Query: {
    code: 'ERR_DB_QUERY',
    class: 'permanent',
    meaning: 'The database rejected the statement for another reason (syntax, unknown table or column, ...).',
    action: 'Fix the statement; the message carries the database\u2019s own text and code.',
  },
  Url: {
    code: 'ERR_DB_URL',
    class: 'permanent',
    meaning: 'The database URL cannot be parsed or names an unsupported scheme.',
    action: 'Fix the URL (postgres://, mysql://, mariadb://, sqlite:<path> or sqlite::memory:).',
  },
  Closed: {
    code: 'ERR_DB_CLOSED',
    class: 'permanent',
    meaning: 'The database was used after close(), or a transaction after it committed or rolled back.',
    action: 'Open a new Database, or run the work inside the transaction callback before it returns.',
  },
});
export type DbErrorCode = (typeof DbErrorCode)[keyof typeof DbErrorCode];

/**
 * Failures after which re-running the whole transaction at once is expected to succeed: conflicts with
 * concurrent transactions, and a connection lost before COMMIT (the server rolled the work back). Every
 * one is transient; not every transient failure is here: a statement timeout or an exhausted pool is not
 * helped by re-running the transaction immediately.
 */
const RERUN_TRANSACTION: ReadonlySet<string> = new Set([
  DbErrorCode.Serialization,
  DbErrorCode.Deadlock,
  DbErrorCode.LockTimeout,
  DbErrorCode.Busy,
  DbErrorCode.ConnectionLost,
]);

export interface DatabaseErrorOptions extends OpusErrorOptions {
  /** The dialect's own code: SQLSTATE on PostgreSQL, errno name on MySQL, extended code on SQLite. */
  dialectCode?: string | undefined;
  constraint?: string | undefined;
}

export class DatabaseError extends OpusError {
  declare readonly code: DbErrorCode;
  readonly dialectCode: string | undefined;
  readonly constraint: string | undefined;

  constructor(code: DbErrorCode, message: string, options: DatabaseErrorOptions = {}) {
    super(code, message, options);
    this.dialectCode = options.dialectCode;
    this.constraint = options.constraint;
  }

  /**
   * True when transaction() re-runs the whole transaction after this failure (a conflict with another
   * transaction, or a connection lost before COMMIT). A narrower notion than `transient`.
   */
  get retryable(): boolean {
    return this.transient && RERUN_TRANSACTION.has(this.code);
  }
}

/**
 * What a statement on a transaction the database has aborted rejects with; `cause` is why it was
 * aborted. Transient when the cause is (re-running the whole operation later can succeed), so that a
 * caller above the transaction, which sees this error only from Kysely's own transaction API, decides
 * as it would on the cause.
 */
export function transactionAbortedError(cause: unknown): DatabaseError {
  const why = cause instanceof OpusError ? `${cause.code}: ${cause.message}` : String(cause);
  return new DatabaseError(
    DbErrorCode.TransactionAborted,
    `The database has aborted this transaction (${why}); nothing more runs in it and none of it will be committed`,
    { cause, transient: cause instanceof OpusError && cause.transient },
  );
}
