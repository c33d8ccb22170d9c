import type { Clock } from '../core/clock.js';

/**
 * Where a read outside a transaction may go when the database has read replicas:
 * - `'read-your-writes'` (default): a replica that has replayed the caller's latest write, else the primary;
 * - `'eventual'`: any replica that is up and within `maxReplicaLagMs`, whatever the caller wrote;
 * - `'primary'`: the primary.
 */
export type ReadConsistency = 'read-your-writes' | 'primary' | 'eventual';

/**
 * What one caller (a Database, or a session of one) has written: the WAL position a replica must have
 * replayed before it serves that caller's reads.
 */
export class WriteMark {
  /** The highest commit position of the caller's writes (0 before any). */
  position = 0n;
  /** Writes that have finished whose position is still being read: their reads go to the primary. */
  pending = 0;
  #waiters: Array<() => void> = [];
  /**
   * A write whose position could not be read finished at this time (clock ms): the caller's reads go to
   * the primary until a position read from the primary after that time stands in for it.
   */
  unknownSince: number | undefined;

  /** A finished write's position is being read. */
  begin(): void {
    this.pending++;
  }

  /** …and has been read (or could not be). */
  end(): void {
    this.pending--;
    if (this.pending === 0 && this.#waiters.length > 0) for (const w of this.#waiters.splice(0)) w();
  }

  /** Resolves once no write's position is being read. */
  settled(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

export type ReplicaState = 'unknown' | 'ok' | 'lagging' | 'unreachable' | 'not_replica';

/** One replica as `db.metrics().replicas` reports it. */
export interface ReplicaStatus {
  /** `host:port` (never the user or password); a second replica on the same address gets `#2`. */
  name: string;
  /** `unknown` until first checked; `not_replica` when the server is not in recovery (it is skipped). */
  state: ReplicaState;
  /** How far behind the primary it was at its last check, in ms (undefined until known). */
  lagMs: number | undefined;
  /** Reads it served. */
  reads: number;
  /** Reads that passed it over because it was unreachable (or not checked yet) / lagging. */
  skipped: { unreachable: number; lagging: number };
  /** Reads that failed on it (connection lost, conflict with recovery) and ran again on the primary. */
  failovers: number;
}

export interface ReplicaStats {
  /** Reads outside transactions by where they ran. */
  reads: { primary: number; replica: number };
  /** Reads that went to the primary because no usable replica had replayed the caller's latest write. */
  readYourWritesFallbacks: number;
  replicas: ReplicaStatus[];
}

export interface ReplicaRouterOptions {
  clock: Clock;
  /** A replica further behind than this is skipped. */
  maxLagMs: number;
  /** A replica not checked successfully for this long counts as unreachable. */
  staleAfterMs: number;
  /** The primary takes its share of reads too (round robin with the usable replicas). */
  readFromPrimary: boolean;
  /** Asks for a fresh replay position of replica `index` (it was behind a caller's write). */
  refresh(index: number): void;
}

interface Replica {
  status: ReplicaStatus;
  /** Replay position at the last check. */
  replayed: bigint;
  /** Clock time of the last successful check. */
  checkedAt: number;
}

/** Earliest time the primary was seen at `position` or beyond (merged to at most one per `spacing`). */
interface Sample {
  at: number;
  position: bigint;
}

const MAX_SAMPLES = 256;
const PRIMARY = -1;
const NONE = -2;
const NEVER = 2n ** 64n;

/**
 * Decides where each read goes, from what the checks of the primary and the replicas have reported.
 * No I/O: ReplicaSet runs the checks and the statements. Lag is measured on the injected clock, not
 * from server timestamps: the primary's WAL position is sampled (by the periodic check and by every
 * write's position), and a replica that has replayed up to P is behind by the time since the primary
 * was first seen past P (0 when it has replayed everything seen). So an idle primary shows no lag, and
 * the clocks of the servers do not matter.
 */
export class ReplicaRouter {
  readonly #o: ReplicaRouterOptions;
  readonly #replicas: Replica[];
  readonly #samples: Sample[] = [];
  readonly #spacingMs: number;
  /** The latest position read from the primary, and when that read was sent. */
  #latest: { sentAt: number; position: bigint } | undefined;
  #cursor = 0;
  #readsPrimary = 0;
  #readsReplica = 0;
  #rywFallbacks = 0;

  constructor(names: readonly string[], options: ReplicaRouterOptions) {
    this.#o = options;
    this.#spacingMs = Math.max(1, Math.floor(options.maxLagMs / 50));
    this.#replicas = names.map((name) => ({
      status: {
        name,
        state: 'unknown',
        lagMs: undefined,
        reads: 0,
        skipped: { unreachable: 0, lagging: 0 },
        failovers: 0,
      },
      replayed: 0n,
      checkedAt: Number.NEGATIVE_INFINITY,
    }));
  }

  get size(): number {
    return this.#replicas.length;
  }

  name(index: number): string {
    return this.#replicas[index]!.status.name;
  }

