import type { CompiledQuery } from 'kysely';
import type { ExecOptions, SqlQuery } from '../db/types.js';

/** Marks where a call-time value goes in a statement built once with Kysely. */
export class Slot {
  constructor(readonly key: string) {}
}

/** A Kysely placeholder for the call-time value `key` (typed loosely: Kysely only sees a parameter). */
export function slot<T = never>(key: string): T {
  return new Slot(key) as unknown as T;
}

/**
 * A statement compiled once (SQL text in the dialect's own placeholders) whose parameters are filled
 * at call time: the hot paths skip Kysely's builder and compiler entirely.
 */
export class Prepared {
  readonly sql: string;
  readonly name: string;
  /** `{ name }`, allocated once for the calls that pass no signal. */
  readonly options: ExecOptions;
  /** One entry per parameter: a slot key to read from the call's values, or a constant. */
  readonly #template: ReadonlyArray<{ key: string } | { value: unknown }>;

  constructor(name: string, compiled: CompiledQuery) {
    this.name = name;
    this.options = { name };
    this.sql = compiled.sql;
    this.#template = compiled.parameters.map((p) => (p instanceof Slot ? { key: p.key } : { value: p }));
  }

  /** The SQL with its parameters for these slot values. */
  /** True when the only parameters are these slots, in this order (lets hot paths skip `bind`). */
  takes(...keys: string[]): boolean {
    return (
      this.#template.length === keys.length && this.#template.every((t, i) => 'key' in t && t.key === keys[i])
    );
  }

  bind(values: Readonly<Record<string, unknown>>): SqlQuery {
    const parameters = this.#template.map((t) => ('key' in t ? values[t.key] : t.value));
    return { sql: this.sql, parameters };
  }
}
