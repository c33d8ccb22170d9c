import { LRUCache } from 'lru-cache';

/** An L1 entry. `epoch` ties it to the cache's coherence epoch: a gap or bus outage moves the epoch on. */
export interface L1Entry {
  value: unknown;
  /** Fresh until (clock ms). */
  expiresAt: number;
  /** Usable as a stale value (grace, fail-safe) until (clock ms). */
  staleUntil: number;
  tags: readonly string[];
  epoch: number;
  /** Bytes counted against `maxBytes` (encoded size plus a fixed overhead). */
  size: number;
  /** The value as a settled promise, made on the first hit and reused: L1 hits allocate nothing. */
  resolved?: Promise<unknown> | undefined;
  /** L1 hits since stored: how hot the key is (refresh-ahead reloads only hot entries). */
  hits: number;
  /** From this time (clock ms) a hit may reload the entry before it expires; Infinity: never. */
  refreshAfter: number;
}

export interface MemoryStoreOptions {
  /** Most entries held (default 10,000). */
  maxEntries?: number;
  /** Most bytes held, counted as the MessagePack size of each value plus 64 (default: unbounded). */
  maxBytes?: number;
}

/**
 * lru-cache bounded by entries and bytes, plus a tag → keys index so that an invalidation removes every L1
 * copy of a tag without scanning. Expiry is checked by the caller against the injected Clock (lru-cache's
 * own TTL reads performance.now and could not be driven by a FakeClock).
 */
export class MemoryStore {
  readonly #lru: LRUCache<string, L1Entry>;
  readonly #byTag = new Map<string, Set<string>>();
  readonly tracksBytes: boolean;

  constructor(options: MemoryStoreOptions = {}) {
    const max = options.maxEntries ?? 10_000;
    this.tracksBytes = options.maxBytes !== undefined;
    this.#lru = new LRUCache<string, L1Entry>({
      max,
      ...(options.maxBytes !== undefined
        ? { maxSize: options.maxBytes, sizeCalculation: (entry: L1Entry) => Math.max(1, entry.size) }
        : {}),
      dispose: (entry, key) => this.#unindex(key, entry),
    });
  }

  /** The entry, marking it recently used; no expiry check. */
  get(key: string): L1Entry | undefined {
    return this.#lru.get(key);
  }

  peek(key: string): L1Entry | undefined {
    return this.#lru.peek(key);
  }

  set(key: string, entry: L1Entry): void {
    this.#lru.set(key, entry);
    // lru-cache refuses an entry larger than maxBytes (and drops the old one): index only what it kept.
    if (entry.tags.length > 0 && this.#lru.peek(key) === entry) {
      for (const tag of entry.tags) {
        let keys = this.#byTag.get(tag);
        if (!keys) {
          keys = new Set();
          this.#byTag.set(tag, keys);
        }
        keys.add(key);
      }
    }
  }

  delete(key: string): boolean {
    return this.#lru.delete(key);
  }

  /** Removes every entry carrying `tag`; returns how many. */
  deleteByTag(tag: string): number {
    const keys = this.#byTag.get(tag);
    if (!keys) return 0;
    this.#byTag.delete(tag);
    let n = 0;
    for (const key of [...keys]) if (this.#lru.delete(key)) n++;
    return n;
  }

  clear(): void {
    this.#lru.clear();
    this.#byTag.clear();
  }

  get size(): number {
    return this.#lru.size;
  }

  get bytes(): number {
    return this.#lru.calculatedSize;
  }

  /** Number of tags in the index (for tests and metrics). */
  get tagCount(): number {
    return this.#byTag.size;
  }

  #unindex(key: string, entry: L1Entry): void {
    for (const tag of entry.tags) {
      const keys = this.#byTag.get(tag);
      if (!keys) continue;
      keys.delete(key);
      if (keys.size === 0) this.#byTag.delete(tag);
    }
  }
}
