import type { ConnectionOptions } from 'bullmq';
import type { Cluster } from 'ioredis';
import { createRedisClient, parseRedisUrl } from '../cache/redis-connection.js';

/** BullMQ's default key prefix. */
const BULLMQ_PREFIX = 'bull';

/** What a queue or worker hands BullMQ: its connection, its key prefix, and how to let go of both. */
export interface QueueConnection {
  connection: ConnectionOptions;
  prefix: string | undefined;
  /** Closes a Cluster client made here from a URL (BullMQ leaves a client it was given alone). */
  close(): Promise<void>;
}

/**
 * The BullMQ connection for a `redis://` URL (options BullMQ connects with itself), a
 * `redis+cluster://` URL (an ioredis Cluster made here, closed by `close()`), or a client or options
 * given as they are. On a Cluster the key prefix gets a hash tag (`prefix` → `{prefix}`, default
 * `{bull}`) as BullMQ requires there: its scripts touch several keys of a queue at once, which must all
 * be in one hash slot.
 */
export function queueConnection(connection: ConnectionOptions | string, prefix?: string): QueueConnection {
  if (typeof connection === 'string' && parseRedisUrl(connection)?.kind === 'cluster') {
    // A command to a primary that just stopped is retried every 200 ms until a replica takes over:
    // 100 tries (20 s) outlast a failover, so a job that finishes meanwhile is not failed and re-run.
    const cluster = createRedisClient(
      connection,
      { maxRetriesPerRequest: null },
      { maxRedirections: 100 },
    ) as Cluster;
    return {
      connection: cluster,
      prefix: hashTagged(prefix),
      async close() {
        await quitWithin(cluster, 1_000);
      },
    };
  }
  const options = typeof connection === 'string' ? redisOptionsFromUrl(connection) : connection;
  const onCluster = (options as Partial<Cluster>).isCluster === true;
  return { connection: options, prefix: onCluster ? hashTagged(prefix) : prefix, close: async () => {} };
}

/** `prefix` inside a `{…}` hash tag, unless it already holds one. */
function hashTagged(prefix: string | undefined): string {
  const p = prefix ?? BULLMQ_PREFIX;
  return /\{[^}]+\}/.test(p) ? p : `{${p}}`;
}

/** BullMQ wants connection options; REDIS_URL is a URL. */
function redisOptionsFromUrl(url: string): ConnectionOptions {
  const u = new URL(url);
  const db = u.pathname.replace(/^\//, '');
  return {
    host: u.hostname,
    port: u.port ? Number(u.port) : 6379,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(db ? { db: Number(db) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
  };
}

/** QUIT when the cluster answers in time, else disconnect: closing never waits on a Redis that is gone. */
async function quitWithin(client: Cluster, ms: number): Promise<void> {
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), ms);
  });
  const done = await Promise.race([client.quit().then(() => 'quit' as const), late]).catch(
    () => 'late' as const,
  );
  clearTimeout(timer);
  if (done === 'late') client.disconnect();
}
