import { randomUUID } from 'node:crypto';
import diagnostics from 'node:diagnostics_channel';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Clock, systemClock } from '../core/clock.js';
import { isOpusError, isTransient, OpusError } from '../core/errors.js';
import { type Logger, silentLogger } from '../core/logger.js';
import { endSpan, startSpan } from '../core/tracing.js';
import { StoreErrorCode } from '../store/errors.js';
import type { Video } from '../store/schema.js';
import type { VideoStore } from '../store/video-store.js';
import { cleanNullable, cleanText } from './clean-text.js';
import { PipelineError, PipelineErrorCode } from './errors.js';
import { titleAndDescriptionTranscript } from './fallback-transcript.js';
import {
  type Lookup,
  type MediaHook,
  noMedia,
  type PipelinePorts,
  type Transcript,
  type VideoMetadata,
} from './pipeline-ports.js';
import type { UrlInput } from './read-video-urls.js';

export const STAGES = [
  'metadata',
  'store',
  'media',
  'transcript',
  'highlights',
  'thumbnails',
  'narration',
  'completed',
] as const;
export type StageName = (typeof STAGES)[number];

export interface PipelineOptions {
  store: VideoStore;
  ports: PipelinePorts;
  assetsDir: string;
  /** Narration is optional (default on when the port exists). Thumbnails default on. */
  narration?: boolean;
  thumbnails?: boolean;
  /** Clips asked of the highlights stage: how many (default 3) and how long (default 15 000-60 000 ms). */
  highlights?: { count?: number; minClipMs?: number; maxClipMs?: number };
  media?: MediaHook;
  clock?: Clock;
  logger?: Logger;
  /**
   * What to do with an error that will pass with time (rate limited, quota exhausted, circuit open):
   * 'fail' marks the video failed (one-machine runs), 'throw' leaves it resumable and rethrows so a job
   * queue can reschedule it (workers).
   */
  onRetryableError?: 'fail' | 'throw';
}

export type VideoOutcomeStatus = 'completed' | 'failed' | 'skipped' | 'interrupted';

export interface VideoOutcome {
  url: string;
  youtubeId: string;
  videoId: string | undefined;
  status: VideoOutcomeStatus;
  reason?: string;
  code?: string;
  clips: number;
  stagesRun: StageName[];
  transcriptSource?: Transcript['source'];
}

export interface BadInput {
  url: string;
  line: number;
  code: string;
  reason: string;
}

export interface RunSummary {
  completed: number;
  failed: number;
  skipped: number;
  interrupted: number;
  badInputs: BadInput[];
  clips: number;
  /** Failures with reasons (all of them), and the first 1,000 other outcomes. */
  outcomes: VideoOutcome[];
  apiCalls: Record<string, number>;
  elapsedMs: number;
}

export type PipelineEvent =
  | { type: 'video'; outcome: VideoOutcome; done: number }
  | { type: 'bad-input'; input: BadInput }
  | { type: 'stage'; youtubeId: string; stage: StageName };

export interface RunOptions {
  concurrency?: number;
  /** Stop taking new videos; the running ones finish. */
  stopSignal?: AbortSignal;
  /** Abort the running ones too; they stay resumable. */
  signal?: AbortSignal;
  onEvent?: (event: PipelineEvent) => void;
}

const METADATA_BATCH = 50;

/** `{ stage, durationMs, outcome }` for each stage a video goes through (metrics subscribe to it). */
export const pipelineStageChannel = diagnostics.channel('opusclip:pipeline:stage');
const KEEP_OUTCOMES = 1000;

/**
 * The complete video processing pipeline. Each stage is idempotent and recorded
 * in the store, so a re-run after an interruption resumes where it stopped and never duplicates clips.
 */
export class VideoPipeline {
  readonly #o: Required<Omit<PipelineOptions, 'narration'>> & { narration: boolean };

