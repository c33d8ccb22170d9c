import type { Clock } from '../core/clock.js';
import { InvalidArgumentError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { dbChannels } from './db-channels.js';
import { type ExplainRunner, type ExplainState, explainPlan } from './explain.js';
import { type PlanFinding, planFindings } from './plan-findings.js';
import { parameterTexts, redactPlan, redactSqlLiterals } from './redact-sql.js';
import { statementKind } from './statement-kind.js';
import type { DialectName, SqlQuery } from './types.js';

/** What `createDatabase({ slowQueries })` sets; see docs/database.md, "Slow queries". */
export interface SlowQueryOptions {
  /** A statement taking at least this long is slow (default 200). */
  thresholdMs?: number;
  /** Share of slow statements captured, 0..1 (default 1: all); the counter counts every one. */
  sampleRate?: number;
  /** Distinct statements kept; the least recently seen goes first (default 100). */
  maxEntries?: number;
  /** Plan captured reads with EXPLAIN (default true); never writes, DDL or session statements. */
  explain?: boolean;
  /** EXPLAINs running at once, at most, over all statements (default 2); more are skipped, not queued. */
  maxConcurrentExplains?: number;
  /**
   * How long an EXPLAIN may take (default 2000): the wait for a connection, and on the server
   * (PostgreSQL statement_timeout, MariaDB max_statement_time), lock waits included.
   */
  explainTimeoutMs?: number;
  /** A full scan is a finding from this many estimated rows (default 10 000; SQLite: any). */
  largeTableRows?: number;
  /** Random numbers in [0, 1) for sampling (default Math.random; tests pass their own). */
  random?: () => number;
}

/** Why a captured statement has no plan. */
export type PlanStatus =
  | 'planned'
  | 'pending'
  /** EXPLAIN failed (planError says why); tried again at the next capture, three times in all. */
  | 'failed'
  /** EXPLAIN is off, or all EXPLAIN slots were busy when it was seen (tried again next time). */
  | 'not-planned'
  /** A write, DDL or session statement: never planned. */
  | 'not-a-read';

/** One distinct slow statement (grouped by its redacted text). Parameters are never kept. */
export interface SlowQueryEntry {
  /** The statement name of its last run (`store.listVideos`, `kysely`, `raw`). */
  name: string;
  /** The SQL text with placeholders, string and number literals replaced by `'?'` / `?`. */
  sql: string;
  dialect: DialectName;
  /** Captured (sampled) runs. */
  count: number;
  maxMs: number;
  avgMs: number;
  lastMs: number;
  /** Epoch milliseconds (the database's Clock). */
  firstSeenAt: number;
  lastSeenAt: number;
  planStatus: PlanStatus;
  /** The plan, redacted like the text (present when planStatus is `planned`). */
  plan?: unknown;
  /** Why planning failed (present when planStatus is `failed`). */
  planError?: string;
  findings: PlanFinding[];
}

/** An entry with what only the log needs. */
type StoredEntry = SlowQueryEntry & { totalMs: number; planAttempts: number };

/** Longest plan kept (as JSON text); a larger one is replaced by a note saying so. */
const MAX_PLAN_CHARS = 64 * 1024;

/** EXPLAINs of one statement, at most (a timeout under load should not leave it unplanned for good). */
const PLAN_ATTEMPTS = 3;

interface Settings {
  thresholdMs: number;
  sampleRate: number;
  maxEntries: number;
  explain: boolean;
  maxConcurrentExplains: number;
  explainTimeoutMs: number;
  largeTableRows: number;
  random: () => number;
}

export interface SlowQueryLogDeps {
  dialect: DialectName;
  clock: Clock;
  logger: Logger;
  /** Lends a free pooled connection (never a transaction's) for EXPLAIN. */
  run: ExplainRunner;
}

/** Statements the log runs itself (EXPLAIN, catalogue reads) are never captured. */
const OWN_NAMES = 'slowQueries.';

/**
 * Captures statements slower than a threshold (sampled), keeps one entry per distinct statement in a
 * bounded store, and plans each read once with EXPLAIN in the background. `observe` is called by the
 * Database after every statement; below the threshold it costs one comparison.
 */
export class SlowQueryLog {
  readonly thresholdMs: number;
  readonly #s: Settings;
  readonly #deps: SlowQueryLogDeps;
  /** Insertion order = recency: an entry seen again moves to the end; the first one is evicted. */
  readonly #entries = new Map<string, StoredEntry>();
  #explaining = 0;
  #closed = false;
  readonly #running = new Set<Promise<void>>();
  readonly #explainState: ExplainState = {};

  constructor(options: SlowQueryOptions, deps: SlowQueryLogDeps) {
    this.#s = checkOptions(options);
    this.thresholdMs = this.#s.thresholdMs;
    this.#deps = deps;
  }

  /** One statement has run (successfully or not) in `durationMs`. */
  observe(name: string, query: SqlQuery, durationMs: number): void {
    if (durationMs < this.#s.thresholdMs || name.startsWith(OWN_NAMES)) return;
    if (dbChannels.slowQuery.hasSubscribers) dbChannels.slowQuery.publish({ name, durationMs });
    if (this.#s.sampleRate < 1 && this.#s.random() >= this.#s.sampleRate) return;
    const { dialect, clock } = this.#deps;
    const sql = redactSqlLiterals(query.sql, dialect);
    const now = clock.now();
    let entry = this.#entries.get(sql);
    if (entry === undefined) {
      const read = statementKind(query.sql, dialect) === 'read';
      entry = {
        name,
        sql,
        dialect,
        count: 0,
        maxMs: 0,
        avgMs: 0,
        lastMs: 0,
        totalMs: 0,
        planAttempts: 0,
        firstSeenAt: now,
        lastSeenAt: now,
        planStatus: read ? 'not-planned' : 'not-a-read',
        findings: [],
      };
      if (this.#entries.size >= this.#s.maxEntries) {
        const oldest = this.#entries.keys().next().value;
        if (oldest !== undefined) this.#entries.delete(oldest);
      }
    } else {
      this.#entries.delete(sql);
    }
    this.#entries.set(sql, entry);
    entry.name = name;
    entry.count++;
    entry.totalMs += durationMs;
    entry.avgMs = entry.totalMs / entry.count;
    entry.maxMs = Math.max(entry.maxMs, durationMs);
    entry.lastMs = durationMs;
    entry.lastSeenAt = now;
    const due =
      entry.planStatus === 'not-planned' ||
      (entry.planStatus === 'failed' && entry.planAttempts < PLAN_ATTEMPTS);
    if (this.#s.explain && due && !this.#closed && this.#explaining < this.#s.maxConcurrentExplains) {
      this.#plan(entry, query);
    }
  }

  /** The captured statements, most recently seen first (copies). */
  entries(): SlowQueryEntry[] {
    return [...this.#entries.values()]
      .reverse()
      .map(({ totalMs: _t, planAttempts: _a, ...e }) => ({ ...e, findings: [...e.findings] }));
  }

  /** Waits for the EXPLAINs in flight. */
  async settle(): Promise<void> {
    while (this.#running.size > 0) await Promise.all(this.#running);
  }

  /** Starts no more EXPLAINs and waits for those in flight (the Database's close). */
  close(): Promise<void> {
    this.#closed = true;
    return this.settle();
  }

  #plan(entry: StoredEntry, query: SqlQuery): void {
    entry.planStatus = 'pending';
    entry.planAttempts++;
    this.#explaining++;
    const { dialect, clock, run, logger } = this.#deps;
    const controller = new AbortController();
    const cancel = clock.setTimer(this.#s.explainTimeoutMs, () => controller.abort());
    // The parameters live only in this closure, for the EXPLAIN: they are not stored.
    const secrets = parameterTexts(query.parameters);
    const running = run(controller.signal, (conn) =>
      explainPlan(dialect, query, conn, this.#s.explainTimeoutMs, this.#explainState),
    )
      .then(
        ({ plan, tableRows }) => {
          const redacted = redactPlan(plan, dialect, secrets);
          const bytes = JSON.stringify(redacted)?.length ?? 0;
          // A plan of a statement over many tables can run to megabytes; its findings are kept all the same.
          entry.plan =
            bytes <= MAX_PLAN_CHARS
              ? redacted
              : { omitted: `plan of ${bytes} characters, over ${MAX_PLAN_CHARS}` };
          entry.planStatus = 'planned';
          delete entry.planError;
          entry.findings = planFindings(dialect, redacted, {
            largeTableRows: this.#s.largeTableRows,
            sql: entry.sql,
            ...(tableRows ? { tableRows } : {}),
          });
        },
        (error: unknown) => {
          entry.planStatus = 'failed';
          const message = error instanceof Error ? error.message : String(error);
          entry.planError = redactSqlLiterals(
            secrets.reduce((m, s) => m.split(s).join('?'), message),
            dialect,
          );
          logger.debug({ name: entry.name, err: entry.planError }, 'slow query: EXPLAIN failed');
        },
      )
      .finally(() => {
        cancel();
        this.#explaining--;
        this.#running.delete(running);
      });
    this.#running.add(running);
  }
}

function checkOptions(o: SlowQueryOptions): Settings {
  if (typeof o !== 'object' || o === null) {
    throw new InvalidArgumentError('createDatabase: `slowQueries` must be true, false or an options object');
  }
  const nonNegative = (key: keyof SlowQueryOptions, value: number | undefined, fallback: number): number => {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new InvalidArgumentError(`createDatabase: \`slowQueries.${key}\` must be a non-negative number`);
    }
    return value;
  };
  const positiveInt = (key: keyof SlowQueryOptions, value: number | undefined, fallback: number): number => {
    if (value === undefined) return fallback;
    if (!Number.isInteger(value) || value < 1) {
      throw new InvalidArgumentError(`createDatabase: \`slowQueries.${key}\` must be a positive integer`);
    }
    return value;
  };
  const sampleRate = nonNegative('sampleRate', o.sampleRate, 1);
  if (sampleRate > 1)
    throw new InvalidArgumentError('createDatabase: `slowQueries.sampleRate` must be between 0 and 1');
  return {
    thresholdMs: nonNegative('thresholdMs', o.thresholdMs, 200),
    sampleRate,
    maxEntries: positiveInt('maxEntries', o.maxEntries, 100),
    explain: o.explain ?? true,
    maxConcurrentExplains: positiveInt('maxConcurrentExplains', o.maxConcurrentExplains, 2),
    explainTimeoutMs: positiveInt('explainTimeoutMs', o.explainTimeoutMs, 2000),
    largeTableRows: nonNegative('largeTableRows', o.largeTableRows, 10_000),
    random: o.random ?? Math.random,
  };
}
