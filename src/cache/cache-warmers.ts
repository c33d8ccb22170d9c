import type { WarmItem } from './cache-options.js';

/**
 * Loads the keys under one prefix again from their source, for warming: given a recorded key, the
 * loader and entry options its readers use (same tags and lifetime), or undefined for a key it does not
 * load. Only keys some warmer accepts are recorded as hot, so a warmer also decides what may be written
 * to Redis as a hot key: accept only keys free of secrets (ids, numbers).
 */
export interface CacheWarmer {
  itemFor(key: string): WarmItem | undefined;
  /** Keys worth loading even without history (e.g. the most popular rows), best first, at most `limit`. */
  seedKeys?(limit: number, signal: AbortSignal): Promise<readonly string[]>;
}

/** The warmers registered on one cache, by key prefix. */
export class CacheWarmers {
  readonly #byPrefix = new Map<string, CacheWarmer>();

  /** Registers (or replaces) the warmer of the keys starting with `prefix`. */
  register(prefix: string, warmer: CacheWarmer): void {
    this.#byPrefix.set(prefix, warmer);
  }

  get size(): number {
    return this.#byPrefix.size;
  }

  /** The warm item of `key` from the warmer with the longest matching prefix, or undefined. */
  itemFor(key: string): WarmItem | undefined {
    let best: CacheWarmer | undefined;
    let bestLength = -1;
    for (const [prefix, warmer] of this.#byPrefix) {
      if (prefix.length > bestLength && key.startsWith(prefix)) {
        best = warmer;
        bestLength = prefix.length;
      }
    }
    return best?.itemFor(key);
  }

  /** Whether some warmer loads `key` (so it may be recorded as hot). */
  accepts(key: string): boolean {
    return this.itemFor(key) !== undefined;
  }

  /** The warmers' seed keys, each warmer's in turn; a warmer that fails or is aborted adds none. */
  async seedKeys(limit: number, signal: AbortSignal, onError: (error: unknown) => void): Promise<string[]> {
    const all: string[] = [];
    for (const warmer of this.#byPrefix.values()) {
      if (!warmer.seedKeys || signal.aborted) continue;
      try {
        all.push(...(await warmer.seedKeys(limit, signal)));
      } catch (error) {
        onError(error);
      }
    }
    return all;
  }
}
