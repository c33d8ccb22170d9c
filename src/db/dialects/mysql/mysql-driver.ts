import { MysqlAdapter, MysqlIntrospector, MysqlQueryCompiler } from 'kysely';
import mysql from 'mysql2';
import { type DialectDriver, type DriverConnection, onConnectionEnd } from '../../dialect-driver.js';
import { transactionAbortedError } from '../../errors.js';
import type { ExecResult } from '../../types.js';
import { mysqlBatchInsert } from './mysql-batch-insert.js';
import { mapMysqlError } from './mysql-map-error.js';
import { normalizeParams } from './mysql-params.js';

export interface MysqlDriverOptions {
  url: string;
  statementTimeoutMs?: number | undefined;
  connectTimeoutMs: number;
  preparedStatements: boolean;
}

export interface ResultHeader {
  affectedRows: number;
  insertId: number | string;
  /** e.g. "Records: 2  Duplicates: 1  Warnings: 0" for a multi-row INSERT. */
  info?: string;
}

/** SERVER_STATUS_IN_TRANS in the status flags of an OK packet: a transaction is open. */
const SERVER_STATUS_IN_TRANS = 1;

export class MysqlConnection implements DriverConnection {
  readonly raw: mysql.Connection;
  readonly #prepared: boolean;
  #broken = false;
  /**
   * A statement is with the server. Later ones wait here rather than in mysql2's own queue, which would
   * send them the moment the previous answer arrives: after a deadlock, before anyone could stop them,
   * and so in autocommit.
   */
  #busy = false;
  readonly #queue: Array<() => void> = [];
  #watching = false;
  #lost: unknown;

  constructor(raw: mysql.Connection, prepared: boolean) {
    this.raw = raw;
    this.#prepared = prepared;
    // A fatal error (server gone, KILL) arrives as an 'error' event; unhandled it would crash the process.
    onConnectionEnd(raw, () => {
      this.#broken = true;
    });
  }

  get broken(): boolean {
    return this.#broken;
  }

  get transactionLost(): unknown {
    return this.#lost;
  }

  watchTransaction(open: boolean): void {
    this.#watching = open;
    this.#lost = undefined;
  }

  exec<R>(sql: string, params: readonly unknown[], _name: string | undefined): Promise<ExecResult<R>> {
    // Shaped inside the driver's callback: a point select is a few µs of our own code, and an extra
    // async frame here is a measurable part of it.
    return this.#call(sql, params, toExecResult<R>);
  }

  /** The driver's own result: rows, or the header of a write (with its `info` text). */
  run(sql: string, params: readonly unknown[]): Promise<unknown[] | ResultHeader> {
    return this.#call(sql, params, (result) => result);
  }

