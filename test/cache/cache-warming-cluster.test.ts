import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Cluster } from 'ioredis';
import { Cache } from '../../src/cache/index.js';
import { uniqueName } from '../support/env.js';
import {
  clusterClient,
  dropClusterKeys,
  ensureRedisCluster,
  primaryPortOf,
} from '../support/redis-cluster.js';

/** A cache acting as one process on the cluster, recording hot keys of `n:<digits>`. */
async function recordingCache(namespace: string, loads: string[]): Promise<Cache> {
  const client = await clusterClient();
  const cache = new Cache({
    namespace,
    redis: { client, closeClient: true, maxStalenessMs: 1_000 },
    hotKeys: { sampleEvery: 1 },
  });
  cache.registerWarmer('n:', {
    itemFor: (key) =>
      /^n:[0-9]+$/.test(key)
        ? {
            key,
            loader: () => {
              loads.push(key);
              return key.toUpperCase();
            },
            options: { ttlMs: 60_000 },
          }
        : undefined,
  });
  if (!(await cache.ready(5_000))) throw new Error('cache bus did not come up on the cluster');
  return cache;
}

describe('cache warming on Redis Cluster', () => {
  const ns = uniqueName('cwarm');
  let admin: Cluster;
  let releaseCluster: (() => Promise<void>) | undefined;

  before(async () => {
    releaseCluster = await ensureRedisCluster();
    admin = await clusterClient();
  });
  after(async () => {
    if (admin) {
      await dropClusterKeys(admin, `{${ns}}:*`);
      admin.disconnect();
    }
  });
  after(() => releaseCluster?.());

  it('records hot keys on the namespace’s slot, and a new process warms them from L2', async () => {
    const loads: string[] = [];
    const first = await recordingCache(ns, loads);
    for (const [key, reads] of [
      ['n:1', 5],
      ['n:2', 3],
      ['n:3', 1],
    ] as const) {
      for (let i = 0; i < reads; i++)
        await first.getOrSet(key, async () => key.toUpperCase(), { ttlMs: 60_000 });
    }
    await first.close();

    const owner = await primaryPortOf(admin, `{${ns}}`);
    const onOwner = admin.nodes('master').find((n) => n.options.port === owner)!;
    assert.equal((await onOwner.keys(`{${ns}}:hot:*`)).length, 1, 'the window is on the namespace’s primary');

    const second = await recordingCache(ns, loads);
    assert.deepEqual(
      (await second.hotKeys(10)).map((h) => [h.key, h.score]),
      [
        ['n:1', 5],
        ['n:2', 3],
        ['n:3', 1],
      ],
    );
    const report = await second.warmFromHistory({ limit: 2 });
    assert.equal(report.warmed, 2);
    assert.deepEqual(
      ['n:1', 'n:2', 'n:3'].map((k) => second.inL1(k)),
      [true, true, false],
    );
    assert.deepEqual(loads, [], 'warmed from L2');
    await second.close();
  });
});
