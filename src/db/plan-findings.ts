import type { DialectName } from './types.js';

/** One plain-language observation about a plan. */
export interface PlanFinding {
  /** `full-scan`: every row of a table is read; `sort-without-index`: rows are sorted after reading; `index`: an index that would serve the statement. */
  kind: 'full-scan' | 'sort-without-index' | 'index';
  /** For people: `full scan of videos (~20000 rows)`, `sort without index on created_at`, `an index on videos(owner)`. */
  message: string;
  table?: string;
  /** Estimated rows of the table (PostgreSQL, MySQL/MariaDB); SQLite plans carry no estimate. */
  rows?: number;
  columns?: string[];
}

export interface FindingOptions {
  /** A full scan is reported from this many estimated rows (default 10 000). SQLite: always. */
  largeTableRows: number;
  /** PostgreSQL: rows per table from the catalogue (pg_class.reltuples), by relation name. */
  tableRows?: ReadonlyMap<string, number>;
  /** The statement's (redacted) text, where the plan does not name the columns (SQLite, MySQL's sorts). */
  sql: string;
}

/** Findings of a plan from EXPLAIN, as the dialect writes it (see explain.ts). */
export function planFindings(dialect: DialectName, plan: unknown, options: FindingOptions): PlanFinding[] {
  const found =
    dialect === 'postgres'
      ? postgresFindings(plan, options)
      : dialect === 'mysql'
        ? mysqlFindings(plan, options)
        : sqliteFindings(plan, options);
  // Full scans, then sorts, then the indexes that would serve them (a stable sort keeps plan order within).
  return found.sort((a, b) => KIND_ORDER[a.kind] - KIND_ORDER[b.kind]);
}

const KIND_ORDER: Record<PlanFinding['kind'], number> = { 'full-scan': 0, 'sort-without-index': 1, index: 2 };

/* ---------- PostgreSQL: EXPLAIN (FORMAT JSON) ---------- */

type PgNode = Record<string, unknown> & { Plans?: PgNode[] };

const INDEX_SCANS = new Set(['Index Scan', 'Index Only Scan', 'Bitmap Heap Scan']);

function postgresFindings(plan: unknown, options: FindingOptions): PlanFinding[] {
  const root = (Array.isArray(plan) ? plan[0] : plan) as { Plan?: PgNode } | undefined;
  if (root?.Plan === undefined) return [];
  const out: PlanFinding[] = [];
  const scans: Array<{ table: string; filterColumn: string | undefined }> = [];
  const sorts: Array<{ keys: string[]; table: string | undefined }> = [];
  const visit = (node: PgNode): void => {
    const type = node['Node Type'];
    if (type === 'Seq Scan' && typeof node['Relation Name'] === 'string') {
      const table = node['Relation Name'];
      const estimated = options.tableRows?.get(table);
      const rows = estimated !== undefined && estimated >= 0 ? estimated : numberOf(node['Plan Rows']);
      if (rows !== undefined && rows >= options.largeTableRows) {
        out.push({
          kind: 'full-scan',
          message: `full scan of ${table} (~${Math.round(rows)} rows)`,
          table,
          rows: Math.round(rows),
        });
        scans.push({ table, filterColumn: conditionColumn(stringOf(node.Filter)) });
      }
    }
    if (type === 'Sort' && Array.isArray(node['Sort Key'])) {
      const child = node.Plans?.[0];
      if (!INDEX_SCANS.has(String(child?.['Node Type']))) {
        const keys = node['Sort Key'].map(String);
        out.push({
          kind: 'sort-without-index',
          message: `sort without index on ${keys.join(', ')}`,
          columns: keys,
        });
        sorts.push({ keys, table: child ? singleRelation(child) : undefined });
      }
    }
    for (const child of node.Plans ?? []) visit(child);
  };
  visit(root.Plan);
  suggest(out, scans, sorts);
  return out;
}

/** The one table under a node, when it reads exactly one. */
function singleRelation(node: PgNode): string | undefined {
  const names = new Set<string>();
  const visit = (n: PgNode): void => {
    if (typeof n['Relation Name'] === 'string') names.add(n['Relation Name']);
    for (const c of n.Plans ?? []) visit(c);
  };
  visit(node);
  return names.size === 1 ? [...names][0] : undefined;
}

