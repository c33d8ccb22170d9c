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
  /** Reads that had to run the loader (or wait for one). */
  misses: number;
  /** hits / (hits + misses): the seed's name. 0 before any read. */
  cacheHitRate: number;
  staleServed: number;
  failSafeServed: number;
  loaderRuns: number;
  loaderErrors: number;
  backgroundRefreshes: number;
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
  const misses = c.loaderRuns + c.leaseWaitHits;
  const total = hits + misses;
  return { ...c, hits, misses, cacheHitRate: total === 0 ? 0 : hits / total, l1Entries, l1Bytes };
}
