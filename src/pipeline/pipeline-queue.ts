import { type ConnectionOptions, type Job, type JobType, Queue } from 'bullmq';
import { queueConnection } from './queue-connection.js';
import { readVideoUrls } from './read-video-urls.js';
import type { BadInput } from './video-pipeline.js';

export const DEFAULT_QUEUE_NAME = 'opusclip-videos';

/** One job per video. The payload carries no secrets: keys stay with the workers. */
export interface VideoJobData {
  url: string;
  youtubeId: string;
  /** The HTTP request (or CLI run) that created the job, carried into the worker's logs. */
  requestId?: string;
}

export interface EnqueueResult {
  jobId: string;
  youtubeId: string;
  url: string;
  /** True when a job for this video already existed (waiting, active or delayed): nothing was added. */
  duplicate: boolean;
}

export type QueueJobState = 'waiting' | 'active' | 'completed' | 'failed' | 'delayed' | 'prioritized';

export interface QueueJobInfo {
  id: string;
  youtubeId: string;
  url: string;
  state: QueueJobState | 'unknown';
  progress: unknown;
  attemptsMade: number;
  failedReason: string | undefined;
  createdAt: Date;
  finishedAt: Date | undefined;
  requestId: string | undefined;
  result: unknown;
}

export interface PipelineQueueOptions {
  /**
   * An ioredis connection (or its options), a `redis://` URL, or a `redis+cluster://host:port,…` URL
   * of a Redis Cluster's seed nodes.
   */
  connection: ConnectionOptions | string;
  name?: string;
  /**
   * Key prefix in Redis (BullMQ's `prefix`), to share one Redis between deployments. On a Redis Cluster
   * it is wrapped in a hash tag (`{prefix}`, default `{bull}`) so each queue's keys share one slot.
   */
  prefix?: string;
  /** Attempts per job before it is failed for good (default 5), with exponential backoff. */
  attempts?: number;
}

/**
 * The producer side of the distributed pipeline on BullMQ: `enqueue` adds one job per video with the
 * YouTube id as job id, so enqueuing the same video twice while it is pending adds nothing.
 */
export class PipelineQueue {
  readonly queue: Queue<VideoJobData>;
  readonly #attempts: number;
  readonly #closeConnection: () => Promise<void>;

  constructor(options: PipelineQueueOptions) {
    const { connection, prefix, close } = queueConnection(options.connection, options.prefix);
    this.#closeConnection = close;
    this.queue = new Queue<VideoJobData>(options.name ?? DEFAULT_QUEUE_NAME, {
      connection,
      ...(prefix ? { prefix } : {}),
    });
    this.#attempts = options.attempts ?? 5;
  }

  async enqueue(
    urls: Iterable<string> | AsyncIterable<string>,
    options: { requestId?: string; priority?: number; signal?: AbortSignal } = {},
  ): Promise<{ enqueued: EnqueueResult[]; rejected: BadInput[] }> {
    const enqueued: EnqueueResult[] = [];
    const rejected: BadInput[] = [];
    const signalOpt = options.signal ? { signal: options.signal } : {};
    for await (const input of readVideoUrls(urls, signalOpt)) {
      if (!input.ok) {
        rejected.push({
          url: input.url,
          line: input.line,
          code: input.error.code,
          reason: input.error.message,
        });
        continue;
      }
      const jobId = jobIdFor(input.videoId);
      const existing = await this.queue.getJob(jobId);
      const state = existing ? await existing.getState() : undefined;
      if (existing && state !== 'completed' && state !== 'failed') {
        enqueued.push({ jobId, youtubeId: input.videoId, url: input.url, duplicate: true });
        continue;
      }
      // A finished job with the same id would make BullMQ ignore the add; remove it to process again.
      if (existing) await existing.remove();
      const data: VideoJobData = { url: input.url, youtubeId: input.videoId };
      if (options.requestId) data.requestId = options.requestId;
      await this.queue.add('video', data, {
        jobId,
        attempts: this.#attempts,
        backoff: { type: 'exponential', delay: 2000 },
        removeOnComplete: { age: 7 * 24 * 3600, count: 10_000 },
        removeOnFail: { age: 30 * 24 * 3600 },
        ...(options.priority !== undefined ? { priority: options.priority } : {}),
      });
      enqueued.push({ jobId, youtubeId: input.videoId, url: input.url, duplicate: false });
    }
    return { enqueued, rejected };
  }

  async getJobs(
    states: readonly QueueJobState[] = ['active', 'waiting', 'delayed', 'failed', 'completed'],
    start = 0,
    end = 99,
  ): Promise<QueueJobInfo[]> {
    const jobs = await this.queue.getJobs(states as JobType[], start, end);
    return Promise.all(jobs.filter((j): j is Job<VideoJobData> => !!j).map((j) => describeJob(j)));
  }

  async getJob(id: string): Promise<QueueJobInfo | undefined> {
    const job = await this.queue.getJob(id);
    return job ? describeJob(job) : undefined;
  }

  async counts(): Promise<Record<QueueJobState, number>> {
    const c = await this.queue.getJobCounts(
      'waiting',
      'active',
      'completed',
      'failed',
      'delayed',
      'prioritized',
    );
    return c as Record<QueueJobState, number>;
  }

  async close(): Promise<void> {
    try {
      await this.queue.close();
    } finally {
      await this.#closeConnection();
    }
  }
}

export function jobIdFor(youtubeId: string): string {
  // BullMQ job ids may not be plain integers or contain ':'; YouTube ids never do, the prefix makes sure.
  return `yt-${youtubeId}`;
}

async function describeJob(job: Job<VideoJobData>): Promise<QueueJobInfo> {
  const state = (await job.getState()) as QueueJobState | 'unknown';
  return {
    id: job.id ?? '',
    youtubeId: job.data.youtubeId,
    url: job.data.url,
    state,
    progress: job.progress,
    attemptsMade: job.attemptsMade,
    failedReason: job.failedReason || undefined,
    createdAt: new Date(job.timestamp),
    finishedAt: job.finishedOn ? new Date(job.finishedOn) : undefined,
    requestId: job.data.requestId,
    result: job.returnvalue,
  };
}
