import type { Cluster, Redis } from 'ioredis';
import type { Clock, Logger } from '../core/index.js';
import type { CacheCounters } from './cache-metrics.js';
import { CacheErrorCode } from './errors.js';
import { decodeEntry, type StoredEntry } from './serializer.js';

/** A standalone client or a Cluster: both expose the commands used here. */
export type RedisClient = Redis | Cluster;

/** What a guarded Redis call returns when Redis failed or was too slow. */
export const FAILED: unique symbol = Symbol('redis-failed');
export type Failed = typeof FAILED;

/** Bytes and decoded entry read from L2. */
export interface L2Hit {
  entry: StoredEntry;
  bytes: number;
}

/** Tag and key generations read before a load, checked again (atomically) when its result is stored. */
export type GenerationSnapshot = readonly string[];

// Every key lives in the hash slot of `{namespace}` so that the Lua scripts touching an entry, its
// generations and its tag sets stay legal on Redis Cluster (one slot per namespace: a deliberate trade).
const SET_IF_GENERATIONS = `
local n = tonumber(ARGV[3])
for i = 1, n do
  local g = redis.call('GET', KEYS[1 + i]) or '0'
  if g ~= ARGV[3 + i] then return 0 end
end
local px = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', px)
for i = 2 + n, #KEYS do
  redis.call('SADD', KEYS[i], KEYS[1])
  if redis.call('PTTL', KEYS[i]) < px then redis.call('PEXPIRE', KEYS[i], px) end
end
return 1`;

// The body of an invalidation, shared by INVALIDATE and INVALIDATE_AND_SET. From KEYS[b + 1]: ng
// generation keys to bump (PEXPIRE gttl), ne entry keys to delete, ns tag sets whose members are deleted
// with them. Leaves b past them.
const INVALIDATE_STEPS = `
for i = b + 1, b + ng do
  redis.call('INCR', KEYS[i])
  redis.call('PEXPIRE', KEYS[i], gttl)
end
b = b + ng
for i = b + 1, b + ne do redis.call('DEL', KEYS[i]) end
b = b + ne
for i = b + 1, b + ns do
  local members = redis.call('SMEMBERS', KEYS[i])
  for j = 1, #members, 500 do
    redis.call('DEL', unpack(members, j, math.min(j + 499, #members)))
  end
  redis.call('DEL', KEYS[i])
end
b = b + ns`;

// KEYS: generation keys to bump, then entry keys to delete, then tag sets whose members are deleted.
const INVALIDATE = `
local ng = tonumber(ARGV[1])
local ne = tonumber(ARGV[2])
local ns = #KEYS - ng - ne
local gttl = ARGV[3]
local b = 0
${INVALIDATE_STEPS}
return 1`;

// KEYS[1] entry, KEYS[2] its key generation, KEYS[3..] tag sets. An explicit set bumps the key's
// generation so that a load already running for that key cannot overwrite it with older data.
const PUT = `
local px = tonumber(ARGV[2])
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('SET', KEYS[1], ARGV[1], 'PX', px)
for i = 3, #KEYS do
  redis.call('SADD', KEYS[i], KEYS[1])
  if redis.call('PTTL', KEYS[i]) < px then redis.call('PEXPIRE', KEYS[i], px) end
end
return 1`;

// INVALIDATE followed by a SET_IF_GENERATIONS of the replacement, in one step, with the check made
// against the generations as they were before this invalidation's own bumps. KEYS: the entry, its n
// generation keys to check, then as INVALIDATE (ng generation keys, ne entries, ns tag sets to empty),
// then the entry's tag sets. ARGV: value, px, n, the n snapshot values, ng, ne, ns, generation ttl.
// Returns 1 when it stored the entry, 0 when a generation had moved (invalidated only).
const INVALIDATE_AND_SET = `
local n = tonumber(ARGV[3])
local unchanged = true
for i = 1, n do
  local g = redis.call('GET', KEYS[1 + i]) or '0'
  if g ~= ARGV[3 + i] then
    unchanged = false
    break
  end
end
local ng = tonumber(ARGV[4 + n])
local ne = tonumber(ARGV[5 + n])
local ns = tonumber(ARGV[6 + n])
local gttl = ARGV[7 + n]
local b = 1 + n
${INVALIDATE_STEPS}
if not unchanged then return 0 end
local px = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', px)
for i = b + 1, #KEYS do
  redis.call('SADD', KEYS[i], KEYS[1])
  if redis.call('PTTL', KEYS[i]) < px then redis.call('PEXPIRE', KEYS[i], px) end
end
return 1`;

