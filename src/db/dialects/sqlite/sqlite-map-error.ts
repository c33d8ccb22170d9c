import { DatabaseError, DbErrorCode } from '../../errors.js';

const BY_CODE: Record<string, DbErrorCode> = {
  SQLITE_CONSTRAINT_UNIQUE: DbErrorCode.UniqueViolation,
  SQLITE_CONSTRAINT_PRIMARYKEY: DbErrorCode.UniqueViolation,
  SQLITE_CONSTRAINT_FOREIGNKEY: DbErrorCode.ForeignKey,
  SQLITE_CONSTRAINT_NOTNULL: DbErrorCode.NotNull,
  SQLITE_CONSTRAINT_CHECK: DbErrorCode.Check,
  SQLITE_BUSY: DbErrorCode.Busy,
  SQLITE_BUSY_SNAPSHOT: DbErrorCode.Serialization,
  SQLITE_BUSY_RECOVERY: DbErrorCode.Busy,
  SQLITE_LOCKED: DbErrorCode.Busy,
  SQLITE_CANTOPEN: DbErrorCode.ConnectFailed,
  SQLITE_MISMATCH: DbErrorCode.InvalidData,
  SQLITE_TOOBIG: DbErrorCode.InvalidData,
};

/** Maps a better-sqlite3 SqliteError to a DatabaseError, keeping the extended result code. */
export function mapSqliteError(error: unknown): DatabaseError {
  if (error instanceof DatabaseError) return error;
  const e = error as { code?: unknown; message?: unknown };
  const sqliteCode = typeof e.code === 'string' ? e.code : undefined;
  const message = typeof e.message === 'string' ? e.message : String(error);
  let code: DbErrorCode = DbErrorCode.Query;
  if (sqliteCode && BY_CODE[sqliteCode]) code = BY_CODE[sqliteCode];
  else if (/database connection is not open/i.test(message)) code = DbErrorCode.ConnectionLost;
  return new DatabaseError(code, `SQLite: ${message}`, { cause: error, dialectCode: sqliteCode });
}
