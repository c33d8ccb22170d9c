import { OpusError, type OpusErrorOptions } from '../core/index.js';

/** Codes of the cache layer. Most cache failures are absorbed (logged, counted) rather than thrown. */
export const CacheErrorCode = {
  /** A Redis command did not answer within `timeoutMs`; the cache fell back to L1 and the loader. */
  Timeout: 'ERR_CACHE_TIMEOUT',
  /** A Redis command failed (connection down, script error). */
  Redis: 'ERR_CACHE_REDIS',
  /** A value could not be encoded, or stored bytes could not be decoded. */
  Serialization: 'ERR_CACHE_SERIALIZATION',
  /** The cache was closed. */
  Closed: 'ERR_CACHE_CLOSED',
} as const;

export type CacheErrorCodeValue = (typeof CacheErrorCode)[keyof typeof CacheErrorCode];

export class CacheError extends OpusError {
  constructor(code: CacheErrorCodeValue, message: string, options: OpusErrorOptions = {}) {
    super(code, message, options);
  }
}