/* ---------- MySQL / MariaDB: EXPLAIN FORMAT=JSON ---------- */

function mysqlFindings(plan: unknown, options: FindingOptions): PlanFinding[] {
  const out: PlanFinding[] = [];
  const scans: Array<{ table: string; filterColumn: string | undefined }> = [];
  const sorts: Array<{ keys: string[]; table: string | undefined }> = [];
  const tables: string[] = [];
  let sorted = false;
  let sortKeys: string[] | undefined;
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const v of value) visit(v);
      return;
    }
    if (typeof value !== 'object' || value === null) return;
    const o = value as Record<string, unknown>;
    if (o.using_filesort === true) sorted = true;
    // MariaDB: { filesort: { sort_key: "t.score desc", … } }
    const filesort = o.filesort as Record<string, unknown> | undefined;
    if (typeof filesort === 'object' && filesort !== null) {
      sorted = true;
      if (typeof filesort.sort_key === 'string') sortKeys = splitKeys(filesort.sort_key);
    }
    const table = o.table as Record<string, unknown> | undefined;
    if (typeof table === 'object' && table !== null && typeof table.table_name === 'string') {
      const name = table.table_name;
      tables.push(name);
      const rows = numberOf(table.rows) ?? numberOf(table.rows_examined_per_scan);
      if (table.access_type === 'ALL' && rows !== undefined && rows >= options.largeTableRows) {
        out.push({ kind: 'full-scan', message: `full scan of ${name} (~${rows} rows)`, table: name, rows });
        const noKeys = table.possible_keys === undefined || table.possible_keys === null;
        const condition = stringOf(table.attached_condition);
        scans.push({ table: name, filterColumn: noKeys ? conditionColumn(condition) : undefined });
      }
    }
    for (const v of Object.values(o)) visit(v);
  };
  visit(plan);
  if (sorted) {
    const keys = sortKeys ?? orderByKeys(options.sql) ?? [];
    out.push({
      kind: 'sort-without-index',
      message: keys.length > 0 ? `sort without index on ${keys.join(', ')}` : 'sort without index',
      columns: keys,
    });
    sorts.push({ keys, table: tables.length === 1 ? tables[0] : undefined });
  }
  suggest(out, scans, sorts);
  return out;
}

/* ---------- SQLite: EXPLAIN QUERY PLAN ---------- */

/** `SCAN t`, `SCAN TABLE t` (older SQLite), without `USING … INDEX`. */
const SQLITE_SCAN = /^SCAN (?:TABLE )?("?)([^\s"]+)\1(?: AS \S+)?$/;

function sqliteFindings(plan: unknown, options: FindingOptions): PlanFinding[] {
  if (!Array.isArray(plan)) return [];
  const out: PlanFinding[] = [];
  const scans: Array<{ table: string; filterColumn: string | undefined }> = [];
  const sorts: Array<{ keys: string[]; table: string | undefined }> = [];
  const tables = new Set<string>();
  const where = whereColumn(options.sql);
  for (const row of plan as Array<Record<string, unknown>>) {
    const detail = stringOf(row.detail)?.trim() ?? '';
    const scan = SQLITE_SCAN.exec(detail);
    const named = /^(?:SCAN|SEARCH) (?:TABLE )?"?([^\s"]+)/.exec(detail)?.[1];
    if (named !== undefined) tables.add(named);
    if (scan?.[2] !== undefined) {
      const table = scan[2];
      out.push({ kind: 'full-scan', message: `full scan of ${table}`, table });
      scans.push({ table, filterColumn: where });
    }
    if (/^USE TEMP B-TREE FOR (?:RIGHT PART OF )?ORDER BY$/.test(detail)) {
      const keys = orderByKeys(options.sql) ?? [];
      out.push({
        kind: 'sort-without-index',
        message: keys.length > 0 ? `sort without index on ${keys.join(', ')}` : 'sort without index',
        columns: keys,
      });
      sorts.push({ keys, table: undefined });
    }
  }
  for (const s of sorts) if (tables.size === 1) s.table = [...tables][0];
  suggest(out, scans, sorts);
  return out;
}

