import { abortReason, raceSignal } from '../core/abort.js';
import type { Clock } from '../core/clock.js';
import { InvalidArgumentError } from '../core/errors.js';
import type { ConnectionPool, PoolStats, Slot } from './connection-pool.js';
import type { DriverConnection } from './dialect-driver.js';
import { DatabaseError, DbErrorCode } from './errors.js';
import { statementKind } from './statement-kind.js';
import type { DialectName, ExecResult, SqlQuery } from './types.js';

/** What `createDatabase({ pipeline })` sets; see docs/database.md, "Pipelined statements". */
export interface PipelineOptions {
  /** Connections of the pool that pipelined statements share, at most (default 4; always below `max`). */
  connections?: number;
  /** Statements in flight on one pipelined connection at most; more wait (default 32). */
  depth?: number;
  /**
   * Which statements outside transactions are pipelined: `'reads'` (default) or `'all'`, writes too.
   * Autocommit writes on a few connections wait for each other's commit flush; see the docs' figures.
   */
  statements?: 'reads' | 'all';
}

export interface PipelinedPoolOptions extends PipelineSettings {
  dialect: DialectName;
  /** The pool holds only the pipeline's connections (MySQL's `mariadb` connections): ended with it. */
  ownsPool: boolean;
  /** The pool's `max`: the pipeline never holds all of it while others wait. */
  poolMax: number;
  acquireTimeoutMs: number;
  clock: Clock;
  /** Runs one statement on a connection, with metrics and error mapping; rejects with a DatabaseError. */
  run<R>(conn: DriverConnection, query: SqlQuery, name: string): Promise<ExecResult<R>>;
  /** The driver's mapping of a failure to get a connection (so waiting statements reject with a DatabaseError). */
  mapError?(error: unknown): unknown;
}

export interface PipelineStats {
  /** Connections held for pipelined statements now. */
  connections: number;
  /** Statements sent and not yet answered. */
  inFlight: number;
  /** Statements waiting for a connection or for room on one. */
  waiting: number;
  /** Statements sent pipelined since the database opened (each read sent again counts again). */
  sent: number;
  /** Reads sent again on another connection after theirs broke. */
  resent: number;
  /** Writes in flight on a connection that broke (rejected with ERR_DB_WRITE_UNKNOWN). */
  writesUnknown: number;
  /** The pipeline's own pool, where it has one (MySQL/MariaDB). */
  pool?: PoolStats;
}

/** A pool connection held for pipelined statements. */
interface Lane {
  readonly slot: Slot<DriverConnection>;
  inFlight: number;
  /** Takes no more statements (broken, past its lifetime, or given back); given back once drained. */
  closed: boolean;
}

/** One statement handed to the pipeline, through its re-sends. */
interface Statement {
  readonly query: SqlQuery;
  readonly name: string;
  readonly read: boolean;
  readonly signal: AbortSignal | undefined;
  /** Sends so far (a read goes again when its connection breaks). */
  attempt: number;
}

interface Waiting {
  readonly st: Statement;
  readonly since: number;
  readonly deadline: number;
  resolve(result: Promise<ExecResult<unknown>>): void;
  reject(error: unknown): void;
  detach: (() => void) | undefined;
}

/** How many times a read is sent in all when connections keep breaking under it. */
const READ_ATTEMPTS = 3;
const LANE_LABEL = 'pipeline';

/**
 * Statements outside transactions, sent over a few connections of the pool without waiting for earlier
 * answers (PostgreSQL's extended protocol with one Sync per statement, so each succeeds or fails alone).
 * Transactions and session-bound statements keep taking exclusive connections from the same pool.
 *
 * A connection is taken from the pool when the statements in flight need it and given back when its
 * last statement is answered, so the pool's `max`, lifetime, validation, eviction and exhaustion report
 * still govern every connection. A statement goes to the connection with the fewest in flight; when all
 * have `depth`, it waits (in order) up to `acquireTimeoutMs`. A statement started after a write in the
 * same synchronous run follows the write onto its connection, so it runs after it.
 *
 * When a connection breaks, only its statements in flight fail: reads are sent again on another
 * connection; writes reject with ERR_DB_WRITE_UNKNOWN (they may have been applied).
 */
export class PipelinedPool {
  readonly #pool: ConnectionPool<DriverConnection>;
  readonly #o: PipelinedPoolOptions;
  readonly #lanes: Lane[] = [];
  readonly #queue: Waiting[] = [];
  #acquiring = false;
  #inFlight = 0;
  #sent = 0;
  #resent = 0;
  #writesUnknown = 0;
  #closed = false;
  #turnLane: Lane | undefined;
  #cancelTimer: (() => void) | undefined;
  #drained: Array<() => void> = [];

