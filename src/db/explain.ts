import type { ConnectionPool } from './connection-pool.js';
import type { DriverConnection } from './dialect-driver.js';
import type { DialectName, ExecResult, SqlQuery } from './types.js';

/** The statement name EXPLAIN runs under (in metrics); the slow-query log never captures its own. */
const EXPLAIN_NAME = 'slowQueries.explain';

/** One pooled connection lent for planning: statements run on it with metrics and error mapping. */
export interface ExplainConnection {
  run(query: SqlQuery, name: string): Promise<ExecResult<Record<string, unknown>>>;
}

/**
 * Lends a free connection of the pool (never one a transaction holds) to `fn`, outside any
 * transaction; `signal` bounds the wait for it. A connection `fn` failed on is discarded rather than
 * given back: a session setting it changed may not have been restored.
 */
export type ExplainRunner = <T>(
  signal: AbortSignal,
  fn: (conn: ExplainConnection) => Promise<T>,
) => Promise<T>;

/** The ExplainRunner over a Database's pool (`runOn` runs one statement on a connection). */
export function poolExplainRunner(
  pool: () => ConnectionPool<DriverConnection>,
  runOn: (
    conn: DriverConnection,
    query: SqlQuery,
    name: string,
  ) => Promise<ExecResult<Record<string, unknown>>>,
): ExplainRunner {
  return async (signal, fn) => {
    const slot = await pool().acquire(EXPLAIN_NAME, signal);
    let ok = false;
    try {
      const out = await fn({ run: (query, name) => runOn(slot.conn, query, name) });
      ok = true;
      return out;
    } finally {
      pool().release(slot, !ok || slot.conn.broken);
    }
  };
}

export interface ExplainedPlan {
  /** The plan as the database writes it (JSON on PostgreSQL and MySQL/MariaDB, rows on SQLite). */
  plan: unknown;
  /** PostgreSQL: estimated rows of each table the plan reads whole (pg_class.reltuples). */
  tableRows?: Map<string, number>;
}

/** What a log learns about its server while planning (whether MariaDB's `SET STATEMENT` works). */
export interface ExplainState {
  setStatement?: boolean;
}

/**
 * Plans `query` (same parameters, sent to the database only) without running it, bounded on the server
 * by `timeoutMs`, and reads the plan out of the answer:
 * - PostgreSQL: `EXPLAIN (FORMAT JSON)` (no ANALYZE) under `SET statement_timeout` (lock waits
 *   included), `RESET` after; then pg_class.reltuples of the tables it scans whole;
 * - MySQL/MariaDB: `EXPLAIN FORMAT=JSON`, as `SET STATEMENT max_statement_time=…, lock_wait_timeout=… FOR`
 *   where the server takes it (MariaDB);
 * - SQLite: `EXPLAIN QUERY PLAN` (local, nothing to wait for).
 */
export async function explainPlan(
  dialect: DialectName,
  query: SqlQuery,
  conn: ExplainConnection,
  timeoutMs: number,
  state: ExplainState,
): Promise<ExplainedPlan> {
  const { parameters } = query;
  if (dialect === 'sqlite') {
    const res = await conn.run({ sql: `EXPLAIN QUERY PLAN ${query.sql}`, parameters }, EXPLAIN_NAME);
    return { plan: res.rows.map((r) => ({ id: r.id, parent: r.parent, detail: r.detail })) };
  }
  if (dialect === 'mysql') {
    const explain = `EXPLAIN FORMAT=JSON ${query.sql}`;
    if (state.setStatement !== false) {
      const seconds = Math.max(0.001, timeoutMs / 1000);
      const bounded = `SET STATEMENT max_statement_time=${seconds}, lock_wait_timeout=${Math.ceil(seconds)} FOR ${explain}`;
      try {
        const res = await conn.run({ sql: bounded, parameters }, EXPLAIN_NAME);
        state.setStatement = true;
        return { plan: planCell(res) };
      } catch (error) {
        // MySQL has no SET STATEMENT: a syntax error, once; then plain EXPLAIN (statementTimeoutMs bounds it).
        if (state.setStatement === true || !isSyntaxError(error)) throw error;
        state.setStatement = false;
      }
    }
    return { plan: planCell(await conn.run({ sql: explain, parameters }, EXPLAIN_NAME)) };
  }
  await conn.run(
    { sql: `SET statement_timeout = ${Math.max(1, Math.round(timeoutMs))}`, parameters: [] },
    'slowQueries.timeout',
  );
  let plan: unknown;
  try {
    plan = planCell(await conn.run({ sql: `EXPLAIN (FORMAT JSON) ${query.sql}`, parameters }, EXPLAIN_NAME));
    return { plan, tableRows: await postgresTableRows(plan, conn) };
  } finally {
    // Back to the connection's own setting (createDatabase's statementTimeoutMs, or none).
    await conn.run({ sql: 'RESET statement_timeout', parameters: [] }, 'slowQueries.timeout');
  }
}

/** The one JSON cell of an EXPLAIN answer (a string on MySQL, parsed already by pg on PostgreSQL). */
function planCell(res: ExecResult<Record<string, unknown>>): unknown {
  const cell = Object.values(res.rows[0] ?? {})[0];
  return typeof cell === 'string' ? JSON.parse(cell) : cell;
}

function isSyntaxError(error: unknown): boolean {
  const code = (error as { dialectCode?: unknown } | null)?.dialectCode;
  return code === 'ER_PARSE_ERROR' || code === '1064';
}

/** pg_class.reltuples of the relations a PostgreSQL plan scans sequentially (-1: never analysed). */
async function postgresTableRows(plan: unknown, conn: ExplainConnection): Promise<Map<string, number>> {
  const names = new Set<string>();
  const visit = (node: Record<string, unknown> | undefined): void => {
    if (node === undefined) return;
    if (node['Node Type'] === 'Seq Scan' && typeof node['Relation Name'] === 'string')
      names.add(node['Relation Name']);
    for (const child of (node.Plans as Array<Record<string, unknown>> | undefined) ?? []) visit(child);
  };
  visit(
    (Array.isArray(plan) ? (plan[0] as { Plan?: Record<string, unknown> } | undefined) : undefined)?.Plan,
  );
  const out = new Map<string, number>();
  for (const name of [...names].slice(0, 8)) {
    const res = await conn.run(
      {
        sql: 'SELECT reltuples::float8 AS n FROM pg_class WHERE oid = to_regclass(quote_ident($1))',
        parameters: [name],
      },
      'slowQueries.tableRows',
    );
    const n = res.rows[0]?.n;
    if (typeof n === 'number') out.set(name, n);
  }
  return out;
}
