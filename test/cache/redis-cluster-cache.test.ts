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
import { deferred } from './helpers.js';

/** A cache acting as one process on the cluster: its own Cluster client (and its own shard subscriber). */
async function clusterCache(namespace: string): Promise<Cache> {
  const client = await clusterClient();
  const cache = new Cache({ namespace, redis: { client, closeClient: true, maxStalenessMs: 1_000 } });
  if (!(await cache.ready(5_000))) throw new Error('cache bus did not come up on the cluster');
  return cache;
}

describe('the two-level cache on Redis Cluster (two instances as two processes)', () => {
  const ns = uniqueName('ccache');
  let admin: Cluster;
  let a: Cache;
  let b: Cache;

  let releaseCluster: (() => Promise<void>) | undefined;

  before(async () => {
    releaseCluster = await ensureRedisCluster();
    admin = await clusterClient();
    a = await clusterCache(ns);
    b = await clusterCache(ns);
  });

  after(async () => {
    await a?.close();
    await b?.close();
    if (admin) {
      await dropClusterKeys(admin, `{${ns}}:*`);
      admin.disconnect();
    }
  });
  after(() => releaseCluster?.());

  it('read-through: a load is stored in L2 on the slot of {namespace}, the other instance reads it', async () => {
    await a.getOrSet('rt', async () => ({ n: 1 }), { ttlMs: 60_000 });
    const seen = await b.getOrSetWithMeta('rt', async () => assert.fail('must not load'));
    assert.equal(seen.source, 'l2');
    assert.deepEqual(seen.value, { n: 1 });
    assert.equal((await b.getOrSetWithMeta('rt', async () => assert.fail('must not load'))).source, 'l1');
    assert.equal(await admin.exists(`{${ns}}:k:rt`), 1);
    // Every key of the namespace is on the primary that owns the hash slot of `{ns}`.
    const owner = await primaryPortOf(admin, `{${ns}}`);
    const onOwner = admin.nodes('master').find((n) => n.options.port === owner)!;
    assert.deepEqual(await onOwner.keys(`{${ns}}:k:*`), [`{${ns}}:k:rt`]);
  });

  it('write-through: a set in one instance drops the other’s L1 copy before it resolves', async () => {
    await a.set('w', 1);
    assert.equal(await b.get('w'), 1);
    const l1Before = b.metrics().l1Hits;
    assert.equal(await b.get('w'), 1);
    assert.equal(b.metrics().l1Hits, l1Before + 1, 'b holds the value in L1');
    await a.set('w', 2);
    assert.equal(await b.get('w'), 2, 'no waiting: a waited for b’s acknowledgement over sharded pub/sub');
    await b.delete('w');
    assert.equal(await a.get('w'), undefined);
    assert.equal(a.metrics().busAckTimeouts, 0);
  });

  it('tags: invalidating a tag in one instance removes its entries in both', async () => {
    const tags = ['videos', 'video:1'];
    await a.getOrSet('video:1', async () => 'v1', { tags });
    await b.getOrSet('video:1', async () => 'unused', { tags });
    assert.equal((await b.getOrSetWithMeta('video:1', async () => 'x', { tags })).source, 'l1');
    await a.deleteByTag('video:1');
    assert.equal(await b.getOrSet('video:1', async () => 'v2', { tags }), 'v2');
    assert.equal(await a.getOrSet('video:1', async () => 'v3', { tags }), 'v2', 'a reads b’s value from L2');
    assert.ok(b.metrics().busMessagesReceived >= 1);
  });

  it('a load that began before an invalidation of its tag does not store its value', async () => {
    const gate = deferred<void>();
    const started = deferred<void>();
    const read = b.getOrSet(
      'video:7',
      async () => {
        started.resolve();
        await gate.promise;
        return 'old';
      },
      { tags: ['video:7'] },
    );
    await started.promise;
    await a.invalidateTags(['video:7']);
    gate.resolve();
    assert.equal(await read, 'old');
    assert.equal(await admin.exists(`{${ns}}:k:video:7`), 0, 'not written back to L2');
  });

  it('clear() empties the namespace on its node and both L1s', async () => {
    await a.set('c1', 'x');
    assert.equal(await b.get('c1'), 'x');
    await a.clear();
    assert.equal(await b.get('c1'), undefined);
    assert.equal(await admin.exists(`{${ns}}:k:c1`), 0);
  });
  it('a slot move (resharding): the bus follows its slot to the new primary', async () => {
    const moved = uniqueName('cmove');
    const x = await clusterCache(moved);
    const y = await clusterCache(moved);
    try {
      await x.set('k', 1);
      assert.equal(await y.get('k'), 1);
      const slot = Number(await admin.cluster('KEYSLOT', `{${moved}}`));
      const from = await primaryPortOf(admin, `{${moved}}`);
      const primaries = admin.nodes('master');
      const source = primaries.find((n) => n.options.port === from)!;
      const dest = primaries.find((n) => n.options.port !== from)!;
      const to = dest.options.port!;
      const sourceId = String(await source.cluster('MYID'));
      const destId = String(await dest.cluster('MYID'));
      await dest.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', sourceId);
      await source.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', destId);
      for (;;) {
        const keys = (await source.call('CLUSTER', 'GETKEYSINSLOT', slot, 100)) as string[];
        if (keys.length === 0) break;
        await source.call('MIGRATE', '127.0.0.1', to, '', 0, 5000, 'KEYS', ...keys);
      }
      await dest.call('CLUSTER', 'SETSLOT', slot, 'NODE', destId);
      await source.call('CLUSTER', 'SETSLOT', slot, 'NODE', destId);
      // Redis drops the sharded subscriptions of a slot that leaves a node: both buses notice and
      // subscribe again on the slot's new primary.
      const deadline = Date.now() + 10_000;
      while (x.metrics().busDisconnects + y.metrics().busDisconnects < 2 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      assert.equal(x.metrics().busDisconnects, 1, 'x saw its subscription go');
      assert.equal(y.metrics().busDisconnects, 1, 'y saw its subscription go');
      assert.ok((await x.ready(10_000)) && (await y.ready(10_000)), 'both buses up again');
      assert.equal(await primaryPortOf(admin, `{${moved}}`), to);
      assert.equal(await y.get('k'), 1);
      await x.set('k', 2);
      assert.equal(await y.get('k'), 2, 'the invalidation reached y over the new primary');
      assert.equal(x.metrics().busAckTimeouts, 0);
    } finally {
      await x.close();
      await y.close();
      await dropClusterKeys(admin, `{${moved}}:*`);
    }
  });
});
