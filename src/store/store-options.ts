import type { Clock } from '../core/index.js';
import type { StoreCache } from './cache-port.js';

export interface VideoStoreOptions {
  /** Source of created_at/updated_at/locked_at and of "now" for job scheduling (default: system clock). */
  clock?: Clock;
  /** Query-result cache for the reads; invalidated by every write once it is committed. */
  cache?: StoreCache;
  /** Lifetime of cached reads in milliseconds (default 60,000). */
  cacheTtlMs?: number;
  /**
   * Write-through refresh (default true; needs a cache with `inL1` whose `invalidateTags` takes
   * `refresh`, or with `invalidateAndReplace`, as `Cache` has). After a committed updateVideo or
   * updateVideoStatus, the video is read again and stored in the cache together with (or right after)
   * the invalidation, so its next read hits; the write resolves after that. Only for videos this
   * process holds in L1 (being read here): a write to a cold video costs no extra read. Batch writes
   * never refresh.
   */
  writeThrough?: boolean;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface PageOptions extends CallOptions {
  /** 1..10,000 (default 50). */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string | null;
}

export interface StatusUpdateOptions extends CallOptions {
  /** Why (a failure message, "retry requested"); stored in status_reason, cleared when omitted. */
  reason?: string | null;
}

export interface BatchStatusUpdateOptions extends StatusUpdateOptions {
  /** Skip the transition check (still leaves rows already in the target status untouched). */
  force?: boolean;
}

export interface BatchInsertVideosOptions extends CallOptions {
  /**
   * A URL already stored (or repeated in the batch): 'error' (default) fails the whole batch with
   * ERR_DB_UNIQUE_VIOLATION and writes nothing; 'existing' keeps the stored row and returns its id.
   */
  onDuplicate?: 'error' | 'existing';
}

export interface JobUpdateOptions extends CallOptions {
  /** Any JSON value; kept as is when omitted. */
  result?: unknown;
  /** Error text; kept as is when omitted. */
  error?: string | null;
  /** When given, the update only applies while this worker holds the job (its claim was not lost). */
  workerId?: string;
  /** With status 'pending': not claimable again before this time. */
  runAfter?: Date | null;
}

export interface ClaimOptions extends CallOptions {
  /**
   * Also take jobs still 'running' whose claim is older than this many milliseconds (their worker is
   * presumed dead); the old worker's later updateJobStatus with its workerId is then refused. Off by
   * default.
   */
  reclaimAfterMs?: number;
}
