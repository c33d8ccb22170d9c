import type { WindowSpec } from '../../resilience/index.js';

/** Stability: 150 requests per 10 s (its published limit). */
export function stabilityWindows(requestsPer10s = 150): WindowSpec[] {
  return [{ name: 'requests', limit: requestsPer10s, windowMs: 10_000 }];
}

/**
 * The account's credits per UTC month, as a budget window named `credits`. Without an allowance the
 * credits are counted (the quota metrics show them) and never refused.
 */
export function stabilityCreditWindow(creditsPerMonth?: number): WindowSpec {
  return {
    name: 'credits',
    kind: 'calendar',
    limit: creditsPerMonth ?? Number.MAX_SAFE_INTEGER,
    nextReset: nextUtcMonth,
  };
}

/** The first instant of the next UTC month: when a monthly credit allowance starts again. */
function nextUtcMonth(now: number): number {
  const date = new Date(now);
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
}
