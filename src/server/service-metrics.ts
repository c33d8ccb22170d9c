import { withDeadline } from './dependency-deadline.js';
import {
  type CacheMetricsSource,
  createMetricsRegistry,
  type DbMetricsSource,
  type HttpMetricsSource,
  type MetricsRegistry,
} from './metrics-registry.js';

export interface ServiceMetricsSources {
  db: DbMetricsSource;
  cache: CacheMetricsSource | undefined;
  httpMetrics: readonly HttpMetricsSource[] | undefined;
  queue: { counts(): Promise<Record<string, number>> } | undefined;
}

/**
 * The registry a service creates for itself. A scrape must not wait for a Redis that is gone or hung: the
 * quota and queue reads are bounded by `dependencyTimeoutMs`, past which that scrape leaves them out (or,
 * for quotas, reports the last snapshot read).
 */
export function createServiceMetrics(
  sources: ServiceMetricsSources,
  dependencyTimeoutMs: number,
): MetricsRegistry {
  const { queue, httpMetrics } = sources;
  return createMetricsRegistry({
    db: sources.db,
    ...(sources.cache ? { cache: sources.cache } : {}),
    ...(httpMetrics
      ? { httpMetrics: httpMetrics.map((source) => boundedSource(source, dependencyTimeoutMs)) }
      : {}),
    ...(queue
      ? {
          queue: {
            counts: () => withDeadline('redis', dependencyTimeoutMs, undefined, () => queue.counts()),
          },
        }
      : {}),
  });
}

/** An API-metrics source whose read is bounded: past the deadline the scrape gets the last snapshot read. */
function boundedSource(source: HttpMetricsSource, timeoutMs: number): HttpMetricsSource {
  let last: Awaited<ReturnType<HttpMetricsSource['getApiMetrics']>> | undefined;
  return {
    async getApiMetrics() {
      try {
        last = await withDeadline('redis', timeoutMs, undefined, () => source.getApiMetrics());
        return last;
      } catch (error) {
        if (last) return last;
        throw error;
      }
    },
  };
}
