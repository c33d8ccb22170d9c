import { type EntryDefaults, type EntryOptions, entryLifetime } from './cache-options.js';
import type { L1Entry } from './memory-store.js';
import type { StoredEntry } from './serializer.js';

const NO_TAGS: readonly string[] = Object.freeze([]);

/** The entry for `value` written at `now` (clock ms) with `options`' lifetimes; throws on a bad lifetime. */
export function newEntry(
  value: unknown,
  options: EntryOptions,
  defaults: EntryDefaults,
  now: number,
): L1Entry {
  const { ttlMs, graceMs } = entryLifetime(options, defaults);
  return {
    value,
    expiresAt: now + ttlMs,
    staleUntil: now + ttlMs + graceMs,
    tags: options.tags ?? NO_TAGS,
    epoch: 0,
    size: 0,
    resolved: undefined,
    hits: 0,
    refreshAfter: Number.POSITIVE_INFINITY,
  };
}

/** An entry read from L2, as an L1 entry (epoch and size are set when it is stored). */
export function entryFromStored(e: StoredEntry): L1Entry {
  return {
    value: e.value,
    expiresAt: e.expiresAt,
    staleUntil: e.staleUntil,
    tags: e.tags,
    epoch: 0,
    size: 0,
    resolved: undefined,
    hits: 0,
    refreshAfter: Number.POSITIVE_INFINITY,
  };
}
