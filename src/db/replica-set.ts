import { timeoutSignal } from '../core/abort.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { DatabaseError, DbErrorCode } from './errors.js';
import { type ReadConsistency, ReplicaRouter, type ReplicaStats, type WriteMark } from './replica-router.js';
import type { SlowQueryEntry } from './slow-query-log.js';
import type { ExecOptions, ExecResult, SqlQuery } from './types.js';
import { parseWalPosition } from './wal-position.js';

/** Where statements run: the primary's own path, or a replica's inner database (pool and pipeline). */
export interface StatementTarget {
  execute<R>(query: SqlQuery, options?: ExecOptions): Promise<ExecResult<R>>;
}

export interface ReplicaTarget extends StatementTarget {
  /** `host:port` of the replica, for metrics and logs. */
  readonly name: string;
  /** The slow statements the replica ran (its own `slowQueries` log, planned on the replica). */
  slowQueries(): SlowQueryEntry[];
  close(): Promise<void>;
}

export interface ReplicaSetOptions {
  clock: Clock;
  logger: Logger;
  maxLagMs: number;
  /** Between checks of the primary's WAL position and each replica's replay position. */
  pollMs: number;
  /** A check that takes longer fails (the replica counts as unreachable until the next one succeeds). */
  checkTimeoutMs: number;
  readFromPrimary: boolean;
}

const PRIMARY_POSITION: SqlQuery = { sql: 'SELECT pg_current_wal_lsn()::text AS position', parameters: [] };
const REPLICA_CHECK: SqlQuery = {
  sql: 'SELECT pg_is_in_recovery() AS recovery, pg_last_wal_replay_lsn()::text AS replayed',
  parameters: [],
};

/** Failures after which a read is run again on the primary (and, the first two, mark the replica unreachable). */
const CONNECTION_CODES: ReadonlySet<string> = new Set([
  DbErrorCode.ConnectionLost,
  DbErrorCode.ConnectFailed,
]);
const FAILOVER_CODES: ReadonlySet<string> = new Set([
  ...CONNECTION_CODES,
  DbErrorCode.PoolExhausted,
  // "canceling statement due to conflict with recovery" (SQLSTATE 40001 on a hot standby).
  DbErrorCode.Serialization,
  DbErrorCode.Closed,
]);

/**
 * The read replicas of a PostgreSQL database: routes reads outside transactions (see ReplicaRouter),
 * checks the primary's and the replicas' WAL positions every `pollMs` on the clock, reads the commit
 * position of writes for read-your-writes, and runs a read that fails on a replica again on the primary.
 */
export class ReplicaSet {
  readonly router: ReplicaRouter;
  readonly #replicas: readonly ReplicaTarget[];
  readonly #primary: StatementTarget;
  readonly #o: ReplicaSetOptions;
  /** Replicas with a check in flight (one at a time each). */
  readonly #checking = new Set<number>();
  #cancelTimer: (() => void) | undefined;
  #closed = false;
  /** Last logged state per replica, so a replica that stays down is logged once. */
  readonly #logged: string[];

  constructor(replicas: readonly ReplicaTarget[], primary: StatementTarget, options: ReplicaSetOptions) {
    this.#replicas = replicas;
    this.#primary = primary;
    this.#o = options;
    this.#logged = replicas.map(() => 'ok');
    this.router = new ReplicaRouter(
      replicas.map((r) => r.name),
      {
        clock: options.clock,
        maxLagMs: options.maxLagMs,
        staleAfterMs: options.pollMs * 3 + options.checkTimeoutMs,
        readFromPrimary: options.readFromPrimary,
        refresh: (index) => {
          void this.#check(index);
        },
      },
    );
  }

  /** Checks everything once (bounded by `checkTimeoutMs`), then every `pollMs`. */
  async start(): Promise<void> {
    await this.#poll();
    this.#arm();
  }

