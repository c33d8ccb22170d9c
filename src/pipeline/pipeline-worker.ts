import { hostname } from 'node:os';
import { type ConnectionOptions, DelayedError, type Job, UnrecoverableError, Worker } from 'bullmq';
import { type Clock, systemClock } from '../core/clock.js';
import { isTransient, retryTime } from '../core/errors.js';
import { type Logger, silentLogger } from '../core/logger.js';
import { DEFAULT_QUEUE_NAME, type VideoJobData } from './pipeline-queue.js';
import { queueConnection } from './queue-connection.js';
import type { VideoOutcome, VideoPipeline } from './video-pipeline.js';

export interface PipelineWorkerOptions {
  /** A pipeline built with `onRetryableError: 'throw'`, so rate limits and quotas reach the queue. */
  pipeline: VideoPipeline;
  /** As PipelineQueue's: a client or its options, a `redis://` or a `redis+cluster://` URL. */
  connection: ConnectionOptions | string;
  name?: string;
  /** As PipelineQueue's (hash-tagged on a Redis Cluster). */
  prefix?: string;
  concurrency?: number;
  logger?: Logger;
  /** How long a job's lock lasts without renewal; a dead worker's job is taken over after it. */
  lockDurationMs?: number;
  /** How often stalled jobs (their worker died) are looked for. */
  stalledIntervalMs?: number;
  /**
   * How long close() waits for running jobs to finish (default 10 s). Past it, the worker stops without
   * them: their locks expire and another worker takes them over, and their recorded stages make the
   * re-run resume. Also what bounds close() when Redis is unreachable.
   */
  closeTimeoutMs?: number;
  clock?: Clock;
}

/** When a transient error names no time to retry at. */
const DEFAULT_RETRY_DELAY_MS = 30_000;

/** How often the same worker error is logged again while it persists. */
const REPEATED_ERROR_INTERVAL_MS = 60_000;

export interface PipelineWorker {
  readonly worker: Worker<VideoJobData, VideoOutcome>;
  readonly id: string;
  /** Jobs this worker is running now. */
  readonly running: number;
  /**
   * Stops taking jobs and waits for the running ones, up to `closeTimeoutMs`; resolves `'drained'` or
   * `'timed-out'` (SIGTERM drains through this).
   */
  close(): Promise<'drained' | 'timed-out'>;
}

/**
 * The consumer side of the distributed pipeline: any number of these, in any number of processes on any
 * number of machines sharing the database and Redis. BullMQ's locks and stalled-job recovery move a dead
 * worker's job to another; the pipeline's recorded, idempotent stages make the re-run resume without
 * duplicating clips.
 */
export function startPipelineWorker(options: PipelineWorkerOptions): PipelineWorker {
  const logger = options.logger ?? silentLogger;
  const { connection, prefix, close: closeConnection } = queueConnection(options.connection, options.prefix);
  const id = `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
  let running = 0;
  const processor = async (job: Job<VideoJobData, VideoOutcome>, token?: string): Promise<VideoOutcome> => {
    running++;
    try {
      return await runJob(job, token);
    } finally {
      running--;
    }
  };
  const runJob = async (job: Job<VideoJobData, VideoOutcome>, token?: string): Promise<VideoOutcome> => {
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
        // The pipeline rethrows what waiting can fix (it runs with onRetryableError: 'throw'), so a
        // failed outcome is permanent: the job fails now, with the reason the video row also holds.
        logger.warn({ ...log, code: outcome.code, reason: outcome.reason }, 'job failed');
        throw new UnrecoverableError(
          outcome.code ? `${outcome.code}: ${outcome.reason ?? 'failed'}` : (outcome.reason ?? 'failed'),
        );
      }
      logger.info({ ...log, status: outcome.status, clips: outcome.clips }, 'job done');
      return outcome;
    } catch (error) {
      if (isTransient(error) && token) {
        // A rate limit, an exhausted quota, an open breaker or an outage is not a failure: wait until
        // the error's retryAt, then run again.
        const clock = options.clock ?? systemClock;
        const retryAt = retryTime(error, clock.now(), DEFAULT_RETRY_DELAY_MS);
        logger.warn(
          { ...log, code: (error as { code?: string }).code, retryAt: new Date(retryAt).toISOString() },
          'job delayed',
        );
        await job.moveToDelayed(Math.max(retryAt, clock.now() + 100), token);
        throw new DelayedError();
      }
      if (error instanceof UnrecoverableError) throw error;
      // Anything else that escaped the pipeline is permanent too: retrying would repeat it.
      throw new UnrecoverableError(error instanceof Error ? error.message : String(error));
    }
  };
  const worker = new Worker<VideoJobData, VideoOutcome>(options.name ?? DEFAULT_QUEUE_NAME, processor, {
    connection,
    concurrency: options.concurrency ?? 2,
    ...(prefix ? { prefix } : {}),
    lockDuration: options.lockDurationMs ?? 30_000,
    stalledInterval: options.stalledIntervalMs ?? 30_000,
    maxStalledCount: 3,
  });
  // While Redis is down BullMQ reports every reconnection attempt (about ten a second on a Cluster):
  // one line per distinct failure, repeated at most once a minute while it lasts.
  let lastError = '';
  let lastErrorAt = Number.NEGATIVE_INFINITY;
  worker.on('error', (error) => {
    const now = (options.clock ?? systemClock).now();
    if (error.message === lastError && now - lastErrorAt < REPEATED_ERROR_INTERVAL_MS) return;
    lastError = error.message;
    lastErrorAt = now;
    logger.error({ err: error.message }, 'worker error');
  });
  const closeTimeoutMs = options.closeTimeoutMs ?? 10_000;
  let closing: Promise<'drained' | 'timed-out'> | undefined;
  return {
    worker,
    id,
    get running() {
      return running;
    },
    close: () => {
      closing ??= boundedClose(worker, closeTimeoutMs, options.clock ?? systemClock).then(async (result) => {
        await closeConnection();
        return result;
      });
      return closing;
    },
  };
}

async function boundedClose(
  worker: Worker,
  timeoutMs: number,
  clock: Clock,
): Promise<'drained' | 'timed-out'> {
  let cancel: (() => void) | undefined;
  const expired = new Promise<'timed-out'>((resolve) => {
    cancel = clock.setTimer(timeoutMs, () => resolve('timed-out'));
  });
  const drained = worker.close().then(
    () => 'drained' as const,
    () => 'drained' as const,
  );
  const result = await Promise.race([drained, expired]);
  cancel?.();
  if (result === 'timed-out') {
    // force: do not wait for running jobs; disconnect: do not wait for a Redis that does not answer.
    void worker.close(true).catch(() => {});
    void worker.disconnect().catch(() => {});
  }
  return result;
}
