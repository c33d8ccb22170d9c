import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import { createRedisClient, redisClientOptions } from '../../src/cache/index.js';

const run = promisify(execFile);

/** The local six-node cluster of scripts/start-redis-cluster.sh (three primaries, three replicas). */
export const TEST_REDIS_CLUSTER_URL =
  process.env.TEST_REDIS_CLUSTER_URL ?? 'redis+cluster://127.0.0.1:7000,127.0.0.1:7001';

const LOCK = join(tmpdir(), 'opusclip-redis-cluster-tests.lock');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Takes the cluster for this test file, then starts (or repairs) it: resolves once it reports
 * cluster_state:ok on every node. The cluster test files run one at a time (a lock directory holding the
 * owner's pid, taken over when that process is gone), since the failover test stops a primary under
 * everyone's feet. Call the returned function in `after`.
 */
export async function ensureRedisCluster(): Promise<() => Promise<void>> {
  const deadline = Date.now() + 600_000;
  for (;;) {
    try {
      await mkdir(LOCK);
      await writeFile(join(LOCK, 'pid'), String(process.pid));
      break;
    } catch {
      const owner = Number(await readFile(join(LOCK, 'pid'), 'utf8').catch(() => ''));
      if (Number.isInteger(owner) && owner > 0 && !alive(owner)) {
        await rm(LOCK, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error('timed out waiting for the Redis Cluster test lock');
      await sleep(200);
    }
  }
  await run('bash', ['scripts/start-redis-cluster.sh'], { timeout: 60_000 });
  return async () => {
    await rm(LOCK, { recursive: true, force: true });
  };
}

/** Starts (or repairs) the local cluster, for a file that already holds it (after a failover). */
export async function repairRedisCluster(): Promise<void> {
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
