import { OpusError, type OpusErrorOptions } from '../core/errors.js';

export const DbErrorCode = {
  UniqueViolation: 'ERR_DB_UNIQUE_VIOLATION',
  ForeignKey: 'ERR_DB_FOREIGN_KEY',
  NotNull: 'ERR_DB_NOT_NULL',
  Check: 'ERR_DB_CHECK',
  InvalidData: 'ERR_DB_INVALID_DATA',
  ConnectionLost: 'ERR_DB_CONNECTION_LOST',
  ConnectFailed: 'ERR_DB_CONNECT_FAILED',
  Timeout: 'ERR_DB_TIMEOUT',
  PoolExhausted: 'ERR_DB_POOL_EXHAUSTED',
  Serialization: 'ERR_DB_SERIALIZATION',
  Deadlock: 'ERR_DB_DEADLOCK',
  LockTimeout: 'ERR_DB_LOCK_TIMEOUT',
  Busy: 'ERR_DB_BUSY',
  Query: 'ERR_DB_QUERY',
  Url: 'ERR_DB_URL',
  Closed: 'ERR_DB_CLOSED',
} as const;
export type DbErrorCode = (typeof DbErrorCode)[keyof typeof DbErrorCode];

/** Failures after which re-running the whole transaction is expected to succeed. */
const RETRYABLE: ReadonlySet<string> = new Set([
  DbErrorCode.Serialization,
  DbErrorCode.Deadlock,
  DbErrorCode.LockTimeout,
  DbErrorCode.Busy,
]);

export interface DatabaseErrorOptions extends OpusErrorOptions {
  /** The dialect's own code: SQLSTATE on PostgreSQL, errno name on MySQL, extended code on SQLite. */
  dialectCode?: string | undefined;
  constraint?: string | undefined;
}

export class DatabaseError extends OpusError {
  readonly dialectCode: string | undefined;
  readonly constraint: string | undefined;

  constructor(code: DbErrorCode, message: string, options: DatabaseErrorOptions = {}) {
    super(code, message, options);
    this.dialectCode = options.dialectCode;
    this.constraint = options.constraint;
  }

  /** True when the failure is transient and the transaction may be re-run. */
  get retryable(): boolean {
    return RETRYABLE.has(this.code);
  }
}
