import { ConfigError } from '../../core/index.js';
import type { HttpClient, HttpErrorKind, ServiceMetrics } from '../../http/index.js';
import { Budget, type WindowUsage } from '../../resilience/index.js';
import type { BatchResult } from '../batch.js';
import type { CallOptions, VendorHttpOptions } from '../shared.js';
import { type VendorPlumbing, vendorHttpClient } from '../vendor-http.js';
import {
  Captions,
  type CaptionTrack,
  type DownloadCaptionOptions,
  type GetVideoCaptionsOptions,
  type VideoCaptions,
} from './captions.js';
import { Channels, type ChannelVideos } from './channels.js';
import { nextPacificMidnight } from './pacific-midnight.js';
import { googleErrorSchema } from './schemas.js';
import {
  Search,
  type SearchAllOptions,
  type SearchItem,
  type SearchOptions,
  type SearchPage,
} from './search.js';
import { type GetVideosOptions, Videos, type YouTubeVideo } from './videos.js';
import { YOUTUBE, type YouTubeContext } from './youtube-context.js';
import { YOUTUBE_QUOTA_COSTS, youtubeCost, youtubeQuotaWindows } from './youtube-quota.js';

export const YOUTUBE_BASE_URL = 'https://youtube.googleapis.com/';

export interface YouTubeClientOptions extends VendorHttpOptions, VendorPlumbing {
  apiKey?: string;
  /** OAuth 2 access token; captions.list and captions.download need one. */
  oauthToken?: string;
  /** `header` (X-Goog-Api-Key, the default: the key stays out of URLs and access logs) or `query` (`key=`). */
  keyIn?: 'header' | 'query';
  /** The project's daily quota (default 10,000 units, reset at midnight Pacific). Ignored with `budget`. */
  dailyQuotaUnits?: number;
  /** Units per method (defaults: Google's published costs). */
  quotaCosts?: Readonly<Record<string, number>>;
}

/** Google error reasons → the HTTP layer's kinds (403 is overloaded: quota, QPS and permission). */
function classifyGoogleError(body: unknown): HttpErrorKind | undefined {
  const parsed = googleErrorSchema.safeParse(body);
  if (!parsed.success) return undefined;
  const reasons = (parsed.data.error.errors ?? []).map((e) => e.reason);
  if (reasons.some((r) => r === 'quotaExceeded' || r === 'dailyLimitExceeded')) return 'quota_exhausted';
  if (reasons.some((r) => r === 'rateLimitExceeded' || r === 'userRateLimitExceeded')) return 'rate_limited';
  return undefined;
}

/**
 * YouTube Data API v3. Every call reserves its quota cost in the shared budget before it is sent (a
 * search that does not fit is refused locally with ERR_HTTP_QUOTA_EXHAUSTED and the next Pacific
 * midnight as retryAt); a 403 quotaExceeded pauses the budget until then.
 */
export class YouTubeClient {
  readonly videos: Videos;
  readonly search: Search;
  readonly channels: Channels;
  readonly captions: Captions;
  readonly budget: Budget;
  readonly #ctx: YouTubeContext;

  constructor(options: YouTubeClientOptions) {
    if (!options.apiKey && !options.oauthToken) {
      throw new ConfigError('YouTubeClient needs an apiKey or an oauthToken');
    }
    const costs = options.quotaCosts ?? YOUTUBE_QUOTA_COSTS;
    this.budget =
      options.budget ??
      new Budget({
        name: YOUTUBE,
        windows: youtubeQuotaWindows(options.dailyQuotaUnits ?? 10_000),
        ...(options.clock ? { clock: options.clock } : {}),
      });
    const plumbing = { ...options, budget: this.budget };
    const common = {
      service: YOUTUBE,
      baseUrl: options.baseUrl ?? YOUTUBE_BASE_URL,
      costOf: (_method: string, operation: string) => youtubeCost(operation, costs),
      quotaResetAt: nextPacificMidnight,
    };
    const keyed = options.apiKey
      ? vendorHttpClient(
          plumbing,
          {
            ...common,
            auth:
              options.keyIn === 'query'
                ? { type: 'query', name: 'key', value: options.apiKey }
                : { type: 'header', name: 'x-goog-api-key', value: options.apiKey },
          },
          classifyGoogleError,
        )
      : undefined;
    const oauth = options.oauthToken
      ? vendorHttpClient(
          plumbing,
          { ...common, auth: { type: 'bearer', token: options.oauthToken } },
          classifyGoogleError,
        )
      : undefined;
    this.#ctx = { http: (keyed ?? oauth) as HttpClient, oauth };
    this.videos = new Videos(this.#ctx);
    this.search = new Search(this.#ctx);
    this.channels = new Channels(this.#ctx, this.videos);
    this.captions = new Captions(this.#ctx);
  }

  /** One typed video (through `videos.list`); an unknown id is ERR_API_NOT_FOUND. */
  getVideoInfo(videoId: string, options?: CallOptions): Promise<YouTubeVideo> {
    return this.videos.get(videoId, options);
  }

  /** 50 ids per call; one result per requested id, in input order, missing ones ERR_API_NOT_FOUND. */
  getVideosInfo(
    videoIds: readonly string[],
    options?: GetVideosOptions,
  ): Promise<Array<BatchResult<YouTubeVideo>>> {
    return this.videos.getMany(videoIds, options);
  }

  /** The same as getVideosInfo, under the name of the other batch methods: a partial-failure report. */
  batchGetVideoInfo(
    videoIds: readonly string[],
    options?: GetVideosOptions,
  ): Promise<Array<BatchResult<YouTubeVideo>>> {
    return this.videos.getMany(videoIds, options);
  }

  /** One page of video results (100 units); pass `pageToken` from the previous page for the next. */
  searchVideos(query: string, options?: SearchOptions): Promise<SearchPage> {
    return this.search.list(query, options);
  }

  /** Every page until the last (or `maxPages`), as an async iterator. */
  searchVideoPages(query: string, options?: SearchAllOptions): AsyncGenerator<SearchPage> {
    return this.search.pages(query, options);
  }

  /** Every result across pages, as an async iterator. */
  searchVideoItems(query: string, options?: SearchAllOptions): AsyncGenerator<SearchItem> {
    return this.search.items(query, options);
  }

  /** Latest uploads of a channel (`UC…` id or `@handle`) through the uploads playlist: 1 unit per page. */
  getChannelVideos(channelIdOrHandle: string, max = 50, options?: CallOptions): Promise<ChannelVideos> {
    return this.channels.latestVideos(channelIdOrHandle, max, options);
  }

  listCaptions(videoId: string, options?: CallOptions): Promise<CaptionTrack[]> {
    return this.captions.list(videoId, options);
  }

  downloadCaption(trackId: string, options?: DownloadCaptionOptions): Promise<string> {
    return this.captions.download(trackId, options);
  }

  /** Timed segments parsed from the video's caption track (WebVTT). Needs OAuth. */
  getVideoCaptions(videoId: string, options?: GetVideoCaptionsOptions): Promise<VideoCaptions> {
    return this.captions.transcript(videoId, options);
  }

  /** Units used and remaining today, as this process counted them. */
  quotaUsage(): Promise<WindowUsage[]> {
    return this.budget.usage();
  }

  getApiMetrics(): Promise<ServiceMetrics> {
    return this.#ctx.http.getApiMetrics();
  }

  async close(): Promise<void> {
    await this.#ctx.http.close();
    if (this.#ctx.oauth && this.#ctx.oauth !== this.#ctx.http) await this.#ctx.oauth.close();
  }
}
