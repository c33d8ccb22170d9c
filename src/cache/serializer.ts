import { Packr } from 'msgpackr';
import { CacheError, CacheErrorCode } from './errors.js';

/**
 * MessagePack through msgpackr: smaller and faster to decode than JSON, and it round-trips what JSON
 * cannot: Date, bigint (any size), Buffer and Uint8Array (HTTP bodies), undefined inside arrays, null.
 * Records (shared structures) are off so that any process can decode any entry without shared state.
 */
const packr = new Packr({ useRecords: false, moreTypes: true });

export function encode(value: unknown): Buffer {
  try {
    return packr.pack(value);
  } catch (error) {
    throw new CacheError(CacheErrorCode.Serialization, 'The value cannot be serialized for the cache', {
      cause: error,
    });
  }
}

export function decode(bytes: Uint8Array): unknown {
  try {
    return packr.unpack(bytes);
  } catch (error) {
    throw new CacheError(CacheErrorCode.Serialization, 'Cached bytes cannot be decoded', { cause: error });
  }
}

/**
 * One stored entry: when it stops being fresh, when it stops being usable at all (end of grace), its tags
 * and the value. Stored in L2 as a 4-element MessagePack array; the same shape lives in L1.
 */
export interface StoredEntry {
  expiresAt: number;
  staleUntil: number;
  tags: readonly string[];
  value: unknown;
}

export function encodeEntry(entry: StoredEntry): Buffer {
  return encode([entry.expiresAt, entry.staleUntil, entry.tags, entry.value]);
}

export function decodeEntry(bytes: Uint8Array): StoredEntry {
  const raw = decode(bytes);
  if (!Array.isArray(raw) || raw.length !== 4 || typeof raw[0] !== 'number' || typeof raw[1] !== 'number') {
    throw new CacheError(CacheErrorCode.Serialization, 'Cached bytes are not a cache entry');
  }
  const tags = Array.isArray(raw[2]) ? (raw[2] as string[]) : [];
  return { expiresAt: raw[0], staleUntil: raw[1], tags, value: raw[3] };
}
