import type { CompiledQuery } from 'kysely';
import type { ExecOptions, SqlQuery } from '../db/types.js';

/** Marks where a call-time value goes in a statement built once with Kysely. */
class Slot {
  constructor(readonly key: string) {}
}

/** A Kysely placeholder for the call-time value `key` (typed loosely: Kysely only sees a parameter). */
export function slot<T = never>(key: string): T {
  return new Slot(key) as unknown as T;
}

type Parameter = { kind: 'slot'; key: string; index: number } | { kind: 'value'; value: unknown };

/**
 * A statement compiled once (SQL text in the dialect's own placeholders) whose parameters are filled
 * at call time: the hot paths skip Kysely's builder and compiler entirely.
 */
export class Prepared {
  readonly sql: string;
  readonly name: string;
  /** `{ name }`, allocated once for the calls that pass no signal. */
  readonly options: ExecOptions;
  /** One entry per parameter: a slot to read from the call's values, or a constant. */
  readonly #template: readonly Parameter[];
  /** True when the parameters are exactly the row's values in order: bindRow passes the row itself. */
  readonly #wholeRow: boolean;

  /**
   * `row`: the column names of the rows `bindRow` takes (its slots are named after columns); without
   * it, only `bind` with named values.
   */
  constructor(name: string, compiled: CompiledQuery, row?: readonly string[]) {
    this.name = name;
    this.options = { name };
    this.sql = compiled.sql;
    this.#template = compiled.parameters.map((p): Parameter => {
      if (!(p instanceof Slot)) return { kind: 'value', value: p };
      const index = row === undefined ? -1 : row.indexOf(p.key);
      if (row !== undefined && index < 0)
        throw new Error(`${name}: slot ${p.key} is not a column of its row`);
      return { kind: 'slot', key: p.key, index };
    });
    this.#wholeRow = row !== undefined && this.takes(...row);
  }

  /** True when the only parameters are these slots, in this order (lets hot paths skip `bind`). */
  takes(...keys: string[]): boolean {
    return (
      this.#template.length === keys.length &&
      this.#template.every((t, i) => t.kind === 'slot' && t.key === keys[i])
    );
  }

  /** The SQL with its parameters for these slot values. */
  bind(values: Readonly<Record<string, unknown>>): SqlQuery {
    const parameters = this.#template.map((t) => (t.kind === 'slot' ? values[t.key] : t.value));
    return { sql: this.sql, parameters };
  }

  /** The SQL with its parameters read from a row in the column order given to the constructor. */
  bindRow(row: readonly unknown[]): SqlQuery {
    if (this.#wholeRow) return { sql: this.sql, parameters: row };
    const parameters = this.#template.map((t) => (t.kind === 'slot' ? row[t.index] : t.value));
    return { sql: this.sql, parameters };
  }
}