  #call<T>(
    sql: string,
    params: readonly unknown[],
    shape: (result: unknown[] | ResultHeader) => T,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.#busy) this.#queue.push(() => this.#send(sql, params, shape, resolve, reject));
      else this.#send(sql, params, shape, resolve, reject);
    });
  }

  #send<T>(
    sql: string,
    params: readonly unknown[],
    shape: (result: unknown[] | ResultHeader) => T,
    resolve: (value: T) => void,
    reject: (error: unknown) => void,
  ): void {
    if (this.#lost !== undefined) {
      reject(transactionAbortedError(mapMysqlError(this.#lost)));
      this.#next();
      return;
    }
    this.#busy = true;
    const done = (error: unknown, result: unknown): void => {
      if (error) {
        if ((error as { fatal?: boolean }).fatal) this.#broken = true;
        if (this.#watching && this.#lost === undefined) {
          if (this.#broken) this.#lost = error;
          else {
            this.#probe(error, reject);
            return;
          }
        }
        this.#busy = false;
        reject(error);
      } else {
        this.#busy = false;
        resolve(shape(result as unknown[] | ResultHeader));
      }
      this.#next();
    };
    try {
      // A value that cannot be bound fails here, before anything is sent.
      const values = normalizeParams(params);
      // Prepared statements (binary protocol) are cached per connection by mysql2; `query` is the
      // text protocol, for proxies that cannot keep statements.
      if (this.#prepared && values.length > 0) this.raw.execute(sql, values as mysql.ExecuteValues, done);
      else this.raw.query(sql, values as mysql.QueryValues, done);
    } catch (error) {
      this.#busy = false;
      reject(error);
      this.#next();
    }
  }

  /**
   * A statement failed inside a watched transaction: asks the server whether the transaction is still
   * open before anything else is sent, and only then rejects the statement. A deadlock (1213) always
   * ends the whole transaction; a lock wait timeout (1205) undoes only the statement, or the whole
   * transaction with innodb_rollback_on_timeout; most other failures undo only the statement. The
   * status flags of the OK packet say which, whatever the server's settings; the round trip is paid
   * only on failures.
   */
  #probe(error: unknown, reject: (error: unknown) => void): void {
    this.raw.query('DO 0', (probeError: unknown, header: unknown) => {
      const status = (header as { serverStatus?: number } | undefined)?.serverStatus;
      if (probeError || status === undefined || (status & SERVER_STATUS_IN_TRANS) === 0) this.#lost = error;
      this.#busy = false;
      reject(error);
      this.#next();
    });
  }

  #next(): void {
    const send = this.#queue.shift();
    if (send !== undefined) send();
  }

  ping(): Promise<void> {
    return new Promise((resolve, reject) => this.raw.ping((error) => (error ? reject(error) : resolve())));
  }

  close(): Promise<void> {
    this.#broken = true;
    return new Promise((resolve) => {
      this.raw.end(() => {
        this.raw.destroy();
        resolve();
      });
    });
  }
}

function toExecResult<R>(result: unknown[] | ResultHeader): ExecResult<R> {
  if (Array.isArray(result)) return { rows: result as R[], affectedRows: 0 };
  const out: ExecResult<R> = { rows: [], affectedRows: result.affectedRows ?? 0 };
  if (result.insertId) out.insertId = BigInt(result.insertId);
  return out;
}

export function createMysqlDriver(options: MysqlDriverOptions): DialectDriver<MysqlConnection> {
  return {
    dialect: 'mysql',
    maxConnections: undefined,
    failureAbortsBlock: false,
    async connect() {
      const raw = mysql.createConnection({
        uri: options.url,
        connectTimeout: options.connectTimeoutMs,
        supportBigNumbers: true,
        bigNumberStrings: false,
        decimalNumbers: true,
        dateStrings: false,
        timezone: 'Z',
        multipleStatements: false,
        charset: 'utf8mb4_unicode_ci',
      });
      const conn = new MysqlConnection(raw, options.preparedStatements);
      await new Promise<void>((resolve, reject) =>
        raw.connect((error) => (error ? reject(error) : resolve())),
      );
      // Sessions in UTC so CURRENT_TIMESTAMP defaults agree with the dates mysql2 writes (timezone 'Z').
      await conn.exec("SET time_zone = '+00:00'", [], undefined);
      if (options.statementTimeoutMs) {
        const seconds = options.statementTimeoutMs / 1000;
        try {
          await conn.exec(`SET SESSION max_statement_time = ${seconds}`, [], undefined); // MariaDB
        } catch {
          await conn.exec(
            `SET SESSION max_execution_time = ${Math.round(options.statementTimeoutMs)}`,
            [],
            undefined,
          ); // MySQL
        }
      }
      return conn;
    },
    mapError: mapMysqlError,
    beginStatements: (isolation) =>
      isolation
        ? [`SET TRANSACTION ISOLATION LEVEL ${isolation.toUpperCase()}`, 'START TRANSACTION']
        : ['START TRANSACTION'],
    savepointStatement: (name) => `SAVEPOINT ${name}`,
    rollbackToSavepointStatement: (name) => `ROLLBACK TO SAVEPOINT ${name}`,
    releaseSavepointStatement: (name) => `RELEASE SAVEPOINT ${name}`,
    batchInsert: mysqlBatchInsert,
    createAdapter: () => new MysqlAdapter(),
    createQueryCompiler: () => new MysqlQueryCompiler(),
    createIntrospector: (db) => new MysqlIntrospector(db),
  };
}
