import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import { createRedisClient, redisClientOptions } from '../../src/cache/index.js';

const run = promisify(execFile);

/** The local six-node cluster of scripts/start-redis-cluster.sh (three primaries, three replicas). */
export const TEST_REDIS_CLUSTER_URL =
  process.env.TEST_REDIS_CLUSTER_URL ?? 'redis+cluster://127.0.0.1:7000,127.0.0.1:7001';

/** Starts (or repairs) the local cluster; resolves once it reports cluster_state:ok on every node. */
export async function ensureRedisCluster(): Promise<void> {
  await run('bash', ['scripts/start-redis-cluster.sh'], { timeout: 60_000 });
}

/** A Cluster client with the cache's options (commands fail at once while a node is unreachable). */
export async function clusterClient(url = TEST_REDIS_CLUSTER_URL): Promise<Cluster> {
  const client = createRedisClient(url, { ...redisClientOptions(), lazyConnect: true });
  if (!(client instanceof Cluster)) throw new Error(`${url} is not a cluster URL`);
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** A direct connection to one node (for CLUSTER commands and SHUTDOWN). */
async function nodeClient(port: number): Promise<Redis> {
  const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0 });
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** The port of the primary currently serving `key`'s hash slot. */
export async function primaryPortOf(cluster: Cluster, key: string): Promise<number> {
  const slot = Number(await cluster.cluster('KEYSLOT', key));
  const ranges = await cluster.cluster('SLOTS');
  const owner = ranges.find(([from, to]) => slot >= from && slot <= to)?.[2];
  if (!owner) throw new Error(`no node serves slot ${slot}`);
  return Number(owner[1]);
}

/** Stops a node for real (SHUTDOWN NOSAVE): its process exits. */
export async function stopNode(port: number): Promise<void> {
  const node = await nodeClient(port);
  await node.call('SHUTDOWN', 'NOSAVE').catch(() => {});
  node.disconnect();
}

/** Deletes every key matching `pattern` on every primary, one key per command (keys may be in any slot). */
export async function dropClusterKeys(cluster: Cluster, pattern: string): Promise<void> {
  for (const node of cluster.nodes('master')) {
    const keys = await node.keys(pattern).catch(() => [] as string[]);
    for (const key of keys) await node.unlink(key).catch(() => 0);
  }
}
