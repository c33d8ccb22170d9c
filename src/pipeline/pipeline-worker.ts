import { hostname } from 'node:os';
import { type ConnectionOptions, DelayedError, type Job, UnrecoverableError, Worker } from 'bullmq';
import { isOpusError } from '../core/errors.js';
import { type Logger, silentLogger } from '../core/logger.js';
import { PipelineErrorCode } from './pipeline-error.js';
import { DEFAULT_QUEUE_NAME, redisOptionsFromUrl, type VideoJobData } from './pipeline-queue.js';
import { isTransientError, type VideoOutcome, type VideoPipeline } from './video-pipeline.js';

export interface PipelineWorkerOptions {
  /** A pipeline built with `onRetryableError: 'throw'`, so rate limits and quotas reach the queue. */
  pipeline: VideoPipeline;
  connection: ConnectionOptions | string;
  name?: string;
  prefix?: string;
  concurrency?: number;
  logger?: Logger;
  /** How long a job's lock lasts without renewal; a dead worker's job is taken over after it. */
  lockDurationMs?: number;
  /** How often stalled jobs (their worker died) are looked for. */
  stalledIntervalMs?: number;
}

/** Inputs that no retry will fix. */
const PERMANENT = new Set<string>([
  PipelineErrorCode.BadUrl,
  PipelineErrorCode.VideoNotFound,
  'ERR_HTTP_NOT_FOUND',
]);

export interface PipelineWorker {
  readonly worker: Worker<VideoJobData, VideoOutcome>;
  readonly id: string;
  /** Stops taking jobs and waits for the running ones (SIGTERM drains through this). */
  close(): Promise<void>;
}

/**
 * The consumer side of the distributed pipeline: any number of these, in any number of processes on any
 * number of machines sharing the database and Redis. BullMQ's locks and stalled-job recovery move a dead
 * worker's job to another; the pipeline's recorded, idempotent stages make the re-run resume without
 * duplicating clips.
 */
export function startPipelineWorker(options: PipelineWorkerOptions): PipelineWorker {
  const logger = options.logger ?? silentLogger;
  const connection =
    typeof options.connection === 'string' ? redisOptionsFromUrl(options.connection) : options.connection;
  const id = `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
  const processor = async (job: Job<VideoJobData, VideoOutcome>, token?: string): Promise<VideoOutcome> => {
    const { url, youtubeId, requestId } = job.data;
    const log = { jobId: job.id, youtubeId, requestId, worker: id, attempt: job.attemptsMade + 1 };
    logger.info(log, 'job started');
    try {
      const outcome = await options.pipeline.processVideo(url, youtubeId, undefined, {
        onEvent: (event) => {
          if (event.type === 'stage') void job.updateProgress({ stage: event.stage }).catch(() => {});
        },
      });
      if (outcome.status === 'failed') {
        logger.warn({ ...log, code: outcome.code, reason: outcome.reason }, 'job failed');
        if (outcome.code && PERMANENT.has(outcome.code))
          throw new UnrecoverableError(outcome.reason ?? 'failed');
        throw new Error(outcome.reason ?? 'failed');
      }
      logger.info({ ...log, status: outcome.status, clips: outcome.clips }, 'job done');
      return outcome;
    } catch (error) {
      if (isTransientError(error) && token) {
        // A rate limit or an exhausted quota is not a failure: wait for the reset, then run again.
        const details = isOpusError(error) ? error.details : {};
        const retryAt =
          typeof (error as { retryAt?: unknown }).retryAt === 'number'
            ? (error as { retryAt: number }).retryAt
            : typeof details.retryAt === 'number'
              ? details.retryAt
              : Date.now() + 30_000;
        logger.warn(
          { ...log, code: (error as { code?: string }).code, retryAt: new Date(retryAt).toISOString() },
          'job delayed',
        );
        await job.moveToDelayed(Math.max(retryAt, Date.now() + 100), token);
        throw new DelayedError();
      }
      throw error;
    }
  };
  const worker = new Worker<VideoJobData, VideoOutcome>(options.name ?? DEFAULT_QUEUE_NAME, processor, {
    connection,
    concurrency: options.concurrency ?? 2,
    ...(options.prefix ? { prefix: options.prefix } : {}),
    lockDuration: options.lockDurationMs ?? 30_000,
    stalledInterval: options.stalledIntervalMs ?? 30_000,
    maxStalledCount: 3,
  });
  worker.on('error', (error) => logger.error({ err: error.message }, 'worker error'));
  return {
    worker,
    id,
    close: () => worker.close(),
  };
}
