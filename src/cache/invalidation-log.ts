import type { Invalidation } from './cache-bus.js';

/** Invalidations remembered; a load that outlives this many is never stored in L1. */
const CAPACITY = 1024;

/**
 * The invalidations applied in this process (its own and those received on the bus), numbered 1, 2, 3...
 * A read or load notes `seq` when it starts; before its result goes into L1, `touchedSince` tells whether
 * an invalidation applied since touches the entry's key or tags. These are the "local generations";
 * Redis keeps the shared ones.
 */
export class InvalidationLog {
  #seq = 0;
  readonly #ring: Array<Invalidation | undefined> = new Array(CAPACITY);

  /** The number of the last invalidation applied (0 before any). */
  get seq(): number {
    return this.#seq;
  }

  record(inv: Invalidation): void {
    this.#seq++;
    this.#ring[this.#seq % CAPACITY] = inv;
  }

  /** True if an invalidation recorded after `seq` touches `key` or one of `tags` (or is too old to tell). */
  touchedSince(seq: number, key: string, tags: readonly string[]): boolean {
    const last = this.#seq;
    if (last === seq) return false;
    if (last - seq >= CAPACITY) return true;
    for (let s = seq + 1; s <= last; s++) {
      const inv = this.#ring[s % CAPACITY];
      if (inv === undefined || inv.all || inv.keys.includes(key)) return true;
      for (const t of tags) if (inv.tags.includes(t)) return true;
    }
    return false;
  }
}
