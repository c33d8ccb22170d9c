/** Plain mutable counters: incrementing a field costs nothing on the hot path. */
export class CacheCounters {
  l1Hits = 0;
  l1Misses = 0;
  l2Hits = 0;
  l2Misses = 0;
  staleServed = 0;
  failSafeServed = 0;
  loaderRuns = 0;
  loaderErrors = 0;
  backgroundRefreshes = 0;
  writeThroughRefreshes = 0;
  writeThroughErrors = 0;
  writeThroughWaits = 0;
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
}

export interface CacheMetricsSnapshot {
  l1Hits: number;
  l1Misses: number;
  l2Hits: number;
  l2Misses: number;
  /** Reads answered from L1 or L2 (fresh, or stale inside grace). */
  hits: number;
  /**
   * Reads that had to run the loader, got their value from another process's load (lease), or waited
   * for a write-through refresh. Waiters on a read's load (`coalesced`) are counted as neither.
   */
  misses: number;
  /** hits / (hits + misses): the seed's name. 0 before any read. */
  cacheHitRate: number;
  staleServed: number;
  failSafeServed: number;
  /** Loads run for reads (misses and grace refreshes); write-through refreshes are not counted here. */
  loaderRuns: number;
  loaderErrors: number;
  backgroundRefreshes: number;
  /**
   * Loads run by `refresh()` (the store's write-through after a committed write). Not reads, so neither
   * hits nor misses: each is one database read spent so that the next reader hits.
   */
  writeThroughRefreshes: number;
  /** Write-through refreshes whose loader failed (logged; the write itself had already succeeded). */
  writeThroughErrors: number;
  /** Reads that found a write-through refresh of their key running and waited for it (also in `coalesced`; counted as misses). */
  writeThroughWaits: number;
  coalesced: number;
  leaseAcquired: number;
  leaseWaits: number;
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
  l1Entries: number;
  l1Bytes: number;
}

export function snapshotCounters(c: CacheCounters, l1Entries: number, l1Bytes: number): CacheMetricsSnapshot {
  const hits = c.l1Hits + c.l2Hits + c.staleServed - c.failSafeServed;
  const misses = c.loaderRuns + c.leaseWaitHits + c.writeThroughWaits;
  const total = hits + misses;
  return { ...c, hits, misses, cacheHitRate: total === 0 ? 0 : hits / total, l1Entries, l1Bytes };
}
