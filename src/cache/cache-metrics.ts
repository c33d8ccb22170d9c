/** Plain mutable counters: incrementing a field costs nothing on the hot path. */
export class CacheCounters {
  l1Hits = 0;
  l1Misses = 0;
  l2Hits = 0;
  l2Misses = 0;
  staleServed = 0;
  failSafeServed = 0;
  l1StaleRefusals = 0;
  loaderRuns = 0;
  loaderErrors = 0;
  backgroundRefreshes = 0;
  writeThroughRefreshes = 0;
  writeThroughErrors = 0;
  writeThroughWaits = 0;
  writeThroughReplaced = 0;
  writeThroughFallbacks = 0;
  writeThroughRefused = 0;
  getMisses = 0;
  coalesced = 0;
  leaseAcquired = 0;
  leaseWaits = 0;
  leaseWaitHits = 0;
  writeBackRejected = 0;
  busMessagesSent = 0;
  busMessagesReceived = 0;
  busGaps = 0;
  busDisconnects = 0;
  busAckTimeouts = 0;
  redisErrors = 0;
  redisTimeouts = 0;
  serializationErrors = 0;
  pendingInvalidations = 0;
  warmedKeys = 0;
  refreshAheads = 0;
}

export interface CacheMetricsSnapshot {
  l1Hits: number;
  l1Misses: number;
  l2Hits: number;
  l2Misses: number;
  /** Reads answered from L1 or L2 (fresh, or stale inside grace). */
  hits: number;
  /**
   * Reads not answered from L1 or L2: they ran the loader (`loaderRuns`), waited for a load already
   * running in this process (`coalesced`, write-through refreshes included), got their value from
   * another process's load after waiting on its lease (`leaseWaitHits`), or were a `get` that found
   * nothing (`getMisses`). Each read is counted in exactly one of these.
   */
  misses: number;
  /** hits / (hits + misses); 0 before any read. */
  cacheHitRate: number;
  staleServed: number;
  failSafeServed: number;
  /**
   * L1 entries not served because the bus had not been heard from within `maxStalenessMs` (a busy event
   * loop, a slow or unreachable Redis); each such read went on to Redis or the loader, and counts as an
   * L1 miss there.
   */
  l1StaleRefusals: number;
  /**
   * Loads run for reads that missed. Not counted here: grace refreshes (`backgroundRefreshes`: the read
   * that started one was served the stale value, a hit) and write-through loads (`writeThroughRefreshes`).
   */
  loaderRuns: number;
  loaderErrors: number;
  /** Background refreshes started by reads inside grace; their own L2 lookups and loads count as no read. */
  backgroundRefreshes: number;
  /**
   * Loads run by write-through: `refresh()` and the row read of `invalidateAndReplace()` (the store's
   * write-through after a committed write). Not reads, so neither hits nor misses: each is one database
   * read spent so that the next reader hits.
   */
  writeThroughRefreshes: number;
  /** Write-through refreshes whose loader failed (logged; the write itself had already succeeded). */
  writeThroughErrors: number;
  /** Reads that found a write-through refresh of their key running and waited for it (a part of `coalesced`). */
  writeThroughWaits: number;
  /** `invalidateAndReplace` calls whose Redis script invalidated and stored the new value in one step. */
  writeThroughReplaced: number;
  /**
   * `invalidateAndReplace` calls that did not replace and fell back to invalidating (and a refresh):
   * refused, Redis failed, the loader failed, invalidations pending, or no Redis.
   */
  writeThroughFallbacks: number;
  /** Of those, refused because a generation moved between the snapshot and the script (a concurrent write). */
  writeThroughRefused: number;
  /** `get` calls that found nothing (no loader to run): misses. */
  getMisses: number;
  /** Reads that waited for a load of their key already running in this process: misses. */
  coalesced: number;
  leaseAcquired: number;
  leaseWaits: number;
  /** Reads that waited on another process's lease and got its stored result: misses (a load elsewhere). */
  leaseWaitHits: number;
  writeBackRejected: number;
  busMessagesSent: number;
  busMessagesReceived: number;
  busGaps: number;
  busDisconnects: number;
  busAckTimeouts: number;
  redisErrors: number;
  redisTimeouts: number;
  serializationErrors: number;
  pendingInvalidations: number;
  /** Keys `warmFromHistory` loaded into L1 (from L2 or their loader). */
  warmedKeys: number;
  /** Reloads of hot entries started before they expired (refresh-ahead); background loads, not reads. */
  refreshAheads: number;
  l1Entries: number;
  l1Bytes: number;
}

export function snapshotCounters(c: CacheCounters, l1Entries: number, l1Bytes: number): CacheMetricsSnapshot {
  const hits = c.l1Hits + c.l2Hits + c.staleServed - c.failSafeServed;
  // writeThroughWaits is a part of coalesced; background and write-through loads are not reads.
  const misses = c.loaderRuns + c.coalesced + c.leaseWaitHits + c.getMisses;
  const total = hits + misses;
  return { ...c, hits, misses, cacheHitRate: total === 0 ? 0 : hits / total, l1Entries, l1Bytes };
}
