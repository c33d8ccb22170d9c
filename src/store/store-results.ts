import type { JobStatus, VideoStatus } from './schema.js';

/** One page of a keyset-paged list. */
export interface Page<T> {
  items: T[];
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

/** What `stats()` counts. */
export interface StoreStats {
  videos: { total: number; byStatus: Record<VideoStatus, number> };
  clips: { total: number };
  jobs: { total: number; byStatus: Record<JobStatus, number> };
}
