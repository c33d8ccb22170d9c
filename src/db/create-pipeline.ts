import type { Clock } from '../core/clock.js';
import { InvalidArgumentError } from '../core/errors.js';
import { ConnectionPool, type ConnectionPoolOptions } from './connection-pool.js';
import type { DriverConnection } from './dialect-driver.js';
import {
  connectMariadb,
  loadMariadb,
  type MariadbConnectOptions,
} from './dialects/mysql/mariadb-connection.js';
import { PipelinedPool, type PipelineOptions, pipelineSettings } from './pipelined-pool.js';
import type { DialectName, ExecResult, SqlQuery } from './types.js';

export interface PipelineContext {
  dialect: DialectName;
  clock: Clock;
  run<R>(conn: DriverConnection, query: SqlQuery, name: string): Promise<ExecResult<R>>;
  mapError(error: unknown): unknown;
}

/** What a database's pipeline will be, decided before its pool is made. */
export interface PipelinePlan {
  /** Connections of `max` the pipeline keeps for itself (MySQL); the pool gets the rest. */
  readonly ownConnections: number;
  /** Connections of the database's pool the pipeline may hold at once (PostgreSQL; 0 on MySQL). */
  readonly sharedConnections: number;
  /** The pipeline, given the database's pool and that pool's options. */
  build(pool: ConnectionPool<DriverConnection>, poolOptions: ConnectionPoolOptions): PipelinedPool;
}

/**
 * The pipeline a new database gets, or undefined for none. `max` is the configured `max`.
 * - PostgreSQL: on unless `pipeline: false`; its connections come from the database's pool as
 *   statements need them, at most `max - 1` of them (1 when `max` is 1), so a transaction always has
 *   one to take.
 * - MySQL/MariaDB: on when the optional `mariadb` connector is installed (mysql2 does not pipeline)
 *   and `max` is at least 2. Its connections are the connector's, in a pool of their own that takes
 *   `min(connections, max - 1)` of `max`; the database's pool keeps the rest. Asked for explicitly
 *   without the connector, or with a URL that has parameters (TLS and other mysql2 settings, which
 *   the connector is not given), it is an ERR_INVALID_ARGUMENT; by default they turn it off.
 * - SQLite: never (one local connection, nothing to share).
 */
export async function planPipeline(
  option: boolean | PipelineOptions | undefined,
  max: number,
  mysql: MariadbConnectOptions | undefined,
  context: PipelineContext,
): Promise<PipelinePlan | undefined> {
  const { dialect, clock, run, mapError } = context;
  if (option === false || dialect === 'sqlite') return undefined;
  if (option !== undefined && option !== true && (typeof option !== 'object' || option === null)) {
    throw new InvalidArgumentError('createDatabase: `pipeline` must be a boolean or an object');
  }
  const settings = pipelineSettings(option, max - 1);
  const common = { ...settings, dialect, clock, run, mapError };
  if (dialect === 'postgres') {
    return {
      ownConnections: 0,
      sharedConnections: settings.connections,
      build: (pool, poolOptions) =>
        new PipelinedPool(pool, {
          ...common,
          acquireTimeoutMs: poolOptions.acquireTimeoutMs,
          ownsPool: false,
          poolMax: poolOptions.max,
        }),
    };
  }
  const mariadb = await loadMariadb();
  if (mariadb === undefined) {
    if (option === undefined) return undefined;
    throw new InvalidArgumentError(
      'createDatabase: `pipeline` on MySQL/MariaDB needs the optional `mariadb` package (npm install mariadb)',
    );
  }
  const connect = mysql!;
  if (new URL(connect.url).search !== '') {
    // TLS and other settings in the URL are mysql2's; the connector is given host, user and database only.
    if (option === undefined) return undefined;
    throw new InvalidArgumentError(
      'createDatabase: `pipeline` on MySQL/MariaDB takes no URL parameters (TLS and others are for mysql2); set `pipeline: false`',
    );
  }
  if (max < 2) return undefined;
  return {
    ownConnections: settings.connections,
    sharedConnections: 0,
    build: (_pool, { adaptive: _fixedSize, ...poolOptions }) => {
      // A few connections that statements share: a fixed number, whatever the database's pool does.
      const own = new ConnectionPool<DriverConnection>(
        { create: () => connectMariadb(mariadb, connect) },
        { ...poolOptions, min: 0, max: settings.connections },
      );
      return new PipelinedPool(own, {
        ...common,
        acquireTimeoutMs: poolOptions.acquireTimeoutMs,
        ownsPool: true,
        poolMax: Number.POSITIVE_INFINITY,
      });
    },
  };
}
