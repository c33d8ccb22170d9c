import { InvalidArgumentError } from '../../core/errors.js';
import { PipelineQueue } from '../../pipeline/pipeline-queue.js';
import { startPipelineWorker } from '../../pipeline/pipeline-worker.js';
import { readVideoUrls, urlSources } from '../../pipeline/read-video-urls.js';
import type { PipelineEvent, RunSummary } from '../../pipeline/video-pipeline.js';
import { createSandbox } from '../../sandbox/index.js';
import { createMetricsRegistry, serveMetrics } from '../../server/metrics-registry.js';
import type { CliConfig } from '../cli-config.js';
import type { CommandContext } from '../main.js';
import { formatTable } from '../output.js';
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

function concurrencyOf(ctx: CommandContext, fallback: number): number {
  const raw = ctx.flags.concurrency;
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 256) {
    throw new InvalidArgumentError(
      `--concurrency must be a whole number from 1 to 256, not "${String(raw)}"`,
    );
  }
  return n;
}

export async function runProcess(ctx: CommandContext): Promise<number> {
  const file = ctx.flags.file as string | undefined;
  if (ctx.args.length === 0 && !file)
    throw new InvalidArgumentError('Usage: opusclip process <url...> [--file urls.txt]');
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
  const runtime = await openRuntime(config, {
    narration: ctx.flags['no-narration'] !== true,
    thumbnails: ctx.flags['no-thumbnails'] !== true,
    announce: (line) => ctx.io.err(`opusclip: ${line}`),
  });
  try {
    ctx.io.err(`opusclip: database ${runtime.db.redactedUrl}, assets in ${config.assetsDir}`);
    const progress = progressReporter(ctx);
    const summary = await runtime.pipeline.run(readVideoUrls(sources, { signal: ctx.stopSignal }), {
      concurrency: concurrencyOf(ctx, 4),
      stopSignal: ctx.stopSignal,
      signal: ctx.signal,
      onEvent: progress.onEvent,
    });
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

function progressReporter(ctx: CommandContext): { onEvent: (e: PipelineEvent) => void; done: () => void } {
  const tty = process.stderr.isTTY === true && !ctx.flags.json;
  let completed = 0;
  let failed = 0;
  let other = 0;
  const render = (): void => {
    const total = completed + failed + other;
    const bar = '#'.repeat(Math.min(30, total % 31)).padEnd(30, '.');
    process.stderr.write(`\r[${bar}] ${total} videos: ${completed} done, ${failed} failed, ${other} skipped`);
  };
  return {
    onEvent(e) {
      if (e.type === 'bad-input') {
        if (!tty) ctx.io.err(`bad input (line ${e.input.line}): ${e.input.reason}`);
        return;
      }
      if (e.type !== 'video') return;
      const o = e.outcome;
      if (o.status === 'completed') completed++;
      else if (o.status === 'failed') failed++;
      else other++;
      if (tty) render();
      else
        ctx.io.err(
          `${o.status.padEnd(11)} ${o.youtubeId} ${o.clips} clips${o.reason ? `  (${o.reason})` : ''}`,
        );
    },
    done() {
      if (tty) process.stderr.write('\n');
    },
  };
}

function requireRedis(config: CliConfig, command: string): string {
  if (!config.redisUrl)
    throw new InvalidArgumentError(`opusclip ${command} needs Redis: set REDIS_URL or --redis-url`);
  return config.redisUrl;
}

export async function runEnqueue(ctx: CommandContext): Promise<number> {
  const redisUrl = requireRedis(ctx.config, 'enqueue');
  const file = ctx.flags.file as string | undefined;
  if (ctx.args.length === 0 && !file)
    throw new InvalidArgumentError('Usage: opusclip enqueue <url...> [--file urls.txt]');
  const queue = new PipelineQueue({ connection: redisUrl });
  try {
    const { enqueued, rejected } = await queue.enqueue(urlSources(ctx.args, file), {
      requestId: `cli-${process.pid}`,
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
  const queue = new PipelineQueue({ connection: requireRedis(ctx.config, 'jobs') });
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
  const runtime = await openRuntime(ctx.config, {
    workerMode: true,
    narration: ctx.flags['no-narration'] !== true,
    thumbnails: ctx.flags['no-thumbnails'] !== true,
    announce: (line) => ctx.io.err(`opusclip worker: ${line}`),
  });
  const worker = startPipelineWorker({
    pipeline: runtime.pipeline,
    connection: redisUrl,
    concurrency: concurrencyOf(ctx, 2),
    ...(ctx.flags['stalled-interval']
      ? {
          stalledIntervalMs: Number(ctx.flags['stalled-interval']),
          lockDurationMs: Number(ctx.flags['stalled-interval']),
        }
      : {}),
  });
  ctx.io.err(`opusclip worker ${worker.id}: waiting for jobs (SIGTERM drains)`);
  // Every worker can expose the same Prometheus series as the service (database, cache, HTTP, stages).
  let metricsServer: { url: string; close(): Promise<void> } | undefined;
  let metrics: { close(): void } | undefined;
  if (ctx.flags['metrics-port'] !== undefined) {
    const port = Number(ctx.flags['metrics-port']);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new InvalidArgumentError('--metrics-port must be 0..65535');
    const { clients } = runtime;
    const registry = createMetricsRegistry({
      db: runtime.db,
      cache: runtime.cache,
      httpMetrics: [clients.youtube, clients.openai, clients.stability, clients.elevenlabs].filter(
        (c) => c !== undefined,
      ),
    });
    metrics = registry;
    metricsServer = await serveMetrics(registry, { port, host: '0.0.0.0' });
    ctx.io.err(`opusclip worker ${worker.id}: metrics on ${metricsServer.url}`);
  }
  try {
    await new Promise<void>((resolve) => {
      if (ctx.stopSignal.aborted) resolve();
      ctx.stopSignal.addEventListener('abort', () => resolve(), { once: true });
    });
    ctx.io.err(`opusclip worker ${worker.id}: draining`);
    await worker.close();
    return 0;
  } finally {
    await metricsServer?.close();
    metrics?.close();
    await runtime.close();
  }
}

export async function runSandbox(ctx: CommandContext): Promise<number> {
  const port = ctx.flags.port === undefined ? 8787 : Number(ctx.flags.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new InvalidArgumentError('--port must be 0..65535');
  const chaos = ctx.flags.chaos === undefined ? 0 : Number(ctx.flags.chaos);
  const sandbox = await createSandbox({
    port,
    host: '127.0.0.1',
    ...(chaos > 0 ? { config: { chaos: { errorRate: chaos } } } : {}),
  });
  ctx.io.out(`opusclip sandbox listening on ${sandbox.url}`);
  for (const [vendor, url] of Object.entries(sandbox.baseUrls)) ctx.io.out(`  ${vendor.padEnd(11)} ${url}`);
  await new Promise<void>((resolve) =>
    ctx.stopSignal.addEventListener('abort', () => resolve(), { once: true }),
  );
  await sandbox.close();
  return 0;
}