  #arm(): void {
    if (this.#closed) return;
    this.#cancelTimer = this.#o.clock.setTimer(this.#o.pollMs, () => {
      this.#cancelTimer = undefined;
      void this.#poll().finally(() => this.#arm());
    });
  }

  /** The primary's position first, so the replicas' lag is measured against it. */
  async #poll(): Promise<void> {
    if (this.#closed) return;
    const sentAt = this.#o.clock.now();
    try {
      const position = await this.#readPosition(this.#primary, PRIMARY_POSITION, 'position');
      if (position !== undefined) this.router.notePrimaryPosition(position, sentAt);
    } catch {
      // The primary's own failures reach its callers; the replicas are checked all the same.
    }
    await Promise.all(this.#replicas.map((_, i) => this.#check(i)));
  }

  /** One check of replica `index` (none when one is in flight). */
  async #check(index: number): Promise<void> {
    if (this.#closed || this.#checking.has(index)) return;
    this.#checking.add(index);
    const replica = this.#replicas[index]!;
    const { signal, dispose } = timeoutSignal(
      this.#o.checkTimeoutMs,
      this.#o.clock,
      `No answer within ${this.#o.checkTimeoutMs} ms`,
    );
    try {
      const res = await replica.execute<{ recovery: boolean; replayed: string | null }>(REPLICA_CHECK, {
        name: 'replica.check',
        signal,
      });
      const row = res.rows[0];
      const replayed = parseWalPosition(row?.replayed);
      if (row?.recovery !== true || replayed === undefined) {
        this.router.noteNotReplica(index);
        this.#log(index, 'not_replica', 'is not in recovery (not a replica); reads skip it');
      } else {
        this.router.noteReplayed(index, replayed);
        this.#log(index, 'ok', 'is back; reads use it again');
      }
    } catch (error) {
      if (this.#closed) return;
      this.router.noteUnreachable(index);
      const why = error instanceof Error ? error.message : String(error);
      this.#log(index, 'unreachable', `cannot be checked (${why}); reads skip it until it answers`);
    } finally {
      dispose();
      this.#checking.delete(index);
    }
  }

  #log(index: number, state: string, message: string): void {
    if (this.#logged[index] === state) return;
    this.#logged[index] = state;
    const replica = this.#replicas[index]!.name;
    if (state === 'ok') this.#o.logger.info({ replica }, `read replica ${replica} ${message}`);
    else this.#o.logger.warn({ replica }, `read replica ${replica} ${message}`);
  }

  /** The primary's WAL position, bounded by `checkTimeoutMs` (a primary that hangs holds nothing up). */
  async #readPosition(target: StatementTarget, query: SqlQuery, column: string): Promise<bigint | undefined> {
    const { signal, dispose } = timeoutSignal(this.#o.checkTimeoutMs, this.#o.clock);
    try {
      const res = await target.execute<Record<string, unknown>>(query, { name: 'replica.position', signal });
      return parseWalPosition(res.rows[0]?.[column]);
    } finally {
      dispose();
    }
  }

  /**
   * A read outside a transaction: on the replica the router picks, or on the primary. A read that fails
   * on a replica for a reason the primary would not share (the connection, a conflict with recovery, a
   * busy pool) runs again on the primary.
   */
  read<R>(
    query: SqlQuery,
    options: ExecOptions | undefined,
    mark: WriteMark,
    consistency: ReadConsistency,
  ): Promise<ExecResult<R>> {
    const index = this.router.route(mark, consistency);
    if (index < 0) return this.#primary.execute<R>(query, options);
    return this.#replicas[index]!.execute<R>(query, options).catch((error: unknown) => {
      if (this.#closed || options?.signal?.aborted) throw error;
      const code = (error as DatabaseError | undefined)?.code;
      if (!(error instanceof DatabaseError) || code === undefined || !FAILOVER_CODES.has(code)) throw error;
      const lost = CONNECTION_CODES.has(code);
      this.router.noteFailover(index, lost);
      if (lost) {
        const why = error.message;
        this.#log(index, 'unreachable', `failed a read (${why}); reads skip it until it answers`);
      }
      return this.#primary.execute<R>(query, options);
    });
  }

  /**
   * A write outside a transaction has finished (whatever its outcome: a failed one may have committed):
   * reads the primary's WAL position for `marks`, whose replica reads wait for it (they go to the
   * primary meanwhile). The caller is not held up. Writes that finish in the same turn of the event loop
   * share one read of the position (sent after all of them finished, so it covers them all).
   */
  afterWrite(marks: readonly WriteMark[]): void {
    for (const m of marks) {
      m.begin();
      this.#batch.push(m);
    }
    if (this.#batch.length === marks.length) queueMicrotask(this.#readBatchPosition);
  }

  readonly #batch: WriteMark[] = [];

  readonly #readBatchPosition = (): void => {
    const marks = this.#batch.splice(0);
    const sentAt = this.#o.clock.now();
    this.#readPosition(this.#primary, PRIMARY_POSITION, 'position').then(
      (position) => this.#settle(marks, position, sentAt),
      () => this.#settle(marks, undefined, sentAt),
    );
  };

  /** The position a transaction's COMMIT reached, read on its own connection after COMMIT (see Database). */
  noteCommit(marks: readonly WriteMark[], position: unknown, sentAt: number): void {
    for (const m of marks) m.begin();
    this.#settle(marks, parseWalPosition(position), sentAt);
  }

  /** A write whose position will not be read (a held Kysely connection): the next primary check stands in. */
  noteUnknownWrite(marks: readonly WriteMark[]): void {
    const now = this.#o.clock.now();
    for (const m of marks) m.unknownSince = now;
  }

  #settle(marks: readonly WriteMark[], position: bigint | undefined, sentAt: number): void {
    for (const m of marks) {
      if (position !== undefined) this.router.noteWrite(m, position, sentAt);
      else m.unknownSince = sentAt;
      m.end();
    }
  }

  stats(): ReplicaStats {
    return this.router.stats();
  }

  /** The slow statements of every replica. */
  slowQueries(): SlowQueryEntry[] {
    return this.#replicas.flatMap((r) => r.slowQueries());
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    await Promise.all(this.#replicas.map((r) => r.close().catch(() => undefined)));
  }
}

/** The SQL that reads the primary's WAL position (run on a transaction's connection after COMMIT). */
export const WAL_POSITION_SQL = PRIMARY_POSITION.sql;
