import type { Cluster, Redis } from 'ioredis';

/** A standalone client or a Cluster: both expose the commands the cache uses. */
export type RedisClient = Redis | Cluster;

/** ioredis options that make commands fail at once while disconnected instead of queueing. */
export function redisClientOptions(): {
  enableOfflineQueue: false;
  maxRetriesPerRequest: number;
  retryStrategy: (times: number) => number;
} {
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    // Keep reconnecting forever, at most every 500 ms, so the cache picks Redis up again on its own.
    retryStrategy: (times: number) => Math.min(50 * times, 500),
  };
}
