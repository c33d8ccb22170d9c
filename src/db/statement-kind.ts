import type { DialectName } from './types.js';

/**
 * What a statement outside a transaction needs from a connection:
 * - `read`: only reads; may share a pipelined connection, and is sent again on another connection when
 *   its own breaks (running it twice is harmless);
 * - `write`: changes data; may share a pipelined connection, but is never sent twice;
 * - `exclusive`: holds or reads session state (SET, LISTEN, COPY, advisory and named locks, temporary
 *   tables, `LAST_INSERT_ID()`, user variables), is DDL or a statement this module does not know: it runs
 *   on a connection of its own, as inside the pool.
 */
export type StatementKind = 'read' | 'write' | 'exclusive';

const LEADING_NOISE = /^(?:\s+|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)+/;
const READ_START = /^(?:select|with|values|table|show)\b/i;
const WRITE_START = /^(?:insert|update|delete|merge|replace)\b/i;
/** A data-modifying WITH (`WITH x AS (DELETE … RETURNING …) SELECT …`). */
const MODIFYING = /\b(?:insert|update|delete|merge)\b/i;
/** Locking reads: they take row locks, which is what writes do. */
const LOCKING = /\bfor\s+(?:no\s+key\s+update|key\s+share|update|share)\b|\block\s+in\s+share\s+mode\b/i;
/** Functions with effects a second run would repeat. */
const EFFECTS = /\b(?:nextval|setval)\s*\(/i;
/** Functions that set or read the state of the session, which a shared connection cannot give a caller. */
const SESSION =
  /\b(?:pg_(?:try_)?advisory_lock(?:_shared)?|pg_advisory_unlock(?:_shared|_all)?|set_config|get_lock|release_lock|release_all_locks|last_insert_id|found_rows|row_count|lastval|currval)\s*\(/i;
/** SELECT … INTO (a new table on PostgreSQL, variables or a file on MySQL). */
const INTO = /\binto\b/i;
/** MySQL user variables (`@x`); session state. */
const USER_VARIABLE = /@[A-Za-z_]/;
/** A second statement after a `;` (only a simple-protocol text can carry one). */
const SECOND_STATEMENT = /;\s*\S/;

const CACHE_LIMIT = 2048;
const cache: Record<DialectName, Map<string, StatementKind>> = {
  postgres: new Map(),
  mysql: new Map(),
  sqlite: new Map(),
};

/**
 * Classifies a statement from its text (cached per text: the hot statements are a few texts run many
 * times). Anything not recognised is `exclusive`, so a mistake costs speed, never correctness.
 */
export function statementKind(sql: string, dialect: DialectName): StatementKind {
  const known = cache[dialect];
  let kind = known.get(sql);
  if (kind === undefined) {
    kind = classify(sql, dialect);
    if (known.size >= CACHE_LIMIT) known.clear();
    known.set(sql, kind);
  }
  return kind;
}

function classify(sql: string, dialect: DialectName): StatementKind {
  const text = sql.replace(LEADING_NOISE, '');
  if (SECOND_STATEMENT.test(text) || SESSION.test(text)) return 'exclusive';
  if (dialect === 'mysql' && USER_VARIABLE.test(text)) return 'exclusive';
  if (WRITE_START.test(text)) return 'write';
  if (!READ_START.test(text)) return 'exclusive';
  if (/^with\b/i.test(text) && MODIFYING.test(text)) return 'write';
  if (INTO.test(text)) return 'exclusive';
  if (LOCKING.test(text) || EFFECTS.test(text)) return 'write';
  return 'read';
}
