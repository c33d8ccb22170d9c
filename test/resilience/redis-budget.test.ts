import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { isOpusError } from '../../src/core/index.js';
import { Budget, RedisBudgetBackend } from '../../src/resilience/index.js';
import { TEST_REDIS_URL, uniqueName } from '../support/env.js';

const WORKER = fileURLToPath(new URL('./fixtures/redis-limiter-worker.ts', import.meta.url));

interface Worker {
  ready: Promise<void>;
  go(): void;
  grants: Promise<number[]>;
}

function startWorker(key: string, limit: number, windowMs: number, seconds: number): Worker {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', WORKER, TEST_REDIS_URL, key, String(limit), String(windowMs), String(seconds)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  let out = '';
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
    if (out.includes('ready\n')) markReady();
  });
  const grants = new Promise<number[]>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0
        ? resolve(JSON.parse(out.slice(out.indexOf('ready\n') + 6)) as number[])
        : reject(new Error(`worker exit ${code}`)),
    );
  });
  return { ready, go: () => child.stdin!.write('go\n'), grants };
}

describe('Redis budget backend', () => {
  let redis: Redis;
  const prefix = uniqueName('budget');

  before(() => {
    redis = new Redis(TEST_REDIS_URL);
  });
  after(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it('four processes sharing 20 per 2 s never exceed it together and use at least 90 % of it', async () => {
    const key = `${prefix}:shared`;
    const limit = 20;
    const windowMs = 2000;
    const workers = [1, 2, 3, 4].map(() => startWorker(key, limit, windowMs, 4.5));
    await Promise.all(workers.map((w) => w.ready));
    for (const w of workers) w.go();
    const results = await Promise.all(workers.map((w) => w.grants));
    const all = results.flat().sort((a, b) => a - b);
    assert.ok(
      results.every((r) => r.length > 0),
      'every process got grants',
    );
    let lo = 0;
    let worst = 0;
    for (let hi = 0; hi < all.length; hi++) {
      while (all[hi]! - all[lo]! >= windowMs) lo++;
      worst = Math.max(worst, hi - lo + 1);
    }
    assert.ok(worst <= limit, `a ${windowMs} ms window held ${worst} grants`);
    // Over two whole windows from the first grant, the ideal is 2 × 20.
    const start = all[0]!;
    const inTwo = all.filter((t) => t < start + 2 * windowMs).length;
    assert.ok(inTwo >= 0.9 * 2 * limit, `only ${inTwo} of ${2 * limit} used`);
  });

  it('reserve, commit and refund are shared, and a pause is seen by every instance', async () => {
    const key = `${prefix}:units`;
    const windows = [
      { name: 'tokens', limit: 1000, windowMs: 60_000 },
      { name: 'concurrent', kind: 'concurrent' as const, limit: 1, leaseMs: 10_000 },
    ];
    const a = new Budget({
      name: 'openai',
      windows,
      backend: new RedisBudgetBackend({ redis, key, windows }),
    });
    const b = new Budget({
      name: 'openai',
      windows,
      backend: new RedisBudgetBackend({ redis, key, windows }),
    });
    const r = await a.reserve({ tokens: 900, concurrent: 1 });
    // The concurrency slot is taken: b is refused before a short deadline.
    await assert.rejects(b.reserve({ tokens: 10, concurrent: 1 }, { deadline: Date.now() + 30 }), (e) =>
      isOpusError(e, 'ERR_RATE_LIMITED'),
    );
    await r.commit({ tokens: 300 });
    const usage = await b.usage();
    assert.deepEqual(
      usage.map((u) => u.used),
      [300, 0],
    );
    const r2 = await b.reserve({ tokens: 700, concurrent: 1 });
    await r2.refund();
    assert.equal((await a.usage())[0]!.used, 300);
    await a.pause(Date.now() + 60_000, 'quota_exhausted');
    await assert.rejects(b.reserve({ tokens: 1 }, { deadline: Date.now() + 1000 }), (e) =>
      isOpusError(e, 'ERR_QUOTA_EXHAUSTED'),
    );
  });
});
