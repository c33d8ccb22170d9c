export type CacheSource = 'l1' | 'l2' | 'loader';

/** A value read through the cache, with where it came from. */
export interface CacheResult<T> {
  value: T;
  /** True when the value is past its ttl (served inside grace, or as fail-safe when the loader failed). */
  stale: boolean;
  source: CacheSource;
}

export function resultValue(r: CacheResult<unknown>): unknown {
  return r.value;
}