  constructor(pool: ConnectionPool<DriverConnection>, options: PipelinedPoolOptions) {
    this.#pool = pool;
    this.#o = options;
  }

  /**
   * How a statement outside a transaction would run here: `'read'` or `'write'` when pipelined,
   * undefined when it needs a connection of its own. `readOnly` overrides what the text says.
   */
  kindOf(sql: string, readOnly: boolean | undefined): 'read' | 'write' | undefined {
    const kind = statementKind(sql, this.#o.dialect);
    if (kind === 'exclusive') return undefined;
    const read = readOnly ?? kind === 'read';
    if (read) return 'read';
    return this.#o.writes ? 'write' : undefined;
  }

  /** Sends a statement on a pipelined connection; settles with its result or its error alone. */
  submit<R>(
    query: SqlQuery,
    name: string,
    read: boolean,
    signal: AbortSignal | undefined,
  ): Promise<ExecResult<R>> {
    return this.#submit<R>({ query, name, read, signal, attempt: 0 });
  }

  #submit<R>(st: Statement): Promise<ExecResult<R>> {
    if (this.#closed) return Promise.reject(closedError());
    if (st.signal?.aborted) return Promise.reject(abortReason(st.signal));
    const lane = this.#pick(st.name);
    if (lane !== undefined) return this.#send<R>(lane, st);
    return this.#wait<R>(st);
  }

  stats(): PipelineStats {
    const stats: PipelineStats = {
      connections: this.#lanes.length,
      inFlight: this.#inFlight,
      waiting: this.#queue.length,
      sent: this.#sent,
      resent: this.#resent,
      writesUnknown: this.#writesUnknown,
    };
    if (this.#o.ownsPool) stats.pool = this.#pool.stats();
    return stats;
  }

  /** With a pool of its own: opens one connection now, so a wrong setup fails at start. */
  async checkConnect(): Promise<void> {
    if (!this.#o.ownsPool) return;
    const slot = await this.#pool.acquire('connect');
    this.#pool.release(slot);
  }

  /** Resolves once nothing is in flight or waiting. */
  drain(): Promise<void> {
    if (this.#inFlight === 0 && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drained.push(resolve));
  }

  /**
   * Refuses new statements, fails the waiting ones, and gives back connections as they drain; a pool
   * of its own is ended (busy connections too: called once in-flight work has had its time).
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    for (const w of this.#queue.splice(0)) {
      w.detach?.();
      w.reject(closedError());
    }
    for (const lane of [...this.#lanes]) this.#retire(lane);
    this.#checkDrained();
    if (this.#o.ownsPool) await this.#pool.destroyAll();
  }

  /** The connection for a new statement, or undefined when it must wait. */
  #pick(name: string): Lane | undefined {
    const turn = this.#turnLane;
    if (turn !== undefined && !turn.closed) return turn;
    // Waiting statements go first.
    if (this.#queue.length > 0 || this.#yielding()) return undefined;
    const lanes = this.#lanes;
    let best: Lane | undefined;
    if (lanes.length > 0) {
      const now = this.#o.clock.now();
      for (let i = lanes.length - 1; i >= 0; i--) {
        const lane = lanes[i]!;
        if (now >= lane.slot.expiresAt || lane.slot.conn.broken) {
          this.#retire(lane);
          continue;
        }
        if (best === undefined || lane.inFlight < best.inFlight) best = lane;
      }
    }
    if (best === undefined || best.inFlight > 0) {
      const fresh = this.#grow(name);
      if (fresh !== undefined) return fresh;
    }
    return best !== undefined && best.inFlight < this.#o.depth ? best : undefined;
  }

  /**
   * One more connection: at once when the pool has one idle and ready; otherwise asks the pool (and the
   * statement waits) when none is held, or when the pool can lend one without making others wait.
   */
  #grow(name: string): Lane | undefined {
    if (this.#closed || this.#acquiring || this.#lanes.length >= this.#o.connections) return undefined;
    const slot = this.#pool.tryAcquire(LANE_LABEL);
    if (slot !== undefined) return this.#addLane(slot);
    if (this.#lanes.length === 0 || this.#pool.lendable()) this.#acquire(name);
    return undefined;
  }

  /** Asks the pool for a connection on behalf of the waiting statement `name` (the exhaustion report names it). */
  #acquire(name: string): void {
    this.#acquiring = true;
    const started = this.#o.clock.now();
    this.#pool.acquire(name).then(
      (slot) => {
        this.#acquiring = false;
        slot.holder = LANE_LABEL;
        if (this.#closed) {
          this.#pool.release(slot, false, false);
          return;
        }
        const lane = this.#addLane(slot);
        this.#fill(lane);
        // Asked for while statements were in flight, it may find none left to take: back it goes.
        if (lane.inFlight === 0) this.#retire(lane);
        else this.#growForWaiting();
      },
      (error: unknown) => {
        this.#acquiring = false;
        if (this.#lanes.length > 0) {
          // Statements still have connections to wait for; the timer fails those that wait too long.
          return;
        }
        // Nobody can serve the statements that waited for this: they fail with the pool's reason.
        const queue = this.#queue;
        for (let i = 0; i < queue.length; ) {
          const w = queue[i]!;
          if (w.since <= started) {
            queue.splice(i, 1);
            w.detach?.();
            w.reject(this.#o.mapError?.(error) ?? error);
          } else i++;
        }
        this.#growForWaiting();
        this.#checkDrained();
      },
    );
  }

  /** A connection for the statements waiting, if any (asked for on behalf of the oldest). */
  #growForWaiting(): void {
    const head = this.#queue[0];
    if (head !== undefined) this.#grow(head.st.name);
  }

  #addLane(slot: Slot<DriverConnection>): Lane {
    slot.conn.setPipelined?.(true);
    const lane: Lane = { slot, inFlight: 0, closed: false };
    this.#lanes.push(lane);
    return lane;
  }

  /**
   * While the pipeline holds every connection the pool may have (its `max`, or its adaptive limit now)
   * and others wait for one, it lets one go.
   */
  #yielding(): boolean {
    return this.#lanes.length >= Math.min(this.#o.poolMax, this.#pool.limit) && this.#pool.waiting > 0;
  }

  #send<R>(lane: Lane, st: Statement): Promise<ExecResult<R>> {
    this.#sent++;
    lane.inFlight++;
    this.#inFlight++;
    st.attempt++;
    if (!st.read) this.#followWrite(lane);
    const running = this.#o.run<R>(lane.slot.conn, st.query, st.name).then(
      (res) => {
        this.#settle(lane);
        return res;
      },
      (error: unknown) => this.#failed<R>(lane, error, st),
    );
    // A read whose caller gives up is answered all the same; the answer is dropped. A write is awaited
    // to the end: its caller learns whether it was applied.
    return st.signal !== undefined && st.read ? raceSignal(running, st.signal) : running;
  }

  /** Statements started after a write in the same synchronous run go where the write went. */
  #followWrite(lane: Lane): void {
    if (this.#turnLane === undefined) queueMicrotask(this.#endTurn);
    this.#turnLane = lane;
  }

  readonly #endTurn = (): void => {
    this.#turnLane = undefined;
  };

  #settle(lane: Lane): void {
    lane.inFlight--;
    this.#inFlight--;
    if (lane.closed) {
      if (lane.inFlight === 0) this.#giveBack(lane);
      // Its statements waiting for room now need another connection.
      if (this.#lanes.length === 0) this.#growForWaiting();
    } else if (this.#queue.length > 0 && !this.#yielding()) {
      this.#fill(lane);
    } else if (lane.inFlight === 0) {
      this.#retire(lane);
      this.#growForWaiting();
    }
    if (this.#inFlight === 0) this.#checkDrained();
  }

  #failed<R>(lane: Lane, error: unknown, st: Statement): Promise<ExecResult<R>> {
    const lost =
      lane.slot.conn.broken || (error instanceof DatabaseError && error.code === DbErrorCode.ConnectionLost);
    if (lost && !lane.closed) this.#retire(lane);
    this.#settle(lane);
    if (!lost) return Promise.reject(error);
    if (st.read) {
      if (st.attempt >= READ_ATTEMPTS) return Promise.reject(error);
      this.#resent++;
      return this.#submit<R>(st);
    }
    this.#writesUnknown++;
    const cause = error as DatabaseError;
    return Promise.reject(
      new DatabaseError(
        DbErrorCode.WriteUnknown,
        `The connection broke while "${st.name}" was in flight: the write may or may not have been applied (${cause.message})`,
        { cause, dialectCode: cause.dialectCode },
      ),
    );
  }

  /** Sends waiting statements on `lane` while it has room. */
  #fill(lane: Lane): void {
    const queue = this.#queue;
    while (queue.length > 0 && lane.inFlight < this.#o.depth && !lane.closed) {
      const w = queue.shift()!;
      w.detach?.();
      w.resolve(this.#send(lane, w.st));
    }
    if (queue.length === 0) {
      this.#cancelTimer?.();
      this.#cancelTimer = undefined;
    }
  }

  /** Stops sending on `lane`; it goes back to the pool (closed if broken or old) once drained. */
  #retire(lane: Lane): void {
    lane.closed = true;
    const i = this.#lanes.indexOf(lane);
    if (i >= 0) this.#lanes.splice(i, 1);
    if (this.#turnLane === lane) this.#turnLane = undefined;
    if (lane.inFlight === 0) this.#giveBack(lane);
  }

  #giveBack(lane: Lane): void {
    const conn = lane.slot.conn;
    if (!conn.broken) conn.setPipelined?.(false);
    // Held while statements kept coming: no measure of the database's latency for an adaptive pool.
    this.#pool.release(lane.slot, conn.broken, false);
  }

  #wait<R>(st: Statement): Promise<ExecResult<R>> {
    const signal = st.signal;
    return new Promise<ExecResult<unknown>>((resolve, reject) => {
      const since = this.#o.clock.now();
      const w: Waiting = {
        st,
        since,
        deadline: since + this.#o.acquireTimeoutMs,
        resolve,
        reject,
        detach: undefined,
      };
      if (signal !== undefined) {
        const onAbort = (): void => {
          const i = this.#queue.indexOf(w);
          if (i >= 0) this.#queue.splice(i, 1);
          reject(abortReason(signal));
          this.#checkDrained();
        };
        signal.addEventListener('abort', onAbort, { once: true });
        w.detach = () => signal.removeEventListener('abort', onAbort);
      }
      this.#queue.push(w);
      this.#armTimer(since);
      if (this.#lanes.length === 0) this.#grow(st.name);
    }) as Promise<ExecResult<R>>;
  }

  /**
   * One timer, for the oldest waiting statement's deadline. Statements waiting for room on held
   * connections fail with ERR_DB_POOL_EXHAUSTED when it passes; while no connection is held, the
   * pool's own acquisition (same timeout) decides, and its exhaustion report names the holders.
   */
  #armTimer(now: number): void {
    if (this.#cancelTimer !== undefined) return;
    const head = this.#queue[0];
    if (head === undefined) return;
    this.#cancelTimer = this.#o.clock.setTimer(Math.max(1, head.deadline - now), this.#expire);
  }

  readonly #expire = (): void => {
    this.#cancelTimer = undefined;
    const now = this.#o.clock.now();
    const queue = this.#queue;
    if (this.#lanes.length > 0) {
      while (queue.length > 0 && queue[0]!.deadline <= now) {
        const w = queue.shift()!;
        w.detach?.();
        w.reject(this.#exhaustedError(w.st.name));
      }
    }
    if (this.#lanes.length === 0) this.#growForWaiting();
    const head = queue[0];
    if (head !== undefined) {
      const next = head.deadline > now ? head.deadline - now : this.#o.acquireTimeoutMs;
      this.#cancelTimer = this.#o.clock.setTimer(Math.max(1, next), this.#expire);
    }
    this.#checkDrained();
  };

  #exhaustedError(name: string): DatabaseError {
    const { depth, acquireTimeoutMs } = this.#o;
    const connections = this.#lanes.length;
    return new DatabaseError(
      DbErrorCode.PoolExhausted,
      `No room for "${name}" within ${acquireTimeoutMs} ms: ${connections} pipelined connection(s) with ${depth} statements in flight each, ${this.#queue.length} more waiting`,
      { details: { connections, depth, waiting: this.#queue.length, acquireTimeoutMs } },
    );
  }

  #checkDrained(): void {
    if (this.#inFlight !== 0 || this.#queue.length !== 0 || this.#drained.length === 0) return;
    for (const resolve of this.#drained.splice(0)) resolve();
  }
}

function closedError(): DatabaseError {
  return new DatabaseError(DbErrorCode.Closed, 'The database is closed');
}

export interface PipelineSettings {
  connections: number;
  depth: number;
  writes: boolean;
}

/**
 * The settings of a `pipeline` option other than `false`, its connections capped at `cap` (and at
 * least 1). Throws ERR_INVALID_ARGUMENT for a malformed option.
 */
export function pipelineSettings(option: true | PipelineOptions | undefined, cap: number): PipelineSettings {
  const o: PipelineOptions = option === undefined || option === true ? {} : option;
  if (typeof o !== 'object' || o === null) {
    throw new InvalidArgumentError('createDatabase: `pipeline` must be a boolean or an object');
  }
  const connections = o.connections ?? 4;
  const depth = o.depth ?? 32;
  if (!Number.isInteger(connections) || connections < 1) {
    throw new InvalidArgumentError('createDatabase: `pipeline.connections` must be a positive integer');
  }
  if (!Number.isInteger(depth) || depth < 1) {
    throw new InvalidArgumentError('createDatabase: `pipeline.depth` must be a positive integer');
  }
  if (o.statements !== undefined && o.statements !== 'reads' && o.statements !== 'all') {
    throw new InvalidArgumentError("createDatabase: `pipeline.statements` must be 'reads' or 'all'");
  }
  return {
    connections: Math.max(1, Math.min(connections, cap)),
    depth,
    writes: o.statements === 'all',
  };
}
