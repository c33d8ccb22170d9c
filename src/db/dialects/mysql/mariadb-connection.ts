import net from 'node:net';
import type * as Mariadb from 'mariadb';
import { type DriverConnection, onConnectionEnd } from '../../dialect-driver.js';
import { TurnCork } from '../../turn-cork.js';
import type { ExecResult } from '../../types.js';
import { normalizeParams } from './mysql-params.js';

/** The `mariadb` connector's module, loaded only when pipelining on MySQL/MariaDB asks for it. */
export type MariadbModule = typeof Mariadb;

/**
 * The `mariadb` connector (LGPL-2.1, an optional peer dependency the application installs), or
 * undefined when it is not installed.
 */
export async function loadMariadb(): Promise<MariadbModule | undefined> {
  try {
    import.meta.resolve('mariadb');
  } catch {
    return undefined; // not installed: nothing resolves
  }
  // Installed: a failure to load it is the application's to see.
  const loaded = (await import('mariadb')) as MariadbModule & { default?: MariadbModule };
  return loaded.default ?? loaded;
}

export interface MariadbConnectOptions {
  url: string;
  statementTimeoutMs?: number | undefined;
  connectTimeoutMs: number;
  preparedStatements: boolean;
}

/**
 * A connection of the `mariadb` connector, for pipelined statements only: the connector writes each
 * command as it comes without waiting for the answers before it (`pipelining`), and the MySQL protocol
 * answers each command on its own, so one failure touches no other. Its results are shaped as
 * mysql2's are on the exclusive connections (numbers for safe BIGINTs and DECIMALs, dates in UTC,
 * JSON parsed, BIT(1) as a Buffer), so a read answers the same on either.
 */
export class MariadbConnection implements DriverConnection {
  readonly raw: Mariadb.Connection;
  readonly #prepared: boolean;
  /** The statements of one turn leave in one socket write (the connector writes each on its own). */
  readonly #cork: TurnCork;
  #broken = false;

  constructor(raw: Mariadb.Connection, socket: net.Socket, prepared: boolean) {
    this.raw = raw;
    this.#cork = new TurnCork(socket);
    this.#prepared = prepared;
    onConnectionEnd(raw, () => {
      this.#broken = true;
    });
  }

  get broken(): boolean {
    return this.#broken;
  }

  /** Always pipelined: the connector sends each command at once. */
  setPipelined(): void {}

  exec<R>(sql: string, params: readonly unknown[], _name: string | undefined): Promise<ExecResult<R>> {
    const values = normalizeParams(params);
    this.#cork.cork();
    const running =
      this.#prepared && values.length > 0 ? this.raw.execute(sql, values) : this.raw.query(sql, values);
    return running.then(toExecResult<R>, (error: unknown) => {
      const e = error as { fatal?: unknown; text?: unknown; message?: unknown; sqlState?: unknown };
      // The connector calls every SQLSTATE 70100 fatal, also a statement interrupted by KILL QUERY on
      // a connection that lives on: only a connection that is gone is broken.
      if (e.fatal === true && e.sqlState === '70100' && this.raw.isValid()) e.fatal = false;
      if (e.fatal === true) this.#broken = true;
      // The connector's message repeats the SQL; the server's own text is what the other drivers give.
      if (typeof e.text === 'string') e.message = e.text;
      throw error;
    });
  }

  async ping(): Promise<void> {
    await this.raw.ping();
  }

  async close(): Promise<void> {
    const dead = this.#broken;
    this.#broken = true;
    if (dead) {
      this.raw.destroy();
      return;
    }
    try {
      await this.raw.end();
    } catch {
      this.raw.destroy();
    }
  }
}

function toExecResult<R>(result: unknown): ExecResult<R> {
  if (Array.isArray(result)) return { rows: result as R[], affectedRows: 0 };
  const header = result as { affectedRows?: number; insertId?: number | bigint };
  const out: ExecResult<R> = { rows: [], affectedRows: Number(header.affectedRows ?? 0) };
  if (header.insertId) out.insertId = BigInt(header.insertId);
  return out;
}

/** Opens one pipelining connection of the `mariadb` connector, in UTC, with the statement timeout. */
export async function connectMariadb(
  mariadb: MariadbModule,
  options: MariadbConnectOptions,
): Promise<MariadbConnection> {
  const url = new URL(options.url);
  const host = url.hostname;
  const port = Number(url.port || 3306);
  let socket: net.Socket | undefined;
  const raw = await mariadb.createConnection({
    host,
    port,
    // The socket is ours so that it can be corked (see TurnCork); the connector sets it up as its own.
    stream: () => {
      socket = net.connect(port, host);
      socket.setNoDelay(true);
      return socket;
    },
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database: decodeURIComponent(url.pathname.replace(/^\//, '')),
    connectTimeout: options.connectTimeoutMs,
    pipelining: true,
    collation: 'UTF8MB4_UNICODE_CI',
    timezone: 'Z',
    dateStrings: false,
    decimalAsNumber: true,
    // BIGINT as a number when it is safe, as a string beyond: what mysql2's supportBigNumbers gives.
    supportBigNumbers: true,
    bigNumberStrings: false,
    bitOneIsBoolean: false,
    checkDuplicate: false,
    // Errors carry the SQL but never the parameters (user data, secrets).
    logParam: false,
    multipleStatements: false,
  } as Mariadb.ConnectionConfig);
  const conn = new MariadbConnection(raw, socket!, options.preparedStatements);
  try {
    await raw.query("SET time_zone = '+00:00'");
    if (options.statementTimeoutMs) {
      try {
        await raw.query(`SET SESSION max_statement_time = ${options.statementTimeoutMs / 1000}`); // MariaDB
      } catch {
        await raw.query(`SET SESSION max_execution_time = ${Math.round(options.statementTimeoutMs)}`); // MySQL
      }
    }
  } catch (error) {
    raw.destroy();
    throw error;
  }
  return conn;
}
