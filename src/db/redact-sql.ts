import type { DialectName } from './types.js';

/** `'…'` strings where a backslash escapes (MySQL; PostgreSQL's `E'…'`), with an optional prefix. */
const BACKSLASH_QUOTED = /(?:\b[EeNnXxBb])?'(?:[^'\\]|''|\\[\s\S])*'/g;
/** PostgreSQL's `E'…'` strings (backslash escapes). */
const E_QUOTED = /\b[Ee]'(?:[^'\\]|''|\\[\s\S])*'/g;
/** Standard `'…'` strings: only a doubled quote escapes (PostgreSQL, SQLite), with an optional prefix. */
const STANDARD_QUOTED = /(?:\b[NnXxBbUu]&?)?'(?:[^']|'')*'/g;
/** PostgreSQL dollar-quoted strings (`$$…$$`, `$tag$…$tag$`). */
const DOLLAR_QUOTED = /\$([A-Za-z_][A-Za-z0-9_]*)?\$[\s\S]*?\$\1\$/g;
/** MySQL's `"…"` strings (double quotes quote strings there unless ANSI_QUOTES is on). */
const DOUBLE_QUOTED = /"(?:[^"\\]|""|\\[\s\S])*"/g;
/**
 * Numbers standing alone: not part of a name (`t1`, `col_2`), not a placeholder (`$1`, `:1`), not a
 * quoted identifier's tail.
 */
const NUMBER = /(?<![\w$:."`\]])[-+]?(?:0[xX][0-9a-fA-F]+|\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w"`])/g;

/**
 * A SQL text with its literals hidden: quoted strings become `'?'`, numbers `?`. Parameters
 * (`$1`, `?`) are kept; they carry no value. Used for every text a slow-query entry or its plan keeps,
 * so that a value written inline in the SQL (a token, an e-mail address) is never stored.
 */
export function redactSqlLiterals(text: string, dialect: DialectName): string {
  let out = text;
  if (dialect === 'mysql') {
    out = out.replace(BACKSLASH_QUOTED, "'?'").replace(DOUBLE_QUOTED, "'?'");
  } else {
    if (dialect === 'postgres') out = out.replace(DOLLAR_QUOTED, "'?'").replace(E_QUOTED, "'?'");
    out = out.replace(STANDARD_QUOTED, "'?'");
  }
  return out.replace(NUMBER, '?');
}

/** Plain decimal figures that plans carry as strings (MySQL's cost_info): not values of the query. */
const FIGURE = /^-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?$/;

/**
 * A copy of a plan (JSON from EXPLAIN) in which every string is redacted as SQL text, and every
 * occurrence of one of `secrets` (the statement's parameter values, as text) is replaced by `?`.
 * A plan's conditions can quote the values the statement was planned with (PostgreSQL writes
 * `(email = 'x'::text)` into a Filter).
 */
export function redactPlan(plan: unknown, dialect: DialectName, secrets: readonly string[]): unknown {
  const scrub = (s: string): string => {
    if (FIGURE.test(s)) return s;
    let out = s;
    for (const secret of secrets) if (secret.length > 0) out = out.split(secret).join('?');
    return redactSqlLiterals(out, dialect);
  };
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') return scrub(value);
    if (Array.isArray(value)) return value.map(walk);
    if (typeof value === 'object' && value !== null) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = walk(v);
      return out;
    }
    return value;
  };
  return walk(plan);
}

/**
 * The parameter values scrubbed from a plan word for word, besides the literal redaction (which already
 * hides them where the plan quotes them): strings of 8 characters or more, the length of a token or an
 * address. Shorter ones would also match parts of names (`id` in `video_id`) and spoil the findings.
 */
export function parameterTexts(parameters: readonly unknown[]): string[] {
  const out: string[] = [];
  for (const p of parameters) if (typeof p === 'string' && p.length >= 8) out.push(p);
  // Longest first, so a value containing another is hidden whole.
  return out.sort((a, b) => b.length - a.length);
}
