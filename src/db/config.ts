import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { redactConnectionUrl } from '../core/redact.js';
import type { AdaptivePoolOptions } from './adaptive-pool-limit.js';
import { DatabaseError, DbErrorCode } from './errors.js';
import type { PipelineOptions } from './pipelined-pool.js';
import type { SlowQueryOptions } from './slow-query-log.js';
import type { DialectName } from './types.js';

/** Pool options with one meaning on all three dialects. Times in milliseconds. */
export interface PoolOptions {
  /** Connections kept open even when idle (default 0). */
  min?: number;
  /** Upper bound of open connections (default 10; always 1 for SQLite, which has one writer). */
  max?: number;
  /**
   * Size the pool between `min` and `max` from measurements (the throughput each size delivers while
   * callers wait, and the recent peak use) instead of letting it open up to `max`. On by default: `false`
   * turns it off, `true` or no value means the defaults of AdaptivePoolOptions. See docs/database.md,
   * "Adaptive pool size".
   */
  adaptivePool?: boolean | AdaptivePoolOptions;
  /** How long a caller waits for a connection before ERR_DB_POOL_EXHAUSTED (default 10 000). */
  acquireTimeoutMs?: number;
  /** An idle connection above `min` is closed after this long (default 30 000). */
  idleTimeoutMs?: number;
  /** A connection is retired after this age (default 30 min), minus a random jitter so they do not all expire at once. */
  maxLifetimeMs?: number;
  /** Up to this much is taken off each connection's lifetime at random (default 10 % of maxLifetimeMs). */
  lifetimeJitterMs?: number;
  /** A connection idle longer than this is pinged before it is handed out (default 5 000). */
  validateAfterIdleMs?: number;
  /** Server-side limit per statement (PostgreSQL statement_timeout, MariaDB max_statement_time). */
  statementTimeoutMs?: number;
  /** Connecting gives up after this long (default 10 000). */
  connectTimeoutMs?: number;
}

export interface DatabaseConfig extends PoolOptions {
  /** `postgres://…`, `mysql://…` (MariaDB too), `sqlite:<path>` or `sqlite::memory:`. Default `sqlite:./opusclip.db`. */
  url?: string;
  /**
   * Named prepared statements (PostgreSQL) and binary-protocol `execute` (MySQL). On by default; turn off
   * behind PgBouncer in transaction mode, which cannot keep per-connection statements.
   */
  preparedStatements?: boolean;
  /**
   * Statements outside transactions sent without waiting for earlier answers over a few of the pool's
   * connections (PostgreSQL). On by default on PostgreSQL (`true` = the defaults of PipelineOptions);
   * `false` gives every statement a connection of its own. See docs/database.md, "Pipelined statements".
   */
  pipeline?: boolean | PipelineOptions;
  /**
   * Capture statements slower than a threshold, with their plan and findings (`db.slowQueries()`). Off
   * by default; `true` = the defaults of SlowQueryOptions. See docs/database.md, "Slow queries".
   */
  slowQueries?: boolean | SlowQueryOptions;
  /**
   * PostgreSQL only: read replicas (streaming standbys of `url`). Reads outside transactions go to one
   * of them, writes and transactions to the primary; a caller reads its own writes. Each replica gets a
   * pool (and pipeline) with the options of the primary's. See docs/database.md, "Read replicas".
   */
  replicas?: readonly string[];
  /** A replica further behind the primary than this is skipped (default 5 000). */
  maxReplicaLagMs?: number;
  /** Between checks of the primary's WAL position and of each replica's replay position (default 1 000). */
  replicaPollMs?: number;
  /** A replica whose check takes longer counts as unreachable until one succeeds (default 2 000). */
  replicaCheckTimeoutMs?: number;
  /** The primary takes its turn in the round robin of reads too (default false: replicas only). */
  readFromPrimary?: boolean;
  /** PostgreSQL only: the schema to use (search_path). */
  schema?: string;
  /** SQLite only: busy timeout in ms (default 5 000). */
  busyTimeoutMs?: number;
  /** Re-runs of a transaction after a failure that re-running fixes (see TransactionOptions.maxRetries; default 3). */
  maxTransactionRetries?: number;
  /** How long close() waits for in-flight work before ending the pools (default 10 000). */
  closeTimeoutMs?: number;
  clock?: Clock;
  logger?: Logger;
}

export const DEFAULT_DATABASE_URL = 'sqlite:./opusclip.db';

export interface ParsedDatabaseUrl {
  dialect: DialectName;
  /** The URL as given (contains the password: never print it; use `redacted`). */
  url: string;
  /** The URL with its password hidden. */
  redacted: string;
  /** SQLite file path or ':memory:'. */
  filename?: string;
  database?: string;
}

/** Parses and checks a database URL; errors never show the password. */
export function parseDatabaseUrl(url: string): ParsedDatabaseUrl {
  const redacted = redactConnectionUrl(url);
  const fail = (why: string): never => {
    throw new DatabaseError(DbErrorCode.Url, `Invalid database URL "${redacted}": ${why}`, {
      details: { url: redacted },
    });
  };
  if (typeof url !== 'string' || url.trim() === '') fail('it is empty');
  if (url.startsWith('sqlite:')) {
    let filename = url.slice('sqlite:'.length);
    if (filename.startsWith('//')) filename = filename.slice(2);
    if (filename === '') fail('no file name (use sqlite:./file.db or sqlite::memory:)');
    return { dialect: 'sqlite', url, redacted, filename };
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return fail('it is not a URL (expected postgres://, mysql:// or sqlite:)');
  }
  const scheme = parsed.protocol.replace(/:$/, '');
  const dialect: DialectName | undefined =
    scheme === 'postgres' || scheme === 'postgresql'
      ? 'postgres'
      : scheme === 'mysql' || scheme === 'mariadb'
        ? 'mysql'
        : undefined;
  if (!dialect) return fail(`unsupported scheme "${scheme}" (expected postgres, mysql, mariadb or sqlite)`);
  if (!parsed.hostname) fail('no host');
  if (parsed.port && !/^\d+$/.test(parsed.port)) fail('the port is not a number');
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (!database) fail('no database name in the path');
  return { dialect, url, redacted, database };
}
