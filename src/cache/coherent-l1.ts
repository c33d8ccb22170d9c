import type { Invalidation } from './cache-bus.js';
import { entryFromStored } from './cache-entry.js';
import { InvalidationLog } from './invalidation-log.js';
import type { L2Hit } from './l2-hit.js';
import type { L1Entry, MemoryStore } from './memory-store.js';
import { encode } from './serializer.js';

/** Epoch of entries stored while L1 is untrusted: never equal to a live epoch, so only usable as fallback. */
const UNTRUSTED = -1;

/** Where refresh-ahead starts in an entry's life: its last `fraction`, measured on `now`. */
export interface RefreshAheadPoint {
  fraction: number;
  now: () => number;
}

/**
 * Where a read or load started: the coherence epoch and the invalidation log's sequence. Before its
 * result goes into L1, the invalidations applied since are checked against the entry's key and tags.
 */
export interface Watch {
  epoch: number;
  seq: number;
}

/**
 * L1 and what decides whether it may serve and store. An entry serves as a hit only while its epoch is
 * the current one, L1 is trusted, and the bus was heard from recently enough (`freshUntil`); a bus gap or
 * outage moves the epoch on. A read or load stores its result only if no invalidation applied since it
 * began touches the entry. The hit path reads `entries`, `epoch` and `freshUntil` directly.
 */
export class CoherentL1 {
  /** The entries, or undefined for a cache without L1. */
  readonly entries: MemoryStore | undefined;
  /** L1 entries are trusted only when their epoch equals this; a gap or bus outage moves it on. */
  epoch = 0;
  /** False while an invalidation could be missed (bus not subscribed): L1 is then fallback-only. */
  trusted: boolean;
  /**
   * L1 may serve until this time (clock ms): the send time of the last bus echo heard plus the staleness
   * bound. Infinity without a bus, or with the bound off.
   */
  freshUntil = Number.POSITIVE_INFINITY;
  readonly #boundMs: number | undefined;
  readonly #log = new InvalidationLog();
  readonly #ahead: RefreshAheadPoint | undefined;

  /**
   * `withBus`: other processes invalidate through a bus, so L1 is untrusted until it is subscribed.
   * `boundMs`: the staleness bound (undefined: none); with one, L1 serves nothing until the bus is heard.
   */
  constructor(
    entries: MemoryStore | undefined,
    withBus: boolean,
    boundMs: number | undefined,
    ahead?: RefreshAheadPoint,
  ) {
    this.entries = entries;
    this.#ahead = ahead;
    this.trusted = !withBus;
    this.#boundMs = boundMs;
    if (withBus && boundMs !== undefined) this.freshUntil = Number.NEGATIVE_INFINITY;
  }

  /** Whether stored entries are sized by their encoded bytes (`maxBytes`). */
  get tracksBytes(): boolean {
    return this.entries?.tracksBytes ?? false;
  }

  watch(): Watch {
    return { epoch: this.epoch, seq: this.#log.seq };
  }

  /** True if an invalidation applied since `w` was taken touches `key` or one of `tags`. */
  invalidatedSince(w: Watch, key: string, tags: readonly string[]): boolean {
    return this.#log.touchedSince(w.seq, key, tags);
  }

  /** The epoch to stamp on an entry read or loaded under `w`: untrusted if L1 was distrusted meanwhile. */
  epochFor(w: Watch): number {
    return this.trusted && w.epoch === this.epoch ? this.epoch : UNTRUSTED;
  }

  /** The epoch to stamp on an entry written now. */
  currentEpoch(): number {
    return this.trusted ? this.epoch : UNTRUSTED;
  }

  /** Stores an L2 hit read under `w`, unless an invalidation since touches it. */
  fill(key: string, hit: L2Hit, w: Watch): void {
    const e = hit.entry;
    if (!this.entries || this.invalidatedSince(w, key, e.tags)) return;
    this.put(key, entryFromStored(e), hit.bytes, this.epochFor(w));
  }

  /** Stores `entry` stamped with `epoch`; `bytes` is its encoded size when known (else 0). */
  put(key: string, entry: L1Entry, bytes: number, epoch: number): void {
    const entries = this.entries;
    if (!entries) return;
    entry.epoch = epoch;
    const ahead = this.#ahead;
    if (ahead !== undefined) {
      // The last `fraction` of the life the entry has left now (all of its TTL when just loaded).
      entry.refreshAfter = entry.expiresAt - (entry.expiresAt - ahead.now()) * ahead.fraction;
    }
    if (entries.tracksBytes) entry.size = (bytes > 0 ? bytes : encode(entry.value).length) + 64;
    entries.set(key, entry);
  }

  /** Records an invalidation (ours, or one received on the bus) and drops what it covers. */
  apply(inv: Invalidation): void {
    this.record(inv);
    const entries = this.entries;
    if (!entries) return;
    if (inv.all) {
      entries.clear();
      return;
    }
    for (const k of inv.keys) entries.delete(k);
    for (const t of inv.tags) entries.deleteByTag(t);
  }

  /** Records an invalidation whose entries are handled by the caller (keeps loads running from storing). */
  record(inv: Invalidation): void {
    this.#log.record(inv);
  }

  /** The bus is subscribed: what is stored from now on is trusted. */
  busUp(): void {
    this.epoch++;
    this.trusted = true;
  }

  /** The bus dropped or missed a message: no entry stored so far is trusted again. */
  busLost(reason: 'disconnect' | 'gap'): void {
    this.epoch++;
    if (reason === 'disconnect') this.trusted = false;
  }

  /** Every invalidation published before `sentAt` has been applied here: L1 may serve until `sentAt` + bound. */
  heard(sentAt: number): void {
    const bound = this.#boundMs;
    if (bound !== undefined && sentAt + bound > this.freshUntil) this.freshUntil = sentAt + bound;
  }
}
