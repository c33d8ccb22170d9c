import { defineErrorCodes, OpusError, type OpusErrorOptions } from '../core/index.js';

/** Codes of the cache layer. Most cache failures are absorbed (logged, counted) rather than thrown. */
export const CacheErrorCode = defineErrorCodes('cache', {
  Timeout: {
    code: 'ERR_CACHE_TIMEOUT',
    class: 'transient',
    meaning:
      'A Redis command did not answer within the cache’s `timeoutMs`; the cache fell back to L1 and the loader.',
    action: 'Nothing to do for the read; if it persists, look at Redis latency or raise `redis.timeoutMs`.',
  },
  Redis: {
    code: 'ERR_CACHE_REDIS',
    class: 'transient',
    meaning:
      'A Redis command failed (connection down, script error); the cache fell back to L1 and the loader.',
    action: 'Retry later; check that Redis is reachable. Invalidations are replayed once it is back.',
  },
  Serialization: {
    code: 'ERR_CACHE_SERIALIZATION',
    class: 'permanent',
    meaning: 'A value could not be encoded for the cache, or stored bytes could not be decoded.',
    action:
      'Cache only values MessagePack can encode (no functions, symbols or class instances it does not know).',
  },
  Closed: {
    code: 'ERR_CACHE_CLOSED',
    class: 'permanent',
    meaning: 'The cache was used after close(), or a loader was aborted because the cache closed.',
    action: 'Create a new cache, or stop using this one before closing it.',
  },
});

export type CacheErrorCodeValue = (typeof CacheErrorCode)[keyof typeof CacheErrorCode];

export class CacheError extends OpusError {
  constructor(code: CacheErrorCodeValue, message: string, options: OpusErrorOptions = {}) {
    super(code, message, options);
  }
}

/** The error of an operation on a closed cache. */
export function closedError(): CacheError {
  return new CacheError(CacheErrorCode.Closed, 'The cache was closed');
}
