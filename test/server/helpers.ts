import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import type { Database } from '../../src/db/index.js';
import { PipelineQueue } from '../../src/pipeline/pipeline-queue.js';
import {
  createServer,
  createServerLogger,
  type OpusServer,
  type ServerOptions,
} from '../../src/server/index.js';
import { type StoreSchema, setupStore, VideoStore } from '../../src/store/index.js';
import { postgresTarget, type TestTarget } from '../support/databases.js';
import { TEST_REDIS_URL, uniqueName } from '../support/env.js';

export const API_KEY = 'svc-key-Sup3rSecret-0123456789';

export interface ServiceFixture {
  target: TestTarget;
  db: Database<StoreSchema>;
  store: VideoStore;
  redis: Redis;
  queue: PipelineQueue;
  prefix: string;
  assetsDir: string;
  logLines: string[];
  logger: ReturnType<typeof createServerLogger>;
  dispose(): Promise<void>;
}

/** Real PostgreSQL (own schema), real Redis (own BullMQ prefix), a temp assets dir, a collected log. */
export async function openService(): Promise<ServiceFixture> {
  const target = postgresTarget();
  const db = await target.open<StoreSchema>({ max: 6 });
  await setupStore(db);
  const store = new VideoStore(db);
  const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
  const prefix = uniqueName('bullsrv');
  const queue = new PipelineQueue({ connection: TEST_REDIS_URL, prefix, attempts: 1 });
  const assetsDir = await mkdtemp(join(tmpdir(), 'opus-assets-'));
  const logLines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      logLines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const logger = createServerLogger({ level: 'debug', destination, secrets: [API_KEY] });
  return {
    target,
    db,
    store,
    redis,
    queue,
    prefix,
    assetsDir,
    logLines,
    logger,
    async dispose() {
      await queue.queue.obliterate({ force: true }).catch(() => {});
      await queue.close();
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
      await db.close();
      await target.dispose();
      await rm(assetsDir, { recursive: true, force: true });
    },
  };
}

/** A YouTube URL with a valid 11-character id unique to this process. */
let n = 0;
export function youtubeUrl(): string {
  const id = `${process.pid.toString(36)}${(++n).toString(36)}${Math.random().toString(36).slice(2)}`
    .replace(/[^A-Za-z0-9]/g, '')
    .padEnd(11, 'x')
    .slice(0, 11);
  return `https://www.youtube.com/watch?v=${id}`;
}

/** The service over a fixture's database, store, Redis, queue and assets, with the test API key. */
export function serviceServer(
  fx: ServiceFixture,
  overrides: Partial<ServerOptions> = {},
): Promise<OpusServer> {
  return createServer({
    db: fx.db,
    store: fx.store,
    redis: fx.redis,
    queue: fx.queue,
    auth: { apiKeys: [API_KEY] },
    assetsDir: fx.assetsDir,
    logger: fx.logger,
    ...overrides,
  });
}

/**
 * Lints an exposition with `promtool check metrics` (Prometheus's own linter: naming, units, `_total`
 * on counters only, no `quantile` label outside summaries, ...). scripts/ensure-promtool.sh installs it.
 */
export function promtoolCheck(text: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.env.PROMTOOL ?? 'promtool', ['check', 'metrics'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => {
      output += String(d);
    });
    child.stderr.on('data', (d) => {
      output += String(d);
    });
    child.on('error', (error) =>
      reject(new Error(`promtool is missing: run scripts/ensure-promtool.sh (${error.message})`)),
    );
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
    child.stdin.end(text);
  });
}