  constructor(options: PipelineOptions) {
    this.#o = {
      store: options.store,
      ports: options.ports,
      assetsDir: options.assetsDir,
      narration: options.narration ?? options.ports.narrate !== undefined,
      thumbnails: options.thumbnails ?? true,
      highlights: options.highlights ?? {},
      media: options.media ?? noMedia,
      clock: options.clock ?? systemClock,
      logger: options.logger ?? silentLogger,
      onRetryableError: options.onRetryableError ?? 'fail',
    };
  }

  /**
   * Processes a stream of inputs with bounded concurrency. Metadata is fetched 50 ids a call; only the
   * current batch and the videos in flight are held in memory, so a file of any length streams through.
   */
  async run(
    inputs: AsyncIterable<UrlInput> | Iterable<UrlInput>,
    options: RunOptions = {},
  ): Promise<RunSummary> {
    const started = this.#o.clock.now();
    const concurrency = Math.max(1, options.concurrency ?? 4);
    const summary: RunSummary = {
      completed: 0,
      failed: 0,
      skipped: 0,
      interrupted: 0,
      badInputs: [],
      clips: 0,
      outcomes: [],
      apiCalls: {},
      elapsedMs: 0,
    };
    const inflight = new Set<Promise<void>>();
    let done = 0;
    const record = (outcome: VideoOutcome): void => {
      summary[outcome.status]++;
      summary.clips += outcome.clips;
      if (outcome.status === 'failed' || summary.outcomes.length < KEEP_OUTCOMES)
        summary.outcomes.push(outcome);
      done++;
      options.onEvent?.({ type: 'video', outcome, done });
    };
    const stopped = (): boolean => options.stopSignal?.aborted === true || options.signal?.aborted === true;

    let batch: Array<Extract<UrlInput, { ok: true }>> = [];
    const flush = async (): Promise<void> => {
      const items = batch;
      batch = [];
      const todo: Array<{ item: (typeof items)[number]; existing: Video | undefined }> = [];
      for (const item of items) {
        const existing = await this.#o.store.findVideoByUrl(canonicalUrl(item.videoId));
        if (existing?.status === 'completed') {
          record({
            url: item.url,
            youtubeId: item.videoId,
            videoId: existing.id,
            status: 'skipped',
            reason: 'already completed',
            clips: 0,
            stagesRun: [],
          });
        } else todo.push({ item, existing });
      }
      if (todo.length === 0) return;
      let metas: Array<Lookup<VideoMetadata>>;
      try {
        metas = await this.#o.ports.getVideos(
          todo.map((t) => t.item.videoId),
          options.signal,
        );
      } catch (error) {
        const e = asOpusError(error);
        metas = todo.map(() => ({ ok: false as const, error: e }));
      }
      for (const [i, t] of todo.entries()) {
        while (inflight.size >= concurrency) await Promise.race(inflight);
        // Stopped: the videos already running finish; the rest of the batch is left for a re-run.
        if (stopped()) break;
        const meta = metas[i] ?? {
          ok: false as const,
          error: new PipelineError(PipelineErrorCode.VideoNotFound, `No metadata for ${t.item.videoId}`),
        };
        const p = this.processVideo(t.item.url, t.item.videoId, meta, {
          signal: options.signal,
          onEvent: options.onEvent,
        })
          .then(record)
          .finally(() => inflight.delete(p));
        inflight.add(p);
      }
    };

    for await (const input of inputs) {
      if (stopped()) break;
      if (!input.ok) {
        const bad: BadInput = {
          url: input.url,
          line: input.line,
          code: input.error.code,
          reason: input.error.message,
        };
        summary.badInputs.push(bad);
        options.onEvent?.({ type: 'bad-input', input: bad });
        continue;
      }
      batch.push(input);
      if (batch.length >= METADATA_BATCH) await flush();
    }
    if (batch.length > 0 && !stopped()) await flush();
    await Promise.all(inflight);
    summary.apiCalls = this.#o.ports.callCounts?.() ?? {};
    summary.elapsedMs = this.#o.clock.now() - started;
    return summary;
  }

  /** Runs (or resumes) every stage for one video. Never throws, except transient errors in 'throw' mode. */
  async processVideo(
    url: string,
    youtubeId: string,
    meta: Lookup<VideoMetadata> | undefined,
    options: { signal?: AbortSignal | undefined; onEvent?: ((e: PipelineEvent) => void) | undefined } = {},
  ): Promise<VideoOutcome> {
    const { store } = this.#o;
    const signal = options.signal;
    // exactOptionalPropertyTypes: pass `signal` only when there is one.
    const so: { signal?: AbortSignal } = signal ? { signal } : {};
    const stagesRun: StageName[] = [];
    const outcome: VideoOutcome = {
      url,
      youtubeId,
      videoId: undefined,
      status: 'failed',
      clips: 0,
      stagesRun,
    };
    let stageStarted = performance.now();
    // One span per stage: opened when the previous stage ends, named by the stage that closes it.
    let stageSpan = startSpan('pipeline.stage', { 'opusclip.youtube_id': youtubeId });
    const mark = (stage: StageName): void => {
      stageSpan.updateName(`pipeline.${stage}`);
      stageSpan.setAttribute('opusclip.stage', stage);
      endSpan(stageSpan);
      stageSpan = startSpan('pipeline.stage', { 'opusclip.youtube_id': youtubeId });
      stagesRun.push(stage);
      const now = performance.now();
      if (pipelineStageChannel.hasSubscribers) {
        pipelineStageChannel.publish({ stage, durationMs: now - stageStarted, outcome: 'ok' });
      }
      stageStarted = now;
      options.onEvent?.({ type: 'stage', youtubeId, stage });
    };
    let settled = false;
    const settle = (error?: unknown): void => {
      if (settled) return;
      settled = true;
      endSpan(stageSpan, error);
    };
    try {
      const canonical = canonicalUrl(youtubeId);
      let video = await store.findVideoByUrl(canonical, so);
      if (video?.status === 'completed') {
        settle();
        return { ...outcome, videoId: video.id, status: 'skipped', reason: 'already completed' };
      }
      if (!meta) {
        mark('metadata');
        const [fetched] = await this.#o.ports.getVideos([youtubeId], signal);
        meta = fetched;
      }
      if (!meta?.ok) {
        const error =
          meta?.ok === false ? meta.error : new PipelineError(PipelineErrorCode.VideoNotFound, 'no metadata');
        if (isTransient(error) && this.#o.onRetryableError === 'throw') throw error;
        const id = video?.id ?? (await store.createVideo({ url: canonical }, so)).id;
        await this.#fail(id, error.message);
        settle(error);
        return { ...outcome, videoId: id, reason: error.message, code: error.code };
      }
      const m = meta.value;
      const patch = {
        title: cleanText(m.title),
        description: cleanText(m.description),
        channelId: m.channelId,
        channelTitle: cleanNullable(m.channelTitle),
        publishedAt: m.publishedAt,
        duration: m.durationSeconds,
        viewCount: m.viewCount,
        likeCount: m.likeCount,
      };
      if (!video) {
        const { id } = await store.createVideo({ url: canonical, ...patch }, so);
        mark('store');
        video = (await store.getVideoById(id, so))!;
      } else {
        await store.updateVideo(video.id, patch, so);
      }
      const id = video.id;
      outcome.videoId = id;
      const stages = await store.getStages(id, so);

      if (video.status === 'failed') {
        await store.updateVideoStatus(id, 'pending', so);
        video = { ...video, status: 'pending' };
      }
      if (video.status === 'pending') {
        await store.updateVideoStatus(id, 'downloading', so);
        video = { ...video, status: 'downloading' };
      }
      if (video.status === 'downloading') {
        if (!stages.has('media')) {
          await this.#o.media({ id, url: canonical, sourceVideoId: youtubeId }, signal);
          await store.recordStage(id, 'media', { hook: true }, so);
          mark('media');
        }
        await store.updateVideoStatus(id, 'processing', so);
      }

      let transcript = stages.get('transcript')?.result as Transcript | undefined;
      if (!transcript) {
        const raw = await this.#transcript(m, signal);
        transcript = { ...raw, segments: raw.segments.map((g) => ({ ...g, text: cleanText(g.text) })) };
        await store.recordStage(id, 'transcript', transcript, so);
        mark('transcript');
      }
      outcome.transcriptSource = transcript.source;

      if (!stages.has('highlights')) {
        const h = this.#o.highlights;
        const candidates = await this.#o.ports.selectHighlights(
          m,
          transcript,
          {
            count: h.count ?? 3,
            minClipMs: h.minClipMs ?? 15_000,
            maxClipMs: h.maxClipMs ?? 60_000,
          },
          signal,
        );
        const duration = m.durationSeconds ?? Number.POSITIVE_INFINITY;
        const clips = candidates
          .filter((c) => c.start >= 0 && c.end > c.start && c.end <= duration)
          .map((c) => ({
            startTime: c.start,
            endTime: c.end,
            title: cleanText(c.title),
            caption: cleanText(c.caption),
            score: c.score,
          }));
        // Clips and the stage record commit together: a crash between them cannot leave clips that a
        // re-run would add again.
        await store.transaction(async (s) => {
          await s.replaceClips(id, clips, so);
          await s.recordStage(id, 'highlights', { clips: clips.length, source: transcript.source }, so);
        });
        mark('highlights');
      }

      const clips = await store.getClipsByVideoId(id, so);
      if (this.#o.thumbnails && clips.some((c) => !c.thumbnailPath)) {
        for (const clip of clips) {
          if (clip.thumbnailPath) continue;
          const asset = await this.#o.ports.generateThumbnail(
            m,
            { title: clip.title ?? m.title, caption: clip.caption ?? '' },
            signal,
          );
          const path = await this.#writeAsset(id, `${clip.id}-thumbnail.${asset.extension}`, asset.bytes);
          await store.updateClipAssets(clip.id, { thumbnailPath: path }, so);
        }
        mark('thumbnails');
      }
      if (this.#o.narration && this.#o.ports.narrate && clips.some((c) => !c.narrationPath)) {
        for (const clip of clips) {
          if (clip.narrationPath) continue;
          const text = clip.caption || clip.title || m.title;
          const asset = await this.#o.ports.narrate(text, signal);
          const path = await this.#writeAsset(id, `${clip.id}-narration.${asset.extension}`, asset.bytes);
          await store.updateClipAssets(clip.id, { narrationPath: path }, so);
        }
        mark('narration');
      }
      await store.updateVideoStatus(id, 'completed', so);
      mark('completed');
      settle();
      return { ...outcome, status: 'completed', clips: clips.length };
    } catch (error) {
      settle(error);
      if (signal?.aborted) {
        return { ...outcome, status: 'interrupted', reason: 'interrupted; resumable' };
      }
      const e = asOpusError(error);
      if (isTransient(e) && this.#o.onRetryableError === 'throw') throw e;
      // The reason is stored on the video, also when the failure came before its row was written.
      outcome.videoId ??= await store
        .createVideo({ url: canonicalUrl(youtubeId) }, so)
        .then((created) => created.id)
        .catch(() => undefined);
      if (outcome.videoId) await this.#fail(outcome.videoId, e.message).catch(() => {});
      this.#o.logger.warn({ youtubeId, code: e.code, err: e.message }, 'video failed');
      return { ...outcome, reason: e.message, code: e.code };
    }
  }

  async #transcript(m: VideoMetadata, signal: AbortSignal | undefined): Promise<Transcript> {
    const ports = this.#o.ports;
    if (ports.getCaptions && m.hasCaptions) {
      try {
        const segments = await ports.getCaptions(m, signal);
        if (segments && segments.length > 0) return { source: 'captions', segments };
      } catch (error) {
        // Captions need OAuth and ownership of the video; anything else falls back rather than failing.
        if (isTransient(error)) throw error;
        this.#o.logger.debug({ youtubeId: m.videoId, err: (error as Error).message }, 'captions unavailable');
      }
    }
    if (ports.transcribe) {
      const segments = await ports.transcribe(m, signal);
      if (segments && segments.length > 0) return { source: 'speech-to-text', segments };
    }
    return { source: 'title-and-description', segments: titleAndDescriptionTranscript(m) };
  }

  async #fail(videoId: string, reason: string): Promise<void> {
    try {
      await this.#o.store.updateVideoStatus(videoId, 'failed', { reason: cleanText(reason, 1000) });
    } catch (error) {
      // Already failed (or completed by another worker): the status is final either way.
      if (!isOpusError(error, StoreErrorCode.InvalidTransition)) throw error;
    }
  }

  /** Writes to a temporary name, then renames, so a crash never leaves a half file that is recorded. */
  async #writeAsset(videoId: string, name: string, bytes: Uint8Array): Promise<string> {
    const dir = join(this.#o.assetsDir, videoId);
    await mkdir(dir, { recursive: true });
    const path = join(dir, name);
    const tmp = `${path}.${randomUUID()}.tmp`;
    await writeFile(tmp, bytes);
    await rename(tmp, path);
    return path;
  }
}

export function canonicalUrl(youtubeId: string): string {
  return `https://www.youtube.com/watch?v=${youtubeId}`;
}

function asOpusError(error: unknown): OpusError {
  if (error instanceof OpusError) return error;
  return new PipelineError(PipelineErrorCode.Stage, error instanceof Error ? error.message : String(error), {
    cause: error,
  });
}
