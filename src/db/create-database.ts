import { systemClock } from '../core/clock.js';
import { InvalidArgumentError } from '../core/errors.js';
import { silentLogger } from '../core/logger.js';
import { type DatabaseConfig, DEFAULT_DATABASE_URL, parseDatabaseUrl } from './config.js';
import { ConnectionPool, type ConnectionPoolOptions } from './connection-pool.js';
import { planPipeline } from './create-pipeline.js';
import { Database } from './database.js';
import { DatabaseMetrics } from './database-metrics.js';
import type { DialectDriver, DriverConnection } from './dialect-driver.js';
import { createMysqlDriver } from './dialects/mysql/mysql-driver.js';
import { createPostgresDriver } from './dialects/postgres/postgres-driver.js';
import { createSqliteDriver } from './dialects/sqlite/sqlite-driver.js';
import { poolExplainRunner } from './explain.js';
import { SlowQueryLog } from './slow-query-log.js';

/**
 * Opens a database from a URL (`postgres://`, `mysql://`, `sqlite:<path>`, `sqlite::memory:`).
 * One connection is opened and checked before this resolves, so a wrong URL, host or password fails
 * here with a typed error (password redacted) rather than at the first query.
 */
export async function createDatabase<DB>(config: DatabaseConfig | string = {}): Promise<Database<DB>> {
  if (typeof config !== 'string' && (typeof config !== 'object' || config === null)) {
    throw new InvalidArgumentError('createDatabase: `config` must be a URL string or an options object');
  }
  const cfg: DatabaseConfig = typeof config === 'string' ? { url: config } : config;
  const parsed = parseDatabaseUrl(cfg.url ?? DEFAULT_DATABASE_URL);
  // `?schema=name` on a PostgreSQL URL selects the schema (search_path), like the `schema` option.
  let url = parsed.url;
  let schema = cfg.schema;
  if (parsed.dialect === 'postgres') {
    const u = new URL(parsed.url);
    const fromUrl = u.searchParams.get('schema');
    if (fromUrl) {
      schema ??= fromUrl;
      u.searchParams.delete('schema');
      url = u.toString();
    }
  }
  const clock = cfg.clock ?? systemClock;
  const logger = cfg.logger ?? silentLogger;
  const connectTimeoutMs = cfg.connectTimeoutMs ?? 10_000;
  const prepared = cfg.preparedStatements ?? true;
  // Checked before anything connects; plans on `pool` through `db` (both declared below, used only later).
  const slowQueries =
    cfg.slowQueries === undefined || cfg.slowQueries === false
      ? undefined
      : new SlowQueryLog(cfg.slowQueries === true ? {} : cfg.slowQueries, {
          dialect: parsed.dialect,
          clock,
          logger,
          run: poolExplainRunner(
            () => pool,
            (conn, query, name) => db.runOn(conn, query, name),
          ),
        });
  let driver: DialectDriver;
  switch (parsed.dialect) {
    case 'postgres':
      driver = createPostgresDriver({
        url,
        schema,
        statementTimeoutMs: cfg.statementTimeoutMs,
        connectTimeoutMs,
        preparedStatements: prepared,
      });
      break;
    case 'mysql':
      driver = createMysqlDriver({
        url: parsed.url,
        statementTimeoutMs: cfg.statementTimeoutMs,
        connectTimeoutMs,
        preparedStatements: prepared,
      });
      break;
    case 'sqlite':
      driver = createSqliteDriver({
        filename: parsed.filename!,
        busyTimeoutMs: cfg.busyTimeoutMs ?? 5000,
        clock,
      });
      break;
  }
  const max = Math.min(cfg.max ?? 10, driver.maxConnections ?? Number.POSITIVE_INFINITY);
  const plan = await planPipeline(
    cfg.pipeline,
    max,
    parsed.dialect === 'mysql'
      ? {
          url: parsed.url,
          statementTimeoutMs: cfg.statementTimeoutMs,
          connectTimeoutMs,
          preparedStatements: prepared,
        }
      : undefined,
    { dialect: parsed.dialect, clock, run: (conn, query, name) => db.runOn(conn, query, name) },
  );
  // On MySQL the pipeline's connections are its own share of `max`.
  const poolMax = max - (plan?.ownConnections ?? 0);
  const maxLifetimeMs = cfg.maxLifetimeMs ?? 30 * 60_000;
  const poolOptions: ConnectionPoolOptions = {
    min: Math.min(cfg.min ?? 0, poolMax),
    max: poolMax,
    acquireTimeoutMs: cfg.acquireTimeoutMs ?? 10_000,
    idleTimeoutMs: cfg.idleTimeoutMs ?? 30_000,
    // SQLite's one connection is local and never goes stale; retiring it would only cost a reopen.
    maxLifetimeMs: parsed.dialect === 'sqlite' ? Number.POSITIVE_INFINITY : maxLifetimeMs,
    lifetimeJitterMs: cfg.lifetimeJitterMs ?? maxLifetimeMs * 0.1,
    validateAfterIdleMs: cfg.validateAfterIdleMs ?? 5_000,
    clock,
    onBackgroundError: (error) =>
      logger.warn(
        { err: driver.mapError(error).message, db: parsed.redacted },
        'background connection failed',
      ),
  };
  const pool = new ConnectionPool<DriverConnection>({ create: () => driver.connect() }, poolOptions);
  const pipeline = plan?.build(pool, poolOptions);
  const db: Database<DB> = new Database<DB>({
    driver,
    pool,
    pipeline,
    metrics: new DatabaseMetrics(),
    clock,
    logger,
    maxTransactionRetries: cfg.maxTransactionRetries ?? 3,
    closeTimeoutMs: cfg.closeTimeoutMs ?? 10_000,
    redactedUrl: parsed.redacted,
    schema: parsed.dialect === 'postgres' ? schema : undefined,
    slowQueries,
  });
  try {
    const slot = await pool.acquire('connect');
    pool.release(slot);
    await pool.warmUp();
    await pipeline?.checkConnect();
  } catch (error) {
    await pipeline?.close();
    await pool.destroyAll();
    const mapped = driver.mapError(error);
    throw new (mapped.constructor as typeof import('./errors.js').DatabaseError)(
      mapped.code as import('./errors.js').DbErrorCode,
      `Cannot connect to ${parsed.redacted}: ${mapped.message}`,
      { cause: error, dialectCode: mapped.dialectCode },
    );
  }
  return db;
}
