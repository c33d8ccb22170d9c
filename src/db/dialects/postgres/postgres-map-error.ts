import { DatabaseError, DbErrorCode } from '../../errors.js';

const BY_SQLSTATE: Record<string, DbErrorCode> = {
  '23505': DbErrorCode.UniqueViolation,
  '23503': DbErrorCode.ForeignKey,
  '23502': DbErrorCode.NotNull,
  '23514': DbErrorCode.Check,
  '40001': DbErrorCode.Serialization,
  '40P01': DbErrorCode.Deadlock,
  '55P03': DbErrorCode.LockTimeout,
  '57014': DbErrorCode.Timeout,
  '57P01': DbErrorCode.ConnectionLost,
  '57P02': DbErrorCode.ConnectionLost,
  '57P03': DbErrorCode.ConnectionLost,
  // "current transaction is aborted, commands ignored until end of transaction block"
  '25P02': DbErrorCode.TransactionAborted,
};

/** Maps a pg error to a DatabaseError, keeping the SQLSTATE and constraint name. */
export function mapPostgresError(error: unknown): DatabaseError {
  if (error instanceof DatabaseError) return error;
  const e = error as { code?: unknown; constraint?: unknown; message?: unknown };
  const sqlstate = typeof e.code === 'string' ? e.code : undefined;
  const message = typeof e.message === 'string' ? e.message : String(error);
  let code: DbErrorCode = DbErrorCode.Query;
  if (sqlstate && BY_SQLSTATE[sqlstate]) code = BY_SQLSTATE[sqlstate];
  else if (sqlstate?.startsWith('22')) code = DbErrorCode.InvalidData;
  else if (sqlstate?.startsWith('08')) code = DbErrorCode.ConnectionLost;
  else if (
    sqlstate === 'ECONNREFUSED' ||
    sqlstate === 'ENOTFOUND' ||
    sqlstate === '28P01' ||
    sqlstate === '3D000'
  )
    code = DbErrorCode.ConnectFailed;
  else if (/timeout expired|Connection terminated due to connection timeout/i.test(message))
    code = DbErrorCode.ConnectFailed;
  else if (/Connection terminated|ECONNRESET|not queryable/i.test(message)) code = DbErrorCode.ConnectionLost;
  return new DatabaseError(code, `PostgreSQL: ${message}`, {
    cause: error,
    dialectCode: sqlstate,
    constraint: typeof e.constraint === 'string' ? e.constraint : undefined,
  });
}
