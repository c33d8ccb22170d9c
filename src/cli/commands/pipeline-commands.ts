import { access, constants } from 'node:fs/promises';
import { ConfigError } from '../../core/errors.js';
import { PipelineQueue } from '../../pipeline/pipeline-queue.js';
import { startPipelineWorker } from '../../pipeline/pipeline-worker.js';
import { readVideoUrls, urlSources } from '../../pipeline/read-video-urls.js';
import type { RunSummary } from '../../pipeline/video-pipeline.js';
import { createSandbox } from '../../sandbox/index.js';
import { createMetricsRegistry, serveMetrics } from '../../server/metrics-registry.js';
import type { CliConfig } from '../cli-config.js';
import type { CommandContext } from '../command-context.js';
import { checkRedis, redisEndpoint } from '../dependency-check.js';
import { UsageError } from '../errors.js';
import { formatTable } from '../output.js';
import { countingSources, progressReporter } from '../progress-reporter.js';
import { openRuntime, type Runtime } from '../runtime.js';

/** Sample videos for the demo: several URL forms, one of them a second form of the same video. */
export const DEMO_URLS = [
  'https://www.youtube.com/watch?v=dQw4w9WgXcQ',
  'https://youtu.be/9bZkp7q5f0E?t=42',
  'https://www.youtube.com/shorts/kJQP7kiw5Fk',
  'https://m.youtube.com/watch?v=JGwWNGJdvx8&list=PL1',
  'https://music.youtube.com/watch?v=OPf0YbXqDm0',
  'https://www.youtube.com/embed/dQw4w9WgXcQ',
];

function numberFlag(ctx: CommandContext, name: string, fallback: number): number {
  const v = ctx.flags[name];
  return typeof v === 'number' ? v : fallback;
}

