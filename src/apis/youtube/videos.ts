import { type BatchResult, chunk, mapSettled } from '../batch.js';
import { ApiNotFoundError, ApiResponseShapeError } from '../errors.js';
import { type CallOptions, requestJson, requestOptions, withDeadline } from '../shared.js';
import { parseIsoDuration } from './iso-duration.js';
import { type RawVideo, videoListSchema } from './schemas.js';
import { YOUTUBE, type YouTubeContext } from './youtube-context.js';

export interface Thumbnail {
  url: string;
  width?: number;
  height?: number;
}

/** A video as the pipeline uses it: numbers are numbers, the duration is in seconds. */
export interface YouTubeVideo {
  id: string;
  title: string;
  description: string;
  channelId: string;
  channelTitle: string;
  publishedAt: string;
  tags: string[];
  categoryId: string | undefined;
  durationSeconds: number;
  /** The ISO 8601 duration as sent (`PT3M33S`). */
  duration: string;
  captionsAvailable: boolean;
  statistics: {
    viewCount: number;
    /** undefined when the owner hides it. */
    likeCount: number | undefined;
    commentCount: number | undefined;
  };
  /** By size name: default, medium, high, standard, maxres (whichever exist). */
  thumbnails: Record<string, Thumbnail>;
}

/** videos.list accepts at most 50 ids per call. */
const MAX_IDS_PER_CALL = 50;
const PARTS = 'snippet,contentDetails,statistics';

function toVideo(raw: RawVideo): YouTubeVideo {
  const seconds = parseIsoDuration(raw.contentDetails.duration);
  if (seconds === undefined) {
    throw new ApiResponseShapeError(
      YOUTUBE,
      'videos.list',
      'items.contentDetails.duration',
      'not an ISO 8601 duration',
    );
  }
  const n = (v: string | undefined): number | undefined => (v === undefined ? undefined : Number(v));
  const thumbnails: Record<string, Thumbnail> = {};
  for (const [name, t] of Object.entries(raw.snippet.thumbnails)) {
    const thumb: Thumbnail = { url: t.url };
    if (t.width !== undefined) thumb.width = t.width;
    if (t.height !== undefined) thumb.height = t.height;
    thumbnails[name] = thumb;
  }
  return {
    id: raw.id,
    title: raw.snippet.title,
    description: raw.snippet.description,
    channelId: raw.snippet.channelId,
    channelTitle: raw.snippet.channelTitle ?? '',
    publishedAt: raw.snippet.publishedAt,
    tags: raw.snippet.tags ?? [],
    categoryId: raw.snippet.categoryId,
    durationSeconds: seconds,
    duration: raw.contentDetails.duration,
    captionsAvailable: raw.contentDetails.caption === 'true',
    statistics: {
      viewCount: n(raw.statistics.viewCount) ?? 0,
      likeCount: n(raw.statistics.likeCount),
      commentCount: n(raw.statistics.commentCount),
    },
    thumbnails,
  };
}

export interface GetVideosOptions extends CallOptions {
  /** videos.list calls in flight at once (default 2). */
  concurrency?: number;
}

/** youtube.videos: videos.list by id (1 quota unit per call of up to 50 ids). */
export class Videos {
  constructor(private readonly ctx: YouTubeContext) {}

  /** One video; an unknown id is ERR_API_NOT_FOUND (the API itself answers 200 with no items). */
  async get(id: string, options?: CallOptions): Promise<YouTubeVideo> {
    const found = await this.#list([id], options);
    const video = found.get(id);
    if (!video) throw new ApiNotFoundError(YOUTUBE, 'video', id);
    return video;
  }

  /**
   * One result per requested id, in input order: `{ ok: true, value }`, or `{ ok: false, error }` with
   * ERR_API_NOT_FOUND for ids the API did not return, or the call's error for every id of a failed call.
   */
  async getMany(
    ids: readonly string[],
    options: GetVideosOptions = {},
  ): Promise<Array<BatchResult<YouTubeVideo>>> {
    const call = withDeadline(this.ctx.http, options);
    const unique = [...new Set(ids)];
    const found = new Map<string, YouTubeVideo>();
    const failed = new Map<string, BatchResult<YouTubeVideo>>();
    const chunks = chunk(unique, MAX_IDS_PER_CALL);
    const outcomes = await mapSettled(chunks, (part) => this.#list(part, call), {
      concurrency: options.concurrency ?? 2,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    outcomes.forEach((outcome, i) => {
      if (outcome.ok) for (const [id, v] of outcome.value) found.set(id, v);
      else for (const id of chunks[i]!) failed.set(id, outcome);
    });
    return ids.map((id): BatchResult<YouTubeVideo> => {
      const video = found.get(id);
      if (video) return { ok: true, value: video };
      return failed.get(id) ?? { ok: false, error: new ApiNotFoundError(YOUTUBE, 'video', id) };
    });
  }

  async #list(ids: readonly string[], options: CallOptions | undefined): Promise<Map<string, YouTubeVideo>> {
    const { value } = await requestJson(
      this.ctx.http,
      'GET',
      'youtube/v3/videos',
      videoListSchema,
      requestOptions(options, {
        params: { part: PARTS, id: ids.join(',') },
        operation: 'videos.list',
      }),
    );
    const out = new Map<string, YouTubeVideo>();
    for (const raw of value.items) out.set(raw.id, toVideo(raw));
    return out;
  }
}
