import type { Logger } from '../core/index.js';
import type { CacheCounters } from './cache-metrics.js';
import { errorSummary } from './log-fields.js';
import { decodeEntry, type StoredEntry } from './serializer.js';

/** Bytes and decoded entry read from L2. */
export interface L2Hit {
  entry: StoredEntry;
  bytes: number;
}

/** The entry in `bytes`; null (counted, logged) when they are not a readable entry, which reads as a miss. */
export function decodeHit(bytes: Buffer, counters: CacheCounters, logger: Logger): L2Hit | null {
  try {
    return { entry: decodeEntry(bytes), bytes: bytes.length };
  } catch (error) {
    counters.serializationErrors++;
    logger.warn({ err: errorSummary(error), op: 'decode' }, 'cache: unreadable L2 entry treated as a miss');
    return null;
  }
}