/* ---------- shared ---------- */

/**
 * Adds `an index on t(filter column[, sort column])` where one table is scanned whole with a simple
 * condition, or sorted by simple columns.
 */
function suggest(
  out: PlanFinding[],
  scans: ReadonlyArray<{ table: string; filterColumn: string | undefined }>,
  sorts: ReadonlyArray<{ keys: string[]; table: string | undefined }>,
): void {
  const seen = new Set<string>();
  const add = (table: string, columns: string[]): void => {
    const key = `${table}(${columns.join(', ')})`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push({ kind: 'index', message: `an index on ${key}`, table, columns });
  };
  for (const scan of scans) {
    const sortColumns = sorts
      .filter((s) => s.table === scan.table)
      .flatMap((s) => s.keys.map(simpleColumn))
      .filter((c): c is string => c !== undefined);
    if (scan.filterColumn !== undefined)
      add(scan.table, [scan.filterColumn, ...sortColumns.filter((c) => c !== scan.filterColumn)]);
    else if (sortColumns.length > 0) add(scan.table, sortColumns);
  }
  for (const sort of sorts) {
    if (sort.table === undefined || scans.some((s) => s.table === sort.table)) continue;
    const columns = sort.keys.map(simpleColumn);
    if (columns.length > 0 && columns.every((c) => c !== undefined)) add(sort.table, columns as string[]);
  }
}

const IDENT = String.raw`[\`"]?([A-Za-z_][A-Za-z0-9_$]*)[\`"]?`;
const QUALIFIED = String.raw`(?:[\`"]?[A-Za-z_][A-Za-z0-9_$]*[\`"]?\.)*${IDENT}`;
/** `col op …`, `(col)::text = …`, `t.col LIKE …`: the column compared. */
const COMPARED = new RegExp(
  String.raw`^\(*\s*${QUALIFIED}\s*\)?(?:::[\w ]+)?\s*(?:=|<=>|<>|!=|<=|>=|<|>|~~|\bLIKE\b|\bIN\b|\bBETWEEN\b)`,
  'i',
);

/** The column of a simple condition (one comparison, or the first of several joined by AND). */
function conditionColumn(condition: string | undefined): string | undefined {
  if (condition === undefined || /\bOR\b/i.test(condition)) return undefined;
  for (const part of condition.split(/\bAND\b/i)) {
    const column = COMPARED.exec(part.trim().replace(/^\(+/, ''))?.[1];
    if (column !== undefined) return column;
  }
  return undefined;
}

/** A sort key that is just a column (`t.created_at DESC` → `created_at`). */
function simpleColumn(key: string): string | undefined {
  return new RegExp(String.raw`^${QUALIFIED}(?:\s+(?:ASC|DESC))?(?:\s+NULLS\s+(?:FIRST|LAST))?$`, 'i').exec(
    key.trim(),
  )?.[1];
}

function splitKeys(text: string): string[] {
  return text
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k.length > 0);
}

/** The ORDER BY list of a single-statement SELECT text, when it has one. */
function orderByKeys(sql: string): string[] | undefined {
  const m = /\border\s+by\s+([\s\S]+?)(?:\blimit\b|\boffset\b|\bfetch\b|\bfor\b|$)/i.exec(sql);
  return m?.[1] === undefined ? undefined : splitKeys(m[1].replace(/[;\s]+$/, ''));
}

/** The first column compared in the WHERE clause of a SELECT text, when it is that simple. */
function whereColumn(sql: string): string | undefined {
  const m = /\bwhere\s+([\s\S]+?)(?:\border\s+by\b|\bgroup\s+by\b|\blimit\b|$)/i.exec(sql);
  return m?.[1] === undefined ? undefined : conditionColumn(m[1]);
}

function numberOf(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && /^\d+(?:\.\d+)?$/.test(value)) return Number(value);
  return undefined;
}

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