const RELEASE_LEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

interface ScriptClient {
  opusCacheSetIfGen(...args: Array<string | number | Buffer>): Promise<number>;
  opusCacheInvalidate(...args: Array<string | number>): Promise<number>;
  opusCachePut(...args: Array<string | number | Buffer>): Promise<number>;
  opusCacheInvalidateSet(...args: Array<string | number | Buffer>): Promise<number>;
  opusCacheRelease(key: string, owner: string): Promise<number>;
}

export interface RedisStoreOptions {
  client: RedisClient;
  namespace: string;
  clock: Clock;
  logger: Logger;
  counters: CacheCounters;
  /** Every command gives up after this long (ms). */
  timeoutMs: number;
  /** How long generation keys live after their last bump (ms). Must outlast any loader. */
  generationTtlMs: number;
}

/**
 * L2: entries in Redis under `{namespace}:k:<key>`, per-tag and per-key generations, tag → keys sets and
 * the stampede lease. Every method is guarded: on error or timeout it counts, logs at debug and returns
 * FAILED (or a neutral value), never throws, so Redis trouble never fails a request.
 */
export class RedisStore {
  readonly client: RedisClient;
  readonly #scripts: ScriptClient;
  readonly #prefix: string;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #counters: CacheCounters;
  readonly #timeoutMs: number;
  readonly #generationTtlMs: number;

  constructor(options: RedisStoreOptions) {
    this.client = options.client;
    this.#prefix = `{${options.namespace}}:`;
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#counters = options.counters;
    this.#timeoutMs = options.timeoutMs;
    this.#generationTtlMs = options.generationTtlMs;
    const c = this.client as RedisClient & Partial<ScriptClient>;
    // defineCommand uses EVALSHA with an EVAL fallback; defining twice on a shared client is harmless.
    if (c.opusCacheSetIfGen === undefined) c.defineCommand('opusCacheSetIfGen', { lua: SET_IF_GENERATIONS });
    if (c.opusCacheInvalidate === undefined) c.defineCommand('opusCacheInvalidate', { lua: INVALIDATE });
    if (c.opusCachePut === undefined) c.defineCommand('opusCachePut', { lua: PUT });
    if (c.opusCacheInvalidateSet === undefined)
      c.defineCommand('opusCacheInvalidateSet', { lua: INVALIDATE_AND_SET });
    if (c.opusCacheRelease === undefined)
      c.defineCommand('opusCacheRelease', { lua: RELEASE_LEASE, numberOfKeys: 1 });
    this.#scripts = c as unknown as ScriptClient;
  }

  entryKey(key: string): string {
    return `${this.#prefix}k:${key}`;
  }

  /** Prefix shared by every key of this namespace (for cleanup tooling and tests). */
  get keyPrefix(): string {
    return this.#prefix;
  }

  /** The entry, null on a miss, FAILED when Redis failed or the bytes were unreadable. */
  get(key: string): Promise<L2Hit | null | Failed> {
    return this.#read(key, undefined) as Promise<L2Hit | null | Failed>;
  }

  /** `get(key).then(then)` without the extra promise hop (the cache's L2-hit path). */
  getThen<R>(key: string, then: (hit: L2Hit | null | Failed) => R | PromiseLike<R>): Promise<R> {
    return this.#read(key, then as (hit: L2Hit | null | Failed) => unknown) as Promise<R>;
  }

