import { PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler } from 'kysely';
import pg from 'pg';
import { type DialectDriver, type DriverConnection, onConnectionEnd } from '../../dialect-driver.js';
import { type Corkable, TurnCork } from '../../turn-cork.js';
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
    onConnectionEnd(client, () => {
      this.#broken = true;
    });
  }

  get broken(): boolean {
    return this.#broken;
  }

  /**
   * pg's pipeline mode: queries are written as they come, each Parse/Bind/Describe/Execute ending with
   * its own Sync, so the server runs each in its own implicit transaction and an error skips only to
   * that query's Sync. pg reads the flag whenever it sends, so it can change while the client is idle.
   */
  setPipelined(on: boolean): void {
    (this.client as { pipeline: boolean }).pipeline = on;
    if (on) {
      // The socket of the established connection (after any TLS upgrade).
      this.#cork ??= new TurnCork(
        (this.client as unknown as { connection: { stream: Corkable } }).connection.stream,
      );
    }
    this.#pipelined = on;
  }

  #pipelined = false;
  /** Pipelined, the statements of one turn leave in one socket write (pg writes each on its own). */
  #cork: TurnCork | undefined;

  /**
   * The transaction's BEGIN waits for its first statement and goes in the same write, as extended-
   * protocol messages before that statement's Sync (or as a two-statement simple query): one round trip
   * and one socket write less per transaction. A transaction that runs nothing sends nothing.
   */
  deferBegin(sql: string): void {
    this.#pendingBegin = sql;
  }

  #pendingBegin: string | undefined;

  /**
   * Sends a deferred BEGIN now. For work that talks to `client` directly (COPY, UNNEST batches), which
   * would otherwise run outside the transaction.
   */
  async beginNow(): Promise<void> {
    const begin = this.#pendingBegin;
    if (begin === undefined) return;
    this.#pendingBegin = undefined;
    await this.#run(new pg.Query(begin));
  }

  exec<R>(sql: string, params: readonly unknown[], name: string | undefined): Promise<ExecResult<R>> {
    const values = params.length > 0 ? (params as unknown[]) : undefined;
    const statement = name !== undefined && this.#prepared && values ? this.#statementName(sql) : undefined;
    const begin = this.#pendingBegin;
    let query: NamedQuery;
    if (begin === undefined) {
      if (sql === 'COMMIT') return this.#commit();
      // A statement without parameters (BEGIN, COMMIT, SAVEPOINT) goes as one simple-protocol message:
      // preparing it saves no parse worth having and costs a Bind round of messages per call.
      query = new pg.Query(sql, values);
    } else {
      this.#pendingBegin = undefined;
      if (sql === 'COMMIT' || sql === 'ROLLBACK') return Promise.resolve({ rows: [], affectedRows: 0 });
      if (values === undefined) {
        query = new pg.Query(`${begin}; ${sql}`);
      } else {
        const beginName = statement === undefined ? undefined : this.#statementName(begin);
        if (beginName !== undefined && !this.#parsed(beginName)) {
          // See BeginThenQuery: a named statement needs BEGIN already parsed on this connection, so the
          // first transaction here parses it in a round trip of its own.
          const parseBegin: NamedQuery = new pg.Query(begin, []);
          parseBegin.name = beginName;
          return this.#run(parseBegin).then(() => this.exec<R>(sql, params, name));
        }
        query = new BeginThenQuery(
          sql,
          values,
          beginName === undefined ? { text: begin } : { name: beginName },
        );
      }
    }
    if (statement !== undefined) query.name = statement;
    return this.#run<R>(query);
  }

  /**
   * Submits a query object built from a string: pg then neither clones a config object nor wraps its
   * promise in a second one (for a stack trace) on every query; the callback settles ours.
   */
  #run<R>(query: NamedQuery): Promise<ExecResult<R>> {
    return new Promise((resolve, reject) => {
      query.callback = (error, res) => {
        if (error) {
          if (isConnectionError(error)) this.#broken = true;
          reject(error);
          return;
        }
        // A two-statement simple query answers with one result per statement.
        const last = Array.isArray(res) ? res[res.length - 1]! : res!;
        resolve({ rows: last.rows as R[], affectedRows: last.rowCount ?? 0 });
      };
      if (this.#pipelined) this.#cork!.cork();
      this.client.query(query);
    });
  }

  /**
   * COMMIT of a transaction that an error has aborted ends it with a rollback, and the server answers
   * "ROLLBACK" rather than an error: that answer rejects here, so no caller takes it for a commit.
   */
  #commit<R>(): Promise<ExecResult<R>> {
    return new Promise((resolve, reject) => {
      const query: NamedQuery = new pg.Query('COMMIT');
      query.callback = (error, res) => {
        if (error) {
          if (isConnectionError(error)) this.#broken = true;
          reject(error);
          return;
        }
        const last = Array.isArray(res) ? res[res.length - 1] : res;
        if (last?.command === 'ROLLBACK') {
          reject(
            Object.assign(
              new Error('COMMIT rolled the transaction back: an earlier statement had aborted it'),
              { code: '25P02' },
            ),
          );
          return;
        }
        resolve({ rows: [], affectedRows: 0 });
      };
      this.client.query(query);
    });
  }

  /** Whether `statement` is prepared on this connection, from pg's own record (the one Query consults). */
  #parsed(statement: string): boolean {
    const connection = (
      this.client as unknown as { connection: { parsedStatements: Record<string, string> } }
    ).connection;
    return connection.parsedStatements[statement] !== undefined;
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

