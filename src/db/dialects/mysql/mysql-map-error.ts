import { DatabaseError, DbErrorCode } from '../../errors.js';

const BY_ERRNO: Record<number, DbErrorCode> = {
  1062: DbErrorCode.UniqueViolation,
  1451: DbErrorCode.ForeignKey,
  1452: DbErrorCode.ForeignKey,
  1048: DbErrorCode.NotNull,
  1364: DbErrorCode.NotNull,
  3819: DbErrorCode.Check,
  4025: DbErrorCode.Check,
  1213: DbErrorCode.Deadlock,
  1205: DbErrorCode.LockTimeout,
  1969: DbErrorCode.Timeout,
  3024: DbErrorCode.Timeout,
  1927: DbErrorCode.ConnectionLost,
  2006: DbErrorCode.ConnectionLost,
  2013: DbErrorCode.ConnectionLost,
  1045: DbErrorCode.ConnectFailed,
  1049: DbErrorCode.ConnectFailed,
  1264: DbErrorCode.InvalidData,
  1366: DbErrorCode.InvalidData,
  1406: DbErrorCode.InvalidData,
  1292: DbErrorCode.InvalidData,
};

/** Maps a mysql2 error to a DatabaseError, keeping the errno name (e.g. ER_DUP_ENTRY). */
export function mapMysqlError(error: unknown): DatabaseError {
  if (error instanceof DatabaseError) return error;
  const e = error as { errno?: unknown; code?: unknown; message?: unknown; fatal?: unknown };
  const message = typeof e.message === 'string' ? e.message : String(error);
  const errno = typeof e.errno === 'number' ? e.errno : undefined;
  const name = typeof e.code === 'string' ? e.code : undefined;
  let code: DbErrorCode = DbErrorCode.Query;
  if (errno !== undefined && BY_ERRNO[errno]) code = BY_ERRNO[errno];
  else if (name === 'ECONNREFUSED' || name === 'ENOTFOUND' || name === 'ETIMEDOUT')
    code = DbErrorCode.ConnectFailed;
  else if (
    name === 'PROTOCOL_CONNECTION_LOST' ||
    name === 'ECONNRESET' ||
    name === 'EPIPE' ||
    e.fatal === true
  )
    code = DbErrorCode.ConnectionLost;
  const constraint = /for key '([^']+)'/.exec(message)?.[1] ?? /CONSTRAINT `([^`]+)`/.exec(message)?.[1];
  return new DatabaseError(code, `MySQL: ${message}`, {
    cause: error,
    dialectCode: name ?? (errno === undefined ? undefined : String(errno)),
    constraint,
  });
}
