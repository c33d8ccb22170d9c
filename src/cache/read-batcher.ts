import type { Logger } from '../core/index.js';
import type { CacheCounters } from './cache-metrics.js';
import { type CommandGuard, FAILED, type Failed, type Settlement, settle } from './command-guard.js';
import { decodeHit, type L2Hit } from './l2-hit.js';
import type { RedisClient } from './redis-client.js';

/** A read waiting in a batch. */
interface PendingRead extends Settlement<L2Hit | null | Failed> {
  key: string;
}

/** Past this many keys a batch is sent without waiting for the tick to end. */
const MAX_BATCH = 256;

export interface ReadBatcherOptions {
  client: RedisClient;
  guard: CommandGuard;
  counters: CacheCounters;
  logger: Logger;
}

/**
 * L2 entry reads, batched per tick. Reads issued in the same tick go to Redis as one MGET (all keys of a
 * namespace share one hash slot, so this holds on Cluster too): at the concurrency a service sees, one
 * command per burst instead of one per key saves the client most of its per-command work and Redis most
 * of its per-command cost. A batch is flushed on `process.nextTick`, which runs once the current
 * microtasks have drained, so every caller resumed by the previous reply joins the next batch; a full
 * batch goes at once.
 */
export class ReadBatcher {
  readonly #client: RedisClient;
  readonly #guard: CommandGuard;
  readonly #counters: CacheCounters;
  readonly #logger: Logger;
  #batch: PendingRead[] = [];

  constructor(options: ReadBatcherOptions) {
    this.#client = options.client;
    this.#guard = options.guard;
    this.#counters = options.counters;
    this.#logger = options.logger;
  }

  /**
   * The entry under the Redis key `entryKey` (null on a miss, FAILED when Redis failed), passed through
   * `next` in the callback that settles it when `next` is given.
   */
  read(entryKey: string, next: ((hit: L2Hit | null | Failed) => unknown) | undefined): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const batch = this.#batch;
      batch.push({ key: entryKey, resolve, reject, next });
      if (batch.length === 1) process.nextTick(this.#flush, batch);
      else if (batch.length >= MAX_BATCH) this.#flush(batch);
    });
  }

  readonly #flush = (batch: PendingRead[]): void => {
    // Already sent because it filled up: the nextTick scheduled for it finds a newer batch or nothing.
    if (batch !== this.#batch) return;
    this.#batch = [];
    if (batch.length === 1) {
      const only = batch[0]!;
      void this.#guard.run(this.#client.getBuffer(only.key), 'get', (bytes) => {
        settle(only, this.#toHit(bytes));
      });
      return;
    }
    const keys = batch.map((r) => r.key);
    void this.#guard.run(this.#client.mgetBuffer(keys), 'get', (values) => {
      for (let i = 0; i < batch.length; i++) {
        settle(batch[i]!, values === FAILED ? FAILED : this.#toHit(values[i] ?? null));
      }
    });
  };

  #toHit(bytes: Buffer | null | Failed): L2Hit | null | Failed {
    if (bytes === FAILED || bytes === null) return bytes;
    return decodeHit(bytes, this.#counters, this.#logger);
  }
}