/** pg's Query with the fields set here after construction (pg reads them when the query is sent). */
type NamedQuery = pg.Query & {
  name?: string | undefined;
  callback?: ((error: Error | null, res: pg.QueryResult | pg.QueryResult[] | undefined) => void) | undefined;
};

/** The slice of pg's Connection (protocol writer) that BeginThenQuery uses. */
interface ProtocolWriter {
  parse(config: { text: string; name: string }): void;
  bind(config: { statement: string; portal: string; values: unknown[] }): void;
  execute(config: { portal: string; rows: number }): void;
}

/**
 * A parameterised statement preceded by BEGIN in the same extended-protocol exchange: Parse (unless
 * named and already parsed), Bind and Execute of BEGIN, then the statement's own messages and one
 * Sync. The server answers BEGIN's ParseComplete, BindComplete and CommandComplete first; the last is
 * dropped here so that the result is the statement's alone. If either fails, the server skips to
 * the Sync and the error reaches the caller, whose transaction then rolls back.
 *
 * pg records a statement as parsed when a ParseComplete arrives while it is active. BEGIN's Parse would
 * mark a named statement as parsed before its own Parse had succeeded, so with a named statement BEGIN
 * must be a named statement already parsed on the connection (no ParseComplete of its own).
 */
class BeginThenQuery extends (pg.Query as unknown as new (
  text: string,
  values?: unknown[],
) => NamedQuery & {
  prepare(connection: ProtocolWriter): void;
  handleCommandComplete(msg: unknown, connection: ProtocolWriter): void;
}) {
  readonly #begin: { text: string } | { name: string };
  #beginAnswered = false;

  constructor(text: string, values: unknown[], begin: { text: string } | { name: string }) {
    super(text, values);
    this.#begin = begin;
  }

  override prepare(connection: ProtocolWriter): void {
    const b = this.#begin;
    if ('text' in b) connection.parse({ text: b.text, name: '' });
    connection.bind({ statement: 'name' in b ? b.name : '', portal: '', values: [] });
    connection.execute({ portal: '', rows: 0 });
    super.prepare(connection);
  }

  override handleCommandComplete(msg: unknown, connection: ProtocolWriter): void {
    if (!this.#beginAnswered) {
      this.#beginAnswered = true;
      return;
    }
    super.handleCommandComplete(msg, connection);
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
    // Every failed statement aborts the transaction block, or the savepoint it ran in.
    failureAbortsBlock: true,
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