/** `--file`, checked readable before anything is opened (a missing file is a usage error). */
async function fileFlag(ctx: CommandContext): Promise<string | undefined> {
  const v = ctx.flags.file;
  if (typeof v !== 'string') return undefined;
  try {
    await access(v, constants.R_OK);
  } catch (error) {
    throw new UsageError(`--file: cannot read ${v} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return v;
}

/**
 * Redis answers (bounded, one attempt, credentials checked) before the runtime opens its long-lived
 * connections, whose retries would otherwise wait for it for ever. The database needs no such check:
 * opening it is itself bounded (see connectDatabase).
 */
async function checkDependencies(ctx: CommandContext, redisUrl: string | undefined): Promise<void> {
  if (redisUrl) await checkRedis(redisUrl, { signal: ctx.stopSignal });
}

export async function runProcess(ctx: CommandContext): Promise<number> {
  const file = await fileFlag(ctx);
  if (ctx.args.length === 0 && !file) throw new UsageError('give at least one URL, or --file urls.txt');
  return processUrls(ctx, ctx.config, urlSources(ctx.args, file));
}

export async function runDemo(ctx: CommandContext): Promise<number> {
  const config: CliConfig = {
    ...ctx.config,
    databaseUrl: ctx.flags['database-url'] ? ctx.config.databaseUrl : 'sqlite:./opusclip-demo.db',
    redisUrl: undefined,
    sandbox: true,
    sandboxUrl: undefined,
  };
  ctx.io.err(
    'opusclip demo: the whole pipeline on the embedded default (SQLite, in-memory cache, sandbox APIs)',
  );
  return processUrls(ctx, config, DEMO_URLS);
}

async function processUrls(
  ctx: CommandContext,
  config: CliConfig,
  sources: Iterable<string> | AsyncIterable<string>,
): Promise<number> {
  await checkDependencies(ctx, config.redisUrl);
  const runtime = await openRuntime(config, {
    narration: ctx.flags['no-narration'] !== true,
    thumbnails: ctx.flags['no-thumbnails'] !== true,
    logger: ctx.logger,
    announce: (line) => ctx.io.err(`opusclip: ${line}`),
  });
  try {
    ctx.io.err(`opusclip: database ${runtime.db.redactedUrl}, assets in ${config.assetsDir}`);
    const progress = progressReporter({
      io: ctx.io,
      bar: process.stderr.isTTY === true && !ctx.flags.json,
    });
    const summary = await runtime.pipeline.run(
      readVideoUrls(countingSources(sources, progress.read), { signal: ctx.stopSignal }),
      {
        concurrency: numberFlag(ctx, 'concurrency', 4),
        stopSignal: ctx.stopSignal,
        signal: ctx.signal,
        onEvent: progress.onEvent,
      },
    );
    progress.done();
    const extra = await runStats(runtime);
    if (ctx.flags.json) ctx.io.out(JSON.stringify({ ...summary, ...extra }));
    else printSummary(ctx, summary, extra);
    // 130 (as for a shell interrupted by SIGINT): stopped early, the rest of the input was not read.
    if (ctx.stopSignal.aborted) return 130;
    return summary.failed > 0 || summary.badInputs.length > 0 || summary.interrupted > 0 ? 1 : 0;
  } finally {
    await runtime.close();
  }
}

async function runStats(runtime: Runtime): Promise<{ cacheHitRate: number; quota: Record<string, unknown> }> {
  const cacheHitRate = runtime.cache.metrics().cacheHitRate;
  const quota: Record<string, unknown> = {};
  const yt = await runtime.clients.youtube?.quotaUsage().catch(() => undefined);
  if (yt) quota.youtube = yt;
  const stability = runtime.clients.stability?.credits;
  if (stability) quota.stabilityCredits = stability.spent ?? stability;
  return { cacheHitRate, quota };
}

function printSummary(
  ctx: CommandContext,
  s: RunSummary,
  extra: { cacheHitRate: number; quota: Record<string, unknown> },
): void {
  ctx.io.out('');
  ctx.io.out(
    formatTable(
      ['completed', 'failed', 'skipped', 'interrupted', 'bad input', 'clips', 'seconds'],
      [
        [
          s.completed,
          s.failed,
          s.skipped,
          s.interrupted,
          s.badInputs.length,
          s.clips,
          (s.elapsedMs / 1000).toFixed(1),
        ],
      ],
    ),
  );
  const failures = s.outcomes.filter((o) => o.status === 'failed');
  if (failures.length > 0 || s.badInputs.length > 0) {
    ctx.io.out('');
    ctx.io.out(
      formatTable(
        ['input', 'code', 'reason'],
        [
          ...failures.map((o) => [o.url, o.code ?? '', (o.reason ?? '').slice(0, 80)]),
          ...s.badInputs.map((b) => [b.url, b.code, b.reason.slice(0, 80)]),
        ],
      ),
    );
  }
  ctx.io.out('');
  ctx.io.out(
    formatTable(
      ['service', 'API calls'],
      Object.entries(s.apiCalls).map(([k, v]) => [k, v]),
    ),
  );
  ctx.io.out(`\ncache hit rate: ${(extra.cacheHitRate * 100).toFixed(1)} %`);
  const yt = extra.quota.youtube as Array<{ window: string; used: number; limit: number }> | undefined;
  if (Array.isArray(yt)) for (const w of yt) ctx.io.out(`YouTube quota used: ${w.used} of ${w.limit} units`);
}

function requireRedis(config: CliConfig, command: string): string {
  if (!config.redisUrl)
    throw new ConfigError(`opusclip ${command} needs Redis: set REDIS_URL or --redis-url`);
  return config.redisUrl;
}

/**
 * The queue of enqueue/jobs, once Redis has answered. BullMQ's connection errors are kept (the last one
 * is reported if an operation fails) instead of being printed by the driver.
 */
async function openQueue(ctx: CommandContext, redisUrl: string): Promise<PipelineQueue> {
  await checkRedis(redisUrl, { signal: ctx.stopSignal });
  const queue = new PipelineQueue({ connection: redisUrl });
  queue.queue.on('error', (error) =>
    ctx.logger.warn({ err: error.message, redis: redisEndpoint(redisUrl) }, 'redis error'),
  );
  return queue;
}

export async function runEnqueue(ctx: CommandContext): Promise<number> {
  const file = await fileFlag(ctx);
  if (ctx.args.length === 0 && !file) throw new UsageError('give at least one URL, or --file urls.txt');
  const redisUrl = requireRedis(ctx.config, 'enqueue');
  const queue = await openQueue(ctx, redisUrl);
  try {
    const { enqueued, rejected } = await queue.enqueue(urlSources(ctx.args, file), {
      requestId: `cli-${process.pid}`,
      signal: ctx.stopSignal,
    });
    if (ctx.flags.json) ctx.io.out(JSON.stringify({ enqueued, rejected }));
    else {
      for (const e of enqueued)
        ctx.io.out(`${e.duplicate ? 'already queued' : 'enqueued      '} ${e.jobId}  ${e.url}`);
      for (const r of rejected) ctx.io.err(`rejected (line ${r.line}): ${r.reason}`);
    }
    return rejected.length > 0 ? 1 : 0;
  } finally {
    await queue.close();
  }
}

export async function runJobs(ctx: CommandContext): Promise<number> {
  const queue = await openQueue(ctx, requireRedis(ctx.config, 'jobs'));
  try {
    const counts = await queue.counts();
    const jobs = await queue.getJobs(undefined, 0, 49);
    if (ctx.flags.json) ctx.io.out(JSON.stringify({ counts, jobs }));
    else {
      ctx.io.out(formatTable(Object.keys(counts), [Object.values(counts)]));
      ctx.io.out('');
      ctx.io.out(
        formatTable(
          ['job', 'state', 'attempts', 'progress', 'reason'],
          jobs.map((j) => [
            j.id,
            j.state,
            j.attemptsMade,
            JSON.stringify(j.progress ?? ''),
            j.failedReason ?? '',
          ]),
        ),
      );
    }
    return 0;
  } finally {
    await queue.close();
  }
}

export async function runWorker(ctx: CommandContext): Promise<number> {
  const redisUrl = requireRedis(ctx.config, 'worker');
  await checkDependencies(ctx, redisUrl);
  const runtime = await openRuntime(ctx.config, {
    workerMode: true,
    narration: ctx.flags['no-narration'] !== true,
    thumbnails: ctx.flags['no-thumbnails'] !== true,
    logger: ctx.logger,
    announce: (line) => ctx.io.err(`opusclip worker: ${line}`),
  });
  const stalled = ctx.flags['stalled-interval'];
  const worker = startPipelineWorker({
    pipeline: runtime.pipeline,
    connection: redisUrl,
    concurrency: numberFlag(ctx, 'concurrency', 2),
    logger: ctx.logger,
    // The drain ends before the CLI's shutdown bound, so a stop is a clean exit whatever is down.
    closeTimeoutMs: Math.max(100, ctx.config.shutdownTimeoutMs - 3000),
    ...(typeof stalled === 'number' ? { stalledIntervalMs: stalled, lockDurationMs: stalled } : {}),
  });
  ctx.io.err(`opusclip worker ${worker.id}: waiting for jobs (SIGTERM drains)`);
  // Every worker can expose the same Prometheus series as the service (database, cache, HTTP, stages).
  let metricsServer: { url: string; close(): Promise<void> } | undefined;
  let metrics: { close(): void } | undefined;
  try {
    const metricsPort = ctx.flags['metrics-port'];
    if (typeof metricsPort === 'number') {
      const { clients } = runtime;
      const registry = createMetricsRegistry({
        db: runtime.db,
        cache: runtime.cache,
        httpMetrics: [clients.youtube, clients.openai, clients.stability, clients.elevenlabs].filter(
          (c) => c !== undefined,
        ),
      });
      metrics = registry;
      metricsServer = await serveMetrics(registry, { port: metricsPort, host: '0.0.0.0' });
      ctx.io.err(`opusclip worker ${worker.id}: metrics on ${metricsServer.url}`);
    }
    await untilAborted(ctx.stopSignal);
    ctx.io.err(`opusclip worker ${worker.id}: draining`);
    if ((await worker.close()) === 'timed-out') {
      ctx.io.err(
        worker.running > 0
          ? `opusclip worker ${worker.id}: gave up on the ${worker.running} job(s) still running; another worker resumes them once their locks expire`
          : `opusclip worker ${worker.id}: Redis did not answer while closing; stopped without it`,
      );
    }
    return 0;
  } finally {
    await metricsServer?.close();
    metrics?.close();
    await runtime.close();
  }
}

function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

export async function runSandbox(ctx: CommandContext): Promise<number> {
  const chaos = numberFlag(ctx, 'chaos', 0);
  const host = typeof ctx.flags.host === 'string' ? ctx.flags.host : '127.0.0.1';
  const sandbox = await createSandbox({
    port: numberFlag(ctx, 'port', 8787),
    host,
    logger: ctx.logger,
    ...(chaos > 0 ? { config: { chaos: { errorRate: chaos } } } : {}),
  });
  try {
    ctx.io.out(`opusclip sandbox listening on ${sandbox.url}`);
    for (const [vendor, url] of Object.entries(sandbox.baseUrls)) ctx.io.out(`  ${vendor.padEnd(11)} ${url}`);
    await untilAborted(ctx.stopSignal);
    return 0;
  } finally {
    await sandbox.close();
  }
}
