import type { Cluster, Redis } from 'ioredis';
import type { ApiClients } from '../apis/api-clients.js';
import { openAiWindows } from '../apis/openai/openai-quota.js';
import { stabilityCreditWindow, stabilityWindows } from '../apis/stability/stability-quota.js';
import { youtubeQuotaWindows } from '../apis/youtube/youtube-quota.js';
import { isOpusError } from '../core/errors.js';
import { Budget } from '../resilience/budget.js';
import type { WindowSpec } from '../resilience/budget-backend.js';
import { RedisBudgetBackend } from '../resilience/redis-budget-backend.js';
import { PipelineError, PipelineErrorCode } from './errors.js';
import type { Lookup, PipelinePorts, VideoMetadata } from './pipeline-ports.js';

export interface PortsOptions {
  /** Image model for thumbnails (default core: the cheapest, 3 credits). */
  thumbnailModel?: 'core' | 'ultra' | 'sd3';
  /** ElevenLabs voice for narration. */
  voiceId?: string;
  /**
   * Try YouTube captions first (they need an OAuth token for a video the caller owns); off by default, as
   * an API key alone can never download them.
   */
  captions?: boolean;
}

/**
 * Adapts the API clients to the pipeline's ports. Counts calls per service for the run summary.
 * A client that is missing (no key, stage switched off) leaves its port out.
 */
export function createPipelinePorts(clients: ApiClients, options: PortsOptions = {}): PipelinePorts {
  const { youtube, openai, stability, elevenlabs } = clients;
  if (!youtube)
    throw new PipelineError(PipelineErrorCode.MissingKey, 'The metadata stage needs the YouTube client');
  if (!openai)
    throw new PipelineError(PipelineErrorCode.MissingKey, 'The highlights stage needs the OpenAI client');
  const calls: Record<string, number> = {};
  const count = (service: string, n = 1): void => {
    calls[service] = (calls[service] ?? 0) + n;
  };
  const so = (signal: AbortSignal | undefined) => (signal ? { signal } : {});
  const ports: PipelinePorts = {
    async getVideos(ids, signal): Promise<Array<Lookup<VideoMetadata>>> {
      count('youtube', Math.ceil(ids.length / 50));
      const results = await youtube.getVideosInfo(ids, so(signal));
      return results.map((r) =>
        r.ok
          ? {
              ok: true as const,
              value: {
                videoId: r.value.id,
                title: r.value.title,
                description: r.value.description,
                channelId: r.value.channelId || null,
                channelTitle: r.value.channelTitle || null,
                publishedAt: r.value.publishedAt ? new Date(r.value.publishedAt) : null,
                durationSeconds: r.value.durationSeconds,
                viewCount: r.value.statistics.viewCount,
                likeCount: r.value.statistics.likeCount ?? null,
                hasCaptions: r.value.captionsAvailable,
              },
            }
          : r,
      );
    },
    async getCaptions(video, signal) {
      if (!options.captions) return undefined;
      try {
        count('youtube', 2);
        const captions = await youtube.getVideoCaptions(video.videoId, so(signal));
        return captions.segments;
      } catch (error) {
        // No OAuth token, or not the caller's video: the pipeline falls back to another source.
        if (isOpusError(error) && /OAUTH|FORBIDDEN|NOT_FOUND/.test(error.code)) return undefined;
        throw error;
      }
    },
    async selectHighlights(_video, transcript, limits, signal) {
      count('openai');
      const selection = await openai.selectHighlights(transcript.segments, {
        count: limits.count,
        minClipMs: limits.minClipMs,
        maxClipMs: limits.maxClipMs,
        ...so(signal),
      });
      return selection.clips.map((c) => ({
        start: c.start,
        end: c.end,
        title: c.title,
        caption: c.caption,
        score: c.score,
      }));
    },
    async generateThumbnail(video, clip, signal) {
      if (!stability)
        throw new PipelineError(PipelineErrorCode.MissingKey, 'Thumbnails need the Stability client');
      count('stability');
      const image = await stability.generateVideoThumbnail(`${video.title}: ${clip.title}`, clip.caption, {
        model: options.thumbnailModel ?? 'core',
        outputFormat: 'png',
        ...so(signal),
      });
      return { bytes: image.image, extension: extensionFor(image.contentType, 'png') };
    },
    callCounts: () => ({ ...calls }),
  };
  if (elevenlabs) {
    ports.narrate = async (text, signal) => {
      const narration = await elevenlabs.generateVideoNarration(text, {
        ...(options.voiceId ? { voiceId: options.voiceId } : {}),
        ...so(signal),
      });
      count('elevenlabs', narration.parts.length);
      return { bytes: narration.audio, extension: extensionFor(narration.contentType, 'mp3') };
    };
  }
  return ports;
}

function extensionFor(contentType: string, fallback: string): string {
  const sub = /^(?:image|audio)\/([a-z0-9.+-]+)/i.exec(contentType)?.[1]?.toLowerCase();
  if (!sub) return fallback;
  if (sub === 'mpeg') return 'mp3';
  if (sub === 'jpeg') return 'jpg';
  return sub;
}

export interface SharedBudgetOptions {
  youtubeDailyUnits?: number;
  openAiRequestsPerMinute?: number;
  openAiTokensPerMinute?: number;
  stabilityRequestsPer10s?: number;
  /** The Stability account's credits per UTC month, shared by every worker and the gateway (default: counted, not limited). */
  stabilityCreditsPerMonth?: number;
  elevenLabsConcurrent?: number;
}

/**
 * Budgets kept in Redis, so that every worker on every machine draws from one YouTube quota, one OpenAI
 * tokens-per-minute allowance, one Stability window and one ElevenLabs concurrency limit.
 */
export function sharedBudgets(
  redis: Redis | Cluster,
  prefix = 'opusclip:budget',
  options: SharedBudgetOptions = {},
): { youtube: Budget; openai: Budget; stability: Budget; elevenlabs: Budget } {
  const make = (name: string, windows: WindowSpec[]): Budget =>
    new Budget({
      name,
      windows,
      backend: new RedisBudgetBackend({ redis, key: `${prefix}:${name}`, windows }),
    });
  return {
    youtube: make('youtube', youtubeQuotaWindows(options.youtubeDailyUnits ?? 10_000)),
    openai: make(
      'openai',
      openAiWindows(options.openAiRequestsPerMinute ?? 500, options.openAiTokensPerMinute ?? 200_000),
    ),
    stability: make('stability', [
      ...stabilityWindows(options.stabilityRequestsPer10s ?? 150),
      stabilityCreditWindow(options.stabilityCreditsPerMonth),
    ]),
    elevenlabs: make('elevenlabs', [
      { name: 'concurrent', kind: 'concurrent', limit: options.elevenLabsConcurrent ?? 5 },
    ]),
  };
}
