import { context, trace } from '@opentelemetry/api';
import type { FastifyRequest } from 'fastify';
import type { Queryable } from '../db/index.js';
import type { PipelineQueue } from '../pipeline/pipeline-queue.js';
import type { StoreSchema, VideoStore } from '../store/index.js';
import type { ApiDto } from './api-dto.js';
import { withDeadline } from './dependency-deadline.js';
import { ServerError, ServerErrorCode } from './errors.js';
import type {
  CacheMetricsSource,
  DbMetricsSource,
  HttpMetricsSource,
  MetricsRegistry,
} from './metrics-registry.js';
import type { RequestStats } from './request-metrics.js';

/** What readiness needs from Redis: an ioredis client has it. */
export interface RedisPinger {
  ping(): Promise<string>;
}

/** The dependencies every route module receives, with the helpers that bound calls to them. */
export interface RouteContext {
  readonly db: Queryable<StoreSchema> & DbMetricsSource;
  readonly store: VideoStore;
  readonly queue: PipelineQueue | undefined;
  readonly redis: RedisPinger | undefined;
  readonly cache: CacheMetricsSource | undefined;
  readonly httpMetrics: readonly HttpMetricsSource[];
  readonly metrics: MetricsRegistry;
  readonly dto: ApiDto;
  readonly requestStats: RequestStats;
  readonly readinessTimeoutMs: number;
  readonly dependencyTimeoutMs: number;
  readonly startedAt: number;
  /** A database call bounded by the dependency deadline and the client's disconnect. */
  database<T>(request: FastifyRequest, call: (signal: AbortSignal) => Promise<T>): Promise<T>;
  /** A queue call bounded the same way; 503 when the service runs without Redis. */
  withQueue<T>(request: FastifyRequest, call: (queue: PipelineQueue) => Promise<T>): Promise<T>;
}

export type RouteContextInit = Omit<RouteContext, 'database' | 'withQueue'>;

export function createRouteContext(init: RouteContextInit): RouteContext {
  return {
    ...init,
    database: (request, call) =>
      traced(request, () =>
        withDeadline('database', init.dependencyTimeoutMs, request.clientGone.signal, call),
      ),
    withQueue: (request, call) => {
      const queue = init.queue;
      if (!queue) return Promise.reject(noQueue());
      return traced(request, () =>
        withDeadline('redis', init.dependencyTimeoutMs, request.clientGone.signal, () => call(queue)),
      );
    },
  };
}

function noQueue(): ServerError {
  return new ServerError(
    ServerErrorCode.RedisNotConfigured,
    503,
    'REDIS_URL is not set: the service runs without Redis, so there is no pipeline queue to enqueue to or list',
  );
}

/** Runs `fn` inside the request's server span, so the dependency's own spans become its children. */
function traced<T>(request: FastifyRequest, fn: () => Promise<T>): Promise<T> {
  const span = request.otelSpan;
  return span ? context.with(trace.setSpan(context.active(), span), fn) : fn();
}
