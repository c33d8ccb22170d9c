import { InvalidArgumentError } from '../core/errors.js';
import type { DialectName } from './types.js';

export interface TranslatedQuery {
  sql: string;
  parameters: unknown[];
}

const cache = new Map<string, { sql: string; order: number[] | null; count: number }>();
const CACHE_LIMIT = 2000;

/**
 * Rewrites the placeholders of a raw query for the target dialect: `?` or `$1..$n` in, `$n` out on
 * PostgreSQL and `?` on MySQL and SQLite (with parameters reordered and repeated as `$n` requires).
 * Quoted strings, quoted identifiers, comments and PostgreSQL dollar-quoted bodies are skipped, so a `?`
 * or `$1` inside them is left alone. Values are never written into the SQL text.
 * When the text uses `$n`, a bare `?` is left as is (it is PostgreSQL's jsonb operator there).
 */
export function translatePlaceholders(
  sql: string,
  params: readonly unknown[],
  dialect: DialectName,
): TranslatedQuery {
  const key = `${dialect}\u0000${sql}`;
  let plan = cache.get(key);
  if (!plan) {
    plan = plan_(sql, dialect);
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(key, plan);
  }
  if (plan.order === null) {
    if (params.length !== plan.count) {
      throw new InvalidArgumentError(
        `The query has ${plan.count} placeholder(s) but ${params.length} parameter(s) were given`,
        { details: { placeholders: plan.count, parameters: params.length } },
      );
    }
    return { sql: plan.sql, parameters: params as unknown[] };
  }
  const needed = plan.order.length === 0 ? 0 : Math.max(...plan.order) + 1;
  if (params.length !== needed) {
    throw new InvalidArgumentError(
      `The query uses parameters up to $${needed} but ${params.length} parameter(s) were given`,
      { details: { placeholders: needed, parameters: params.length } },
    );
  }
  return { sql: plan.sql, parameters: plan.order.map((i) => params[i]) };
}

function plan_(sql: string, dialect: DialectName): { sql: string; order: number[] | null; count: number } {
  const dollarStyle = hasDollarPlaceholders(sql, dialect);
  let out = '';
  let count = 0;
  const order: number[] = [];
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const ch = sql[i]!;
    const skip = skipQuoted(sql, i, dialect);
    if (skip > i) {
      out += sql.slice(i, skip);
      i = skip;
      continue;
    }
    if (!dollarStyle && ch === '?') {
      count++;
      out += dialect === 'postgres' ? `$${count}` : '?';
      i++;
      continue;
    }
    if (dollarStyle && ch === '$' && isDigit(sql[i + 1])) {
      let j = i + 1;
      while (j < n && isDigit(sql[j])) j++;
      const index = Number(sql.slice(i + 1, j)) - 1;
      if (index < 0) throw new InvalidArgumentError('Placeholders are numbered from $1');
      if (dialect === 'postgres') {
        out += sql.slice(i, j);
        count = Math.max(count, index + 1);
      } else {
        out += '?';
        order.push(index);
      }
      i = j;
      continue;
    }
    out += ch;
    i++;
  }
  if (dollarStyle && dialect === 'postgres') {
    return { sql: out, order: Array.from({ length: count }, (_, k) => k), count };
  }
  return { sql: out, order: dollarStyle ? order : null, count };
}

function hasDollarPlaceholders(sql: string, dialect: DialectName): boolean {
  let i = 0;
  while (i < sql.length) {
    const skip = skipQuoted(sql, i, dialect);
    if (skip > i) {
      i = skip;
      continue;
    }
    if (sql[i] === '$' && isDigit(sql[i + 1]) && !isWordChar(sql[i - 1])) return true;
    i++;
  }
  return false;
}

/** If a quoted string, quoted identifier or comment starts at `i`, returns the index after it. */
function skipQuoted(sql: string, i: number, dialect: DialectName): number {
  const ch = sql[i];
  const next = sql[i + 1];
  if (ch === '-' && next === '-') {
    const end = sql.indexOf('\n', i);
    return end === -1 ? sql.length : end;
  }
  if (ch === '/' && next === '*') {
    const end = sql.indexOf('*/', i + 2);
    return end === -1 ? sql.length : end + 2;
  }
  if (ch === "'" || ch === '"' || (ch === '`' && dialect !== 'postgres')) {
    // MySQL also accepts backslash escapes inside quotes; PostgreSQL and SQLite only doubled quotes
    // (PostgreSQL E'' strings aside, which this treats conservatively as backslash-escaped).
    const backslash = dialect === 'mysql' || (ch === "'" && (sql[i - 1] === 'E' || sql[i - 1] === 'e'));
    let j = i + 1;
    while (j < sql.length) {
      const c = sql[j];
      if (backslash && c === '\\') {
        j += 2;
        continue;
      }
      if (c === ch) {
        if (sql[j + 1] === ch) {
          j += 2;
          continue;
        }
        return j + 1;
      }
      j++;
    }
    return sql.length;
  }
  if (ch === '$' && dialect === 'postgres' && !isDigit(next)) {
    const m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 64));
    if (m && !isWordChar(sql[i - 1])) {
      const tag = m[0];
      const end = sql.indexOf(tag, i + tag.length);
      return end === -1 ? sql.length : end + tag.length;
    }
  }
  return i;
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

function isWordChar(c: string | undefined): boolean {
  return c !== undefined && /[A-Za-z0-9_]/.test(c);
}