  /**
   * Reads issued in the same tick go to Redis as one MGET (all keys of a namespace share one hash slot,
   * so this holds on Cluster too): at the concurrency a service sees, one command per burst instead of
   * one per key saves the client most of its per-command work and Redis most of its per-command cost.
   * Flushed on `process.nextTick`, which runs once the current microtasks have drained, so every caller
   * resumed by the previous reply joins the next batch; a full batch goes at once.
   */
  #read(key: string, next: ((hit: L2Hit | null | Failed) => unknown) | undefined): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const batch = this.#batch;
      batch.push({ key: this.entryKey(key), resolve, reject, next });
      if (batch.length === 1) process.nextTick(this.#flushReads, batch);
      else if (batch.length >= MAX_BATCH) this.#flushReads(batch);
    });
  }

  #batch: PendingRead[] = [];

  readonly #flushReads = (batch: PendingRead[]): void => {
    // Already sent because it filled up: the nextTick scheduled for it finds a newer batch or nothing.
    if (batch !== this.#batch) return;
    this.#batch = [];
    if (batch.length === 1) {
      const only = batch[0]!;
      void this.#guard(this.client.getBuffer(only.key), 'get', (bytes) => {
        settle(only, this.#toHit(bytes));
      });
      return;
    }
    const keys = batch.map((r) => r.key);
    void this.#guard(this.client.mgetBuffer(keys), 'get', (values) => {
      for (let i = 0; i < batch.length; i++) {
        settle(batch[i]!, values === FAILED ? FAILED : this.#toHit(values[i] ?? null));
      }
    });
  };

  readonly #toHit = (bytes: Buffer | null | Failed): L2Hit | null | Failed => {
    if (bytes === FAILED || bytes === null) return bytes;
    try {
      return { entry: decodeEntry(bytes), bytes: bytes.length };
    } catch (error) {
      this.#counters.serializationErrors++;
      this.#logger.warn(
        { err: errorSummary(error), op: 'decode' },
        'cache: unreadable L2 entry treated as a miss',
      );
      return null;
    }
  };

  /**
   * Generations of the namespace, the key and each tag, read before a load starts. The load's result is
   * stored only if they are unchanged at store time (checked inside Redis, so no clock is involved).
   */
  async snapshot(key: string, tags: readonly string[]): Promise<GenerationSnapshot | Failed> {
    const keys = this.#generationKeys(key, tags);
    const values = await this.#guard(this.client.mget(keys), 'snapshot');
    if (values === FAILED) return FAILED;
    return values.map((v) => v ?? '0');
  }

  /** Stores if no generation moved since `snapshot`: true stored, false rejected, FAILED unknown. */
  async setIfUnchanged(
    key: string,
    bytes: Buffer,
    ttlMs: number,
    tags: readonly string[],
    snapshot: GenerationSnapshot,
  ): Promise<boolean | Failed> {
    const genKeys = this.#generationKeys(key, tags);
    const keys = [this.entryKey(key), ...genKeys, ...tags.map((t) => this.#tagSetKey(t))];
    const args: Array<string | number | Buffer> = [
      keys.length,
      ...keys,
      bytes,
      Math.max(1, Math.ceil(ttlMs)),
    ];
    args.push(genKeys.length, ...snapshot);
    const result = await this.#guard(this.#scripts.opusCacheSetIfGen(...args), 'set');
    return result === FAILED ? FAILED : result === 1;
  }

  /** Unconditional write (an explicit `set`); bumps the key's generation. */
  async put(key: string, bytes: Buffer, ttlMs: number, tags: readonly string[]): Promise<boolean> {
    const keys = [this.entryKey(key), this.#keyGenerationKey(key), ...tags.map((t) => this.#tagSetKey(t))];
    const result = await this.#guard(
      this.#scripts.opusCachePut(
        keys.length,
        ...keys,
        bytes,
        Math.max(1, Math.ceil(ttlMs)),
        this.#generationTtlMs,
      ),
      'put',
    );
    return result !== FAILED;
  }

  /**
   * Bumps the generations of `keys` and `tags` (and the namespace's, on `all`), deletes those entries and
   * every entry recorded under the tags, atomically. Returns false when Redis could not be reached.
   */
  async invalidate(keys: readonly string[], tags: readonly string[], all = false): Promise<boolean> {
    const { gens, entries, sets } = this.#invalidationKeys(keys, tags, all);
    const allKeys = [...gens, ...entries, ...sets];
    const result = await this.#guard(
      this.#scripts.opusCacheInvalidate(
        allKeys.length,
        ...allKeys,
        gens.length,
        entries.length,
        this.#generationTtlMs,
      ),
      'invalidate',
    );
    if (result === FAILED) return false;
    if (all) return this.#deleteAllEntries();
    return true;
  }

  /**
   * `invalidate(keys, tags)` and, only if the generations of `key` and `entryTags` still equal `snapshot`
   * (as they were before this invalidation's bumps), stores `bytes` under `key` as `setIfUnchanged` does:
   * one script, so no reader sees the entry missing in between. True replaced, false invalidated only
   * (a generation had moved), FAILED unknown (the script may or may not have run).
   */
  async invalidateAndSet(
    keys: readonly string[],
    tags: readonly string[],
    key: string,
    bytes: Buffer,
    ttlMs: number,
    entryTags: readonly string[],
    snapshot: GenerationSnapshot,
  ): Promise<boolean | Failed> {
    const check = this.#generationKeys(key, entryTags);
    const { gens, entries, sets } = this.#invalidationKeys(keys, tags, false);
    const allKeys = [
      this.entryKey(key),
      ...check,
      ...gens,
      ...entries,
      ...sets,
      ...entryTags.map((t) => this.#tagSetKey(t)),
    ];
    const result = await this.#guard(
      this.#scripts.opusCacheInvalidateSet(
        allKeys.length,
        ...allKeys,
        bytes,
        Math.max(1, Math.ceil(ttlMs)),
        check.length,
        ...snapshot,
        gens.length,
        entries.length,
        sets.length,
        this.#generationTtlMs,
      ),
      'invalidate-set',
    );
    return result === FAILED ? FAILED : result === 1;
  }

  /** SET NX PX: true when this process now holds the key's load lease. */
  async acquireLease(key: string, owner: string, ttlMs: number): Promise<boolean | Failed> {
    const result = await this.#guard(
      this.client.set(this.#leaseKey(key), owner, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX'),
      'lease',
    );
    return result === FAILED ? FAILED : result === 'OK';
  }

  async releaseLease(key: string, owner: string): Promise<void> {
    await this.#guard(this.#scripts.opusCacheRelease(this.#leaseKey(key), owner), 'release');
  }

  /** One round trip while waiting on another process's lease: the entry if stored, and whether the lease is held. */
  async pollLease(key: string): Promise<{ hit: L2Hit | null; leased: boolean } | Failed> {
    const values = await this.#guard(this.client.mgetBuffer(this.entryKey(key), this.#leaseKey(key)), 'poll');
    if (values === FAILED) return FAILED;
    const [bytes, lease] = values;
    let hit: L2Hit | null = null;
    if (bytes) {
      try {
        hit = { entry: decodeEntry(bytes), bytes: bytes.length };
      } catch {
        this.#counters.serializationErrors++;
      }
    }
    return { hit, leased: lease !== null && lease !== undefined };
  }

  /** What an invalidation touches: generations to bump, entries to delete, tag sets to empty. */
  #invalidationKeys(
    keys: readonly string[],
    tags: readonly string[],
    all: boolean,
  ): { gens: string[]; entries: string[]; sets: string[] } {
    return {
      gens: [
        ...(all ? [this.#namespaceGenerationKey()] : []),
        ...keys.map((k) => this.#keyGenerationKey(k)),
        ...tags.map((t) => this.#tagGenerationKey(t)),
      ],
      entries: keys.map((k) => this.entryKey(k)),
      sets: tags.map((t) => this.#tagSetKey(t)),
    };
  }

  #generationKeys(key: string, tags: readonly string[]): string[] {
    return [
      this.#namespaceGenerationKey(),
      this.#keyGenerationKey(key),
      ...tags.map((t) => this.#tagGenerationKey(t)),
    ];
  }

  #namespaceGenerationKey(): string {
    return `${this.#prefix}ga`;
  }

  #keyGenerationKey(key: string): string {
    return `${this.#prefix}gk:${key}`;
  }

  #tagGenerationKey(tag: string): string {
    return `${this.#prefix}gt:${tag}`;
  }

  #tagSetKey(tag: string): string {
    return `${this.#prefix}s:${tag}`;
  }

  #leaseKey(key: string): string {
    return `${this.#prefix}l:${key}`;
  }

  /** `clear()`: entries, tag sets and leases go; generation keys stay (they are what rejects old loads). */
  async #deleteAllEntries(): Promise<boolean> {
    const nodes = isCluster(this.client) ? this.client.nodes('master') : [this.client];
    for (const node of nodes) {
      for (const pattern of [`${this.#prefix}k:*`, `${this.#prefix}s:*`, `${this.#prefix}l:*`]) {
        let cursor = '0';
        do {
          // Each step is guarded like any other command, so a slow Redis cannot hang `clear()`.
          const page = await this.#guard(
            node.scan(cursor, 'MATCH', escapeGlob(pattern), 'COUNT', 500),
            'clear',
          );
          if (page === FAILED) return false;
          const [next, found] = page;
          cursor = next;
          if (found.length > 0 && (await this.#guard(node.unlink(...found), 'clear')) === FAILED)
            return false;
        } while (cursor !== '0');
      }
    }
    return true;
  }

  /**
   * Races a command against the timeout. The command is not cancelled (Redis has no way to), but the
   * caller moves on to L1 and the loader. One sweeper timer serves every command in flight instead of a
   * timer each. All commands share one timeout and Redis answers in order, so a FIFO queue with a `done`
   * flag suffices: no Set whose hashing and resizing would show on the L2-hit path. A command gives up
   * between `timeoutMs` and 1.5 × `timeoutMs` after it was sent.
   */
  /**
   * `command`, given up on after the timeout (FAILED, never a rejection). `then`, when given, runs in the
   * same callback that settles the command: on the L2-hit path every promise hop costs as much as the
   * decode, and the raw GET it is measured against has one.
   */
  #guard<T, R = T | Failed>(
    command: Promise<T>,
    op: string,
    then?: (value: T | Failed) => R | PromiseLike<R>,
  ): Promise<R> {
    let g!: Guard;
    const promise = new Promise<R>((resolve, reject) => {
      g = {
        deadline: this.#clock.now() + this.#timeoutMs,
        op,
        done: false,
        resolve: resolve as (value: unknown) => void,
        reject,
        next: then as ((value: unknown) => unknown) | undefined,
      };
    });
    this.#queue.push(g);
    if (this.#sweepCancel === undefined) this.#scheduleSweep();
    command.then(
      (value) => {
        if (g.done) return;
        g.done = true;
        this.#dropSettled();
        settle(g, value);
      },
      (error: unknown) => {
        if (g.done) return;
        g.done = true;
        this.#dropSettled();
        this.#counters.redisErrors++;
        this.#logger.debug(
          { op, code: CacheErrorCode.Redis, err: errorSummary(error) },
          'cache: Redis command failed',
        );
        settle(g, FAILED);
      },
    );
    return promise;
  }

  #queue: Guard[] = [];
  #head = 0;
  #sweepCancel: (() => void) | undefined;

  /** Advances past settled guards at the head; compacts now and then so the array does not grow. */
  #dropSettled(): void {
    const q = this.#queue;
    while (this.#head < q.length && q[this.#head]!.done) this.#head++;
    if (this.#head === q.length) {
      q.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > q.length) {
      this.#queue = q.slice(this.#head);
      this.#head = 0;
    }
  }

  #scheduleSweep(): void {
    this.#sweepCancel = this.#clock.setTimer(Math.max(1, this.#timeoutMs / 2), this.#sweep);
  }

  readonly #sweep = (): void => {
    this.#sweepCancel = undefined;
    this.#dropSettled();
    const first = this.#queue[this.#head];
    if (first !== undefined && first.deadline <= this.#clock.now()) {
      // Timers run before sockets are read: after a blocked event loop, replies may already be waiting.
      // Expiring from setImmediate (after the poll phase) times out only commands really unanswered.
      setImmediate(this.#expireDue);
    } else if (first !== undefined) {
      this.#scheduleSweep();
    }
  };

  readonly #expireDue = (): void => {
    const now = this.#clock.now();
    const q = this.#queue;
    while (this.#head < q.length) {
      const g = q[this.#head]!;
      if (!g.done) {
        if (g.deadline > now) break;
        g.done = true;
        this.#counters.redisTimeouts++;
        this.#logger.debug(
          { op: g.op, code: CacheErrorCode.Timeout, timeoutMs: this.#timeoutMs },
          'cache: Redis command timed out',
        );
        settle(g, FAILED);
      }
      this.#head++;
    }
    this.#dropSettled();
    if (this.#head < this.#queue.length && this.#sweepCancel === undefined) this.#scheduleSweep();
  };

  /** Stops the sweeper; commands still in flight give up now. */
  dispose(): void {
    this.#sweepCancel?.();
    this.#sweepCancel = undefined;
    for (let i = this.#head; i < this.#queue.length; i++) {
      const g = this.#queue[i]!;
      if (!g.done) {
        g.done = true;
        settle(g, FAILED);
      }
    }
    this.#queue = [];
    this.#head = 0;
  }
}

/** A caller's promise and the continuation to run in the callback that settles it. */
interface Settlement<V> {
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  next: ((value: V) => unknown) | undefined;
}

interface Guard extends Settlement<unknown> {
  deadline: number;
  op: string;
  done: boolean;
}

/** A read waiting in a batch (see `#read`). */
interface PendingRead extends Settlement<L2Hit | null | Failed> {
  key: string;
}

/** Past this many keys a batch is sent without waiting for the tick to end. */
const MAX_BATCH = 256;

function settle<V>(s: Settlement<V>, value: V): void {
  if (s.next === undefined) {
    s.resolve(value);
    return;
  }
  try {
    s.resolve(s.next(value));
  } catch (error) {
    s.reject(error);
  }
}

function isCluster(client: RedisClient): client is Cluster {
  return (client as Cluster).isCluster === true;
}

/** Braces in the prefix are literal in SCAN MATCH patterns except `[`, `]`, `?`, `*` and `\`. */
function escapeGlob(pattern: string): string {
  const star = pattern.endsWith('*');
  const body = star ? pattern.slice(0, -1) : pattern;
  return body.replace(/[\\[\]?*]/g, '\\$&') + (star ? '*' : '');
}

function errorSummary(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