  /** The primary was at `position` or beyond at `receivedAt`; the read that said so was sent at `sentAt`. */
  notePrimaryPosition(position: bigint, sentAt: number, receivedAt: number = this.#o.clock.now()): void {
    if (this.#latest === undefined || sentAt >= this.#latest.sentAt) {
      const known = this.#latest?.position ?? 0n;
      this.#latest = { sentAt, position: position > known ? position : known };
    }
    const samples = this.#samples;
    const last = samples[samples.length - 1];
    if (last !== undefined && position <= last.position) return;
    if (last !== undefined && receivedAt - last.at < this.#spacingMs) {
      // Merged: the earlier time stands for the higher position (a lag a little too long, never too short).
      last.position = position;
      return;
    }
    samples.push({ at: receivedAt, position });
    if (samples.length > MAX_SAMPLES) samples.shift();
  }

  /** A caller's write committed at or before `position`. */
  noteWrite(mark: WriteMark, position: bigint, sentAt: number): void {
    if (position > mark.position) mark.position = position;
    this.notePrimaryPosition(position, sentAt);
  }

  /** Replica `index` answered its check at `at`: in recovery, replayed up to `replayed`. */
  noteReplayed(index: number, replayed: bigint, at: number = this.#o.clock.now()): void {
    const r = this.#replicas[index]!;
    if (replayed > r.replayed || r.status.state !== 'ok') r.replayed = replayed;
    r.checkedAt = at;
    const lagMs = this.#lagAt(r.replayed, at);
    r.status.lagMs = lagMs;
    r.status.state = lagMs > this.#o.maxLagMs ? 'lagging' : 'ok';
  }

  /** Replica `index` could not be reached (or failed its check); it is skipped until a check succeeds. */
  noteUnreachable(index: number): void {
    const r = this.#replicas[index]!;
    r.status.state = 'unreachable';
    r.checkedAt = Number.NEGATIVE_INFINITY;
  }

  /** Replica `index` answered but is not in recovery (a primary, or promoted): it is skipped. */
  noteNotReplica(index: number): void {
    const r = this.#replicas[index]!;
    r.status.state = 'not_replica';
    r.status.lagMs = undefined;
    r.checkedAt = this.#o.clock.now();
  }

  /** A read failed on replica `index` and runs again on the primary. */
  noteFailover(index: number, connectionLost: boolean): void {
    const r = this.#replicas[index]!;
    r.status.failovers++;
    r.status.reads--;
    this.#readsReplica--;
    this.#readsPrimary++;
    if (connectionLost) this.noteUnreachable(index);
  }

  /**
   * Where a read goes: the index of a replica, or -1 for the primary. With `'read-your-writes'`, a
   * replica must have replayed `mark`'s position; one that is only behind it is asked for a fresh
   * position (so the caller's next reads can use it), and this read goes to the primary.
   */
  route(mark: WriteMark | undefined, consistency: ReadConsistency): number {
    if (consistency === 'primary' || this.#replicas.length === 0) {
      this.#readsPrimary++;
      return PRIMARY;
    }
    const required = consistency === 'eventual' || mark === undefined ? 0n : this.#required(mark);
    const now = this.#o.clock.now();
    const replicas = this.#replicas;
    const n = replicas.length;
    // Round robin over the usable replicas (and the primary, as member n, when it reads too): the first
    // usable one from the cursor on. Every replica is looked at, so the skip counts are per read.
    const ring = this.#o.readFromPrimary ? n + 1 : n;
    const start = this.#cursor % ring;
    this.#cursor = (start + 1) % ring;
    let chosen = NONE;
    let distance = ring;
    let behind = false;
    for (let i = 0; i < n; i++) {
      const r = replicas[i]!;
      const s = r.status;
      if (s.state === 'lagging') {
        s.skipped.lagging++;
        continue;
      }
      if (s.state !== 'ok' || now - r.checkedAt > this.#o.staleAfterMs) {
        s.skipped.unreachable++;
        continue;
      }
      if (r.replayed < required) {
        behind = true;
        this.#o.refresh(i);
        continue;
      }
      const d = (i - start + ring) % ring;
      if (d < distance) {
        distance = d;
        chosen = i;
      }
    }
    if (chosen === NONE) {
      if (behind && chosen === NONE) this.#rywFallbacks++;
      this.#readsPrimary++;
      return PRIMARY;
    }
    if (this.#o.readFromPrimary && (n - start + ring) % ring < distance) {
      this.#readsPrimary++;
      return PRIMARY;
    }
    replicas[chosen]!.status.reads++;
    this.#readsReplica++;
    return chosen;
  }

  /** The position `mark`'s reads need (beyond any replica while one of its writes has no position yet). */
  #required(mark: WriteMark): bigint {
    if (mark.pending > 0) return NEVER;
    if (mark.unknownSince !== undefined) {
      const latest = this.#latest;
      if (latest === undefined || latest.sentAt <= mark.unknownSince) return NEVER;
      if (latest.position > mark.position) mark.position = latest.position;
      mark.unknownSince = undefined;
    }
    return mark.position;
  }

  /** How long before `at` the primary was first seen past `replayed` (0 when it never was). */
  #lagAt(replayed: bigint, at: number): number {
    for (const sample of this.#samples) {
      if (sample.position > replayed) return Math.max(0, at - sample.at);
    }
    return 0;
  }

  stats(): ReplicaStats {
    return {
      reads: { primary: this.#readsPrimary, replica: this.#readsReplica },
      readYourWritesFallbacks: this.#rywFallbacks,
      replicas: this.#replicas.map((r) => ({
        ...r.status,
        skipped: { ...r.status.skipped },
      })),
    };
  }
}
