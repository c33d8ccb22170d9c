import { systemClock } from '../core/clock.js';
import { InvalidArgumentError } from '../core/errors.js';
import { silentLogger } from '../core/logger.js';
import { redactConnectionUrl } from '../core/redact.js';
import { adaptivePoolSettings } from './adaptive-pool-limit.js';
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
import { ReplicaSet } from './replica-set.js';
import { SlowQueryLog } from './slow-query-log.js';
import type { DialectName, ExecOptions, SqlQuery } from './types.js';

/**
 * Opens a database from a URL (`postgres://`, `mysql://`, `sqlite:<path>`, `sqlite::memory:`).
 * One connection is opened and checked before this resolves, so a wrong URL, host or password fails
 * here with a typed error (password redacted) rather than at the first query. Read replicas
 * (`replicas`, PostgreSQL) are checked once too, but one that cannot be reached does not fail this:
 * reads skip it until it answers.
 */
export async function createDatabase<DB>(config: DatabaseConfig | string = {}): Promise<Database<DB>> {
  if (typeof config !== 'string' && (typeof config !== 'object' || config === null)) {
    throw new InvalidArgumentError('createDatabase: `config` must be a URL string or an options object');
  }
  const cfg: DatabaseConfig = typeof config === 'string' ? { url: config } : config;
  const parsed = parseDatabaseUrl(cfg.url ?? DEFAULT_DATABASE_URL);
  const replicaUrls = checkReplicaOptions(cfg, parsed.dialect);
  const metrics = new DatabaseMetrics();
  const clock = cfg.clock ?? systemClock;
  const logger = cfg.logger ?? silentLogger;
  let replicas: ReplicaSet | undefined;
  if (replicaUrls.length > 0) {
    const names = replicaNames(replicaUrls);
    const targets = await Promise.all(
      replicaUrls.map(async (url, i) => {
        // A replica has the primary's schema unless its URL names one.
        const own: DatabaseConfig = { ...cfg, url, ...primarySchema(cfg) };
        if (new URL(url).searchParams.has('schema')) delete own.schema;
        const inner = await openDatabase<DB>(own, metrics, undefined, false);
        return {
          name: names[i]!,
          execute: <R>(q: SqlQuery, o?: ExecOptions) => inner.executeOnPrimary<R>(q, o),
          slowQueries: () => inner.slowQueries(),
          close: () => inner.close(),
        };
      }),
    );
    replicas = new ReplicaSet(
      targets,
      { execute: <R>(q: SqlQuery, o?: ExecOptions) => db.executeOnPrimary<R>(q, o) },
      {
        clock,
        logger,
        maxLagMs: cfg.maxReplicaLagMs ?? 5_000,
        pollMs: cfg.replicaPollMs ?? 1_000,
        checkTimeoutMs: cfg.replicaCheckTimeoutMs ?? 2_000,
        readFromPrimary: cfg.readFromPrimary ?? false,
      },
    );
  }
  let db: Database<DB>;
  try {
    db = await openDatabase<DB>(cfg, metrics, replicas, true);
  } catch (error) {
    await replicas?.close();
    throw error;
  }
  if (replicas !== undefined) await replicas.start();
  return db;
}

/** The schema the primary is opened on (`schema`, or `?schema=` on its URL), as an option. */
function primarySchema(cfg: DatabaseConfig): { schema?: string } {
  if (cfg.schema !== undefined) return { schema: cfg.schema };
  const fromUrl = new URL(cfg.url!).searchParams.get('schema');
  return fromUrl ? { schema: fromUrl } : {};
}

/** The replica URLs, after checking the options that go with them. */
function checkReplicaOptions(cfg: DatabaseConfig, dialect: DialectName): string[] {
  const urls = cfg.replicas ?? [];
  if (!Array.isArray(urls) || urls.some((u) => typeof u !== 'string')) {
    throw new InvalidArgumentError('createDatabase: `replicas` must be an array of URL strings');
  }
  for (const [name, value] of [
    ['maxReplicaLagMs', cfg.maxReplicaLagMs],
    ['replicaPollMs', cfg.replicaPollMs],
    ['replicaCheckTimeoutMs', cfg.replicaCheckTimeoutMs],
  ] as const) {
    if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && value > 0)) {
      throw new InvalidArgumentError(`createDatabase: \`${name}\` must be a positive number of milliseconds`);
    }
  }
  if (urls.length === 0) return [];
  if (dialect !== 'postgres') {
    throw new InvalidArgumentError(
      'createDatabase: `replicas` are supported on PostgreSQL only (see docs/database.md, "Read replicas")',
    );
  }
  for (const url of urls) {
    if (parseDatabaseUrl(url).dialect !== 'postgres') {
      throw new InvalidArgumentError(
        `createDatabase: the replica ${redactConnectionUrl(url)} is not a postgres:// URL`,
      );
    }
  }
  return urls;
}

/** `host:port` of each replica (a password never shows); a repeated address gets `#2`, `#3`, … */
function replicaNames(urls: readonly string[]): string[] {
  const seen = new Map<string, number>();
  return urls.map((url) => {
    const u = new URL(url);
    const base = `${u.hostname}:${u.port || '5432'}`;
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return n === 1 ? base : `${base}#${n}`;
  });
}

/**
 * One database's driver, pool, pipeline and Database (the primary's, or a replica's with `replicas`
 * undefined). A replica's is not checked here: its ReplicaSet checks it and skips it while it is down.
 */
async function openDatabase<DB>(
  cfg: DatabaseConfig,
  metrics: DatabaseMetrics,
  replicas: ReplicaSet | undefined,
  check: boolean,
): Promise<Database<DB>> {
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
  if (cfg.adaptivePool !== undefined && typeof cfg.adaptivePool !== 'boolean')
    adaptivePoolSettings(cfg.adaptivePool);
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
    {
      dialect: parsed.dialect,
      clock,
      run: (conn, query, name) => db.runOn(conn, query, name),
      mapError: (error) => driver.mapError(error),
    },
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
    // SQLite has one connection: nothing to size.
    ...(cfg.adaptivePool === false || parsed.dialect === 'sqlite'
      ? {}
      : {
          adaptive: {
            ...adaptivePoolSettings(cfg.adaptivePool ?? true),
            // The pipeline's connections and one for a transaction are always within the limit.
            least: Math.min(poolMax, (plan?.sharedConnections ?? 0) + 1),
          },
        }),
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
    metrics,
    clock,
    logger,
    maxTransactionRetries: cfg.maxTransactionRetries ?? 3,
    closeTimeoutMs: cfg.closeTimeoutMs ?? 10_000,
    redactedUrl: parsed.redacted,
    schema: parsed.dialect === 'postgres' ? schema : undefined,
    slowQueries,
    replicas,
  });
  if (!check) return db;
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
