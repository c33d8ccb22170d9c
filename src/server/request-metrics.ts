import type { FastifyInstance } from 'fastify';
import { Counter, Histogram, type Registry } from 'prom-client';
import { LatencyRecorder } from '../core/index.js';

/** Counts and recent latency of the service's own requests (for the dashboard's summary). */
export interface RequestStats {
  count(): number;
  summary(): { p50Ms: number; p95Ms: number };
}

export interface RequestMetrics {
  readonly stats: RequestStats;
  /** Counts one request refused for a missing or wrong API key. */
  authFailed(): void;
}

/**
 * The service's own request series on `registry` (latency by method, route and status; auth failures),
 * and the count and recent latency the dashboard shows, recorded as each answer is sent.
 */
export function installRequestMetrics(app: FastifyInstance, registry: Registry): RequestMetrics {
  const requestDuration = new Histogram({
    name: 'opusclip_server_request_duration_seconds',
    help: "Latency of the service's own HTTP requests by method, route and status",
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const authFailures = new Counter({
    name: 'opusclip_server_auth_failures_total',
    help: 'Requests refused for a missing or wrong API key',
    registers: [registry],
  });
  const recentLatency = new LatencyRecorder(1024);
  let requestCount = 0;
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    requestDuration.observe(
      { method: request.method, route, status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    recentLatency.record(reply.elapsedTime);
    requestCount++;
  });
  return {
    stats: { count: () => requestCount, summary: () => recentLatency.summary() },
    authFailed: () => authFailures.inc(),
  };
}
