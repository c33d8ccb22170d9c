import { PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler } from 'kysely';
import pg from 'pg';
import type { DialectDriver, DriverConnection } from '../../dialect-driver.js';
import type { ExecResult, IsolationLevel } from '../../types.js';
import { postgresBatchInsert } from './postgres-batch-insert.js';
import { mapPostgresError } from './postgres-map-error.js';

/**
 * int8 (COUNT(*), bigint columns) as a number when it fits, so results look the same on every dialect;
 * a value beyond 2^53 stays a string rather than losing precision.
 */
const INT8_OID = 20;
const pgTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID && format !== 'binary') {
      return (value: string) => {
        const n = Number(value);
        return Number.isSafeInteger(n) ? n : value;
      };
    }
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

export interface PostgresDriverOptions {
  url: string;
  schema?: string | undefined;
  statementTimeoutMs?: number | undefined;
  connectTimeoutMs: number;
  preparedStatements: boolean;
}

export class PostgresConnection implements DriverConnection {
  readonly client: pg.Client;
  #broken = false;
  readonly #names: Map<string, string>;
  readonly #prepared: boolean;

  constructor(client: pg.Client, names: Map<string, string>, prepared: boolean) {
    this.client = client;
    this.#names = names;
    this.#prepared = prepared;
    // An error on an idle client (server restart, pg_terminate_backend) must never crash the process:
    // the connection is marked broken and the pool replaces it.
    client.on('error', () => {
      this.#broken = true;
    });
    client.on('end', () => {
      this.#broken = true;
    });
  }

  get broken(): boolean {
    return this.#broken;
  }

  exec<R>(sql: string, params: readonly unknown[], name: string | undefined): Promise<ExecResult<R>> {
    // A statement without parameters (BEGIN, COMMIT, SAVEPOINT) goes as one simple-protocol message:
    // preparing it saves no parse worth having and costs a Bind round of messages per call.
    const config: pg.QueryConfig =
      name !== undefined && this.#prepared && params.length > 0
        ? { name: this.#statementName(sql), text: sql, values: params as unknown[] }
        : { text: sql, values: params as unknown[] };
    // A `then` rather than an async method: one promise frame less on every query.
    return this.client.query(config).then(
      (res) => ({ rows: res.rows as R[], affectedRows: res.rowCount ?? 0 }),
      (error: unknown) => {
        if (isConnectionError(error)) this.#broken = true;
        throw error;
      },
    );
  }

  async ping(): Promise<void> {
    await this.client.query('SELECT 1');
  }

  async close(): Promise<void> {
    this.#broken = true;
    await this.client.end();
  }

  /** One prepared-statement name per SQL text, shared by all connections: a name never means two texts. */
  #statementName(sql: string): string {
    let name = this.#names.get(sql);
    if (name === undefined) {
      name = `opus_${this.#names.size.toString(36)}`;
      this.#names.set(sql, name);
    }
    return name;
  }
}

function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  if (
    typeof code === 'string' &&
    (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03')
  )
    return true;
  const message = error instanceof Error ? error.message : '';
  return /Connection terminated|ECONNRESET|ECONNREFUSED|not queryable/i.test(message);
}

export function createPostgresDriver(options: PostgresDriverOptions): DialectDriver<PostgresConnection> {
  const names = new Map<string, string>();
  return {
    dialect: 'postgres',
    maxConnections: undefined,
    async connect() {
      const client = new pg.Client({
        connectionString: options.url,
        connectionTimeoutMillis: options.connectTimeoutMs,
        keepAlive: true,
        types: pgTypes,
        application_name: 'video-opusclip',
        ...(options.statementTimeoutMs ? { statement_timeout: options.statementTimeoutMs } : {}),
        ...(options.schema ? { options: `-c search_path=${quoteSearchPath(options.schema)}` } : {}),
      });
      const conn = new PostgresConnection(client, names, options.preparedStatements);
      try {
        await client.connect();
      } catch (error) {
        client.removeAllListeners();
        client.on('error', () => {});
        throw error;
      }
      return conn;
    },
    mapError: mapPostgresError,
    beginStatements: (isolation) => [
      isolation ? `BEGIN ISOLATION LEVEL ${isolationSql(isolation)}` : 'BEGIN',
    ],
    savepointStatement: (name) => `SAVEPOINT ${name}`,
    rollbackToSavepointStatement: (name) => `ROLLBACK TO SAVEPOINT ${name}`,
    releaseSavepointStatement: (name) => `RELEASE SAVEPOINT ${name}`,
    batchInsert: postgresBatchInsert,
    createAdapter: () => new PostgresAdapter(),
    createQueryCompiler: () => new PostgresQueryCompiler(),
    createIntrospector: (db) => new PostgresIntrospector(db),
  };
}

function isolationSql(level: IsolationLevel): string {
  return level.toUpperCase();
}

function quoteSearchPath(schema: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_$]*$/.test(schema)) {
    throw new RangeError(`Invalid PostgreSQL schema name "${schema}"`);
  }
  return schema;
}
