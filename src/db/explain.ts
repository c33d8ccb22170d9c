import type { DialectName, ExecResult, SqlQuery } from './types.js';

/** The statement name EXPLAIN runs under (in metrics); the slow-query log never captures it. */
const EXPLAIN_NAME = 'slowQueries.explain';

/** Runs one read outside any transaction (the Database's `execute`). */
export type ExplainRunner = (
  query: SqlQuery,
  name: string,
  signal: AbortSignal,
) => Promise<ExecResult<Record<string, unknown>>>;

export interface ExplainedPlan {
  /** The plan as the database writes it (JSON on PostgreSQL and MySQL/MariaDB, rows on SQLite). */
  plan: unknown;
  /** PostgreSQL: estimated rows of each table the plan reads whole (pg_class.reltuples). */
  tableRows?: Map<string, number>;
}

/**
 * The statement that plans `sql` without running it: `EXPLAIN (FORMAT JSON)` on PostgreSQL (no
 * ANALYZE: nothing is executed), `EXPLAIN FORMAT=JSON` on MySQL/MariaDB, `EXPLAIN QUERY PLAN` on SQLite.
 */
function explainStatement(dialect: DialectName, sql: string): string {
  switch (dialect) {
    case 'postgres':
      return `EXPLAIN (FORMAT JSON) ${sql}`;
    case 'mysql':
      return `EXPLAIN FORMAT=JSON ${sql}`;
    case 'sqlite':
      return `EXPLAIN QUERY PLAN ${sql}`;
  }
}

/** Plans `query` (same parameters, sent to the database only) and reads the plan out of the answer. */
export async function explainPlan(
  dialect: DialectName,
  query: SqlQuery,
  run: ExplainRunner,
  signal: AbortSignal,
): Promise<ExplainedPlan> {
  const res = await run(
    { sql: explainStatement(dialect, query.sql), parameters: query.parameters },
    EXPLAIN_NAME,
    signal,
  );
  if (dialect === 'sqlite') {
    return { plan: res.rows.map((r) => ({ id: r.id, parent: r.parent, detail: r.detail })) };
  }
  const first = res.rows[0] ?? {};
  const cell = Object.values(first)[0];
  const plan: unknown = typeof cell === 'string' ? JSON.parse(cell) : cell;
  if (dialect === 'mysql') return { plan };
  return { plan, tableRows: await postgresTableRows(plan, run, signal) };
}

/** pg_class.reltuples of the relations a PostgreSQL plan scans sequentially (-1: never analysed). */
async function postgresTableRows(
  plan: unknown,
  run: ExplainRunner,
  signal: AbortSignal,
): Promise<Map<string, number>> {
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
    const res = await run(
      {
        sql: 'SELECT reltuples::float8 AS n FROM pg_class WHERE oid = to_regclass(quote_ident($1))',
        parameters: [name],
      },
      'slowQueries.tableRows',
      signal,
    );
    const n = res.rows[0]?.n;
    if (typeof n === 'number') out.set(name, n);
  }
  return out;
}
