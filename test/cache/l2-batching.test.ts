import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import type { Cache } from '../../src/cache/index.js';
import { uniqueName } from '../support/env.js';
import { connect, processCache, sparePort, startRedis, stopRedis } from './helpers.js';

/** Calls of each command since the last CONFIG RESETSTAT (this test owns the server). */
async function commandCalls(client: Redis): Promise<Record<string, number>> {
  const info = await client.info('commandstats');
  const calls: Record<string, number> = {};
  for (const m of info.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)) calls[m[1]!] = Number(m[2]);
  return calls;
}

describe('L2 reads of one tick go to Redis as one MGET (a redis-server this test owns)', () => {
  let port: number;
  let server: ChildProcess;
  let writer: Cache;
  let reader: Cache;
  let admin: Redis;
  const ns = uniqueName('cache_batch');

  before(async () => {
    port = await sparePort();
    server = await startRedis(port);
    const url = `redis://127.0.0.1:${port}`;
    writer = (await processCache(ns, { url })).cache;
    // No L1: every read of the reader is an L2 read.
    reader = (await processCache(ns, { url, l1: false, timeoutMs: 100 })).cache;
    admin = await connect(url);
    for (let i = 0; i < 600; i++) await writer.set(`v:${i}`, { id: i, at: new Date(1_700_000_000_000 + i) });
  });

  beforeEach(async () => {
    await admin.config('RESETSTAT');
  });

  after(async () => {
    admin.disconnect();
    await writer.close();
    await reader.close();
    await stopRedis(server);
  });

  it('200 concurrent hits cost one MGET and each caller gets its own key', async () => {
    const loader = async (): Promise<never> => {
      throw new Error('loader must not run on a hit');
    };
    const values = await Promise.all(
      Array.from({ length: 200 }, (_, i) => reader.getOrSet<{ id: number; at: Date }>(`v:${i}`, loader)),
    );
    values.forEach((v, i) => {
      assert.equal(v.id, i);
      assert.deepEqual(v.at, new Date(1_700_000_000_000 + i));
    });
    const calls = await commandCalls(admin);
    assert.equal(calls.mget, 1);
    assert.equal(calls.get ?? 0, 0);
  });

  it('a burst larger than a batch is split, and a lone read is a plain GET', async () => {
    const values = await Promise.all(
      Array.from({ length: 600 }, (_, i) => reader.get<{ id: number }>(`v:${i}`)),
    );
    assert.deepEqual(
      values.map((v) => v?.id),
      Array.from({ length: 600 }, (_, i) => i),
    );
    assert.equal((await commandCalls(admin)).mget, 3);
    assert.equal((await reader.get<{ id: number }>('v:7'))?.id, 7);
    assert.equal((await commandCalls(admin)).get, 1);
  });

  it('misses and unreadable entries in a batch fall to their own loaders; the hits beside them stand', async () => {
    await admin.set(`{${ns}}:k:broken`, Buffer.from([0xc1, 0xff, 0x00]));
    const keys = ['v:1', 'absent:1', 'v:2', 'broken', 'absent:2', 'v:3'];
    const results = await Promise.all(keys.map((k) => reader.getOrSetWithMeta(k, async () => `loaded ${k}`)));
    assert.deepEqual(
      results.map((r) => [typeof r.value === 'string' ? r.value : (r.value as { id: number }).id, r.source]),
      [
        [1, 'l2'],
        ['loaded absent:1', 'loader'],
        [2, 'l2'],
        ['loaded broken', 'loader'],
        ['loaded absent:2', 'loader'],
        [3, 'l2'],
      ],
    );
    assert.ok(reader.metrics().serializationErrors >= 1);
  });

  it('a stalled Redis fails the whole batch within the timeout: every caller falls back to its loader', async () => {
    // Connected first: on a loaded machine a fresh connection can take longer than the 50 ms below.
    const blocker = await connect(`redis://127.0.0.1:${port}`);
    try {
      const stall = blocker.call('DEBUG', 'SLEEP', '0.6');
      await new Promise((r) => setTimeout(r, 50));
      const t0 = performance.now();
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => reader.getOrSetWithMeta(`v:${i}`, async () => `db ${i}`)),
      );
      const elapsed = performance.now() - t0;
      assert.deepEqual(
        results.map((r) => r.value),
        Array.from({ length: 20 }, (_, i) => `db ${i}`),
      );
      assert.ok(elapsed < 450, `took ${elapsed} ms`);
      await stall;
    } finally {
      // Also on failure: an open connection would keep this test process alive.
      blocker.disconnect();
    }
  });
});
