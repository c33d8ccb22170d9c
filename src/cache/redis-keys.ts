/** What an invalidation touches in Redis: generations to bump, entries to delete, tag sets to empty. */
export interface InvalidationKeys {
  gens: string[];
  entries: string[];
  sets: string[];
}

/**
 * The Redis key names of one namespace. Every key starts with `{namespace}:`, so all of a namespace's
 * keys share the hash slot of `{namespace}`: the Lua scripts touching an entry, its generations and its
 * tag sets stay legal on Redis Cluster, and one MGET can read any of its entries (one slot per
 * namespace: a deliberate trade).
 */
export class RedisKeys {
  /** Prefix shared by every key of the namespace. */
  readonly prefix: string;

  constructor(namespace: string) {
    this.prefix = `{${namespace}}:`;
  }

  entry(key: string): string {
    return `${this.prefix}k:${key}`;
  }

  /** Bumped by `clear()`: a load that began before it stores nothing. */
  namespaceGeneration(): string {
    return `${this.prefix}ga`;
  }

  keyGeneration(key: string): string {
    return `${this.prefix}gk:${key}`;
  }

  tagGeneration(tag: string): string {
    return `${this.prefix}gt:${tag}`;
  }

  /** The set of entry keys stored under `tag`. */
  tagSet(tag: string): string {
    return `${this.prefix}s:${tag}`;
  }

  /**
   * The sorted set of the keys read during hot-key window `window` (clock ms / window length), scored
   * by sampled reads. In the namespace's slot, so one ZUNION reads every window on Redis Cluster too.
   */
  hotWindow(window: number): string {
    return `${this.prefix}hot:${window}`;
  }

  lease(key: string): string {
    return `${this.prefix}l:${key}`;
  }

  /** The generations a load of `key` with `tags` snapshots: the namespace's, the key's, each tag's. */
  generations(key: string, tags: readonly string[]): string[] {
    return [this.namespaceGeneration(), this.keyGeneration(key), ...tags.map((t) => this.tagGeneration(t))];
  }

  invalidation(keys: readonly string[], tags: readonly string[], all: boolean): InvalidationKeys {
    return {
      gens: [
        ...(all ? [this.namespaceGeneration()] : []),
        ...keys.map((k) => this.keyGeneration(k)),
        ...tags.map((t) => this.tagGeneration(t)),
      ],
      entries: keys.map((k) => this.entry(k)),
      sets: tags.map((t) => this.tagSet(t)),
    };
  }

  /** What `clear()` deletes, as SCAN patterns: entries, tag sets and leases. Generation keys stay. */
  clearPatterns(): string[] {
    return [`${this.prefix}k:*`, `${this.prefix}s:*`, `${this.prefix}l:*`];
  }
}
