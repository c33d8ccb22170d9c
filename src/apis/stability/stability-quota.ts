import type { WindowSpec } from '../../resilience/index.js';

/** Stability: 150 requests per 10 s (its published limit). */
export function stabilityWindows(requestsPer10s = 150): WindowSpec[] {
  return [{ name: 'requests', limit: requestsPer10s, windowMs: 10_000 }];
}
