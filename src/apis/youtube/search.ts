import { type CallOptions, defined, requestJson, requestOptions } from '../shared.js';
import { searchListSchema } from './schemas.js';
import type { Thumbnail } from './videos.js';
import type { YouTubeContext } from './youtube-context.js';

export interface SearchOptions extends CallOptions {
  /** Results per page, 0-50 (default 25). Every page costs 100 quota units. */
  maxResults?: number;
  pageToken?: string;
  order?: 'date' | 'rating' | 'relevance' | 'title' | 'viewCount';
  channelId?: string;
  publishedAfter?: Date | string;
  publishedBefore?: Date | string;
  regionCode?: string;
  relevanceLanguage?: string;
  videoDuration?: 'any' | 'short' | 'medium' | 'long';
  safeSearch?: 'moderate' | 'none' | 'strict';
}

export interface SearchItem {
  videoId: string;
  title: string;
  description: string;
  channelId: string;
  channelTitle: string;
  publishedAt: string;
  thumbnails: Record<string, Thumbnail>;
}

export interface SearchPage {
  items: SearchItem[];
  nextPageToken: string | undefined;
  /** Google's estimate, not an exact count. */
  totalResults: number | undefined;
}

export interface SearchAllOptions extends SearchOptions {
  /** Stop after this many pages (each costs 100 units); default: until the last page. */
  maxPages?: number;
}

function iso(value: Date | string | undefined): string | undefined {
  return value instanceof Date ? value.toISOString() : value;
}

/** youtube.search: search.list restricted to videos (100 quota units per page). */
export class Search {
  constructor(private readonly ctx: YouTubeContext) {}

  async list(query: string, options: SearchOptions = {}): Promise<SearchPage> {
    const { value } = await requestJson(
      this.ctx.http,
      'GET',
      'youtube/v3/search',
      searchListSchema,
      requestOptions(options, {
        params: defined({
          part: 'snippet',
          type: 'video',
          q: query,
          maxResults: options.maxResults ?? 25,
          pageToken: options.pageToken,
          order: options.order,
          channelId: options.channelId,
          publishedAfter: iso(options.publishedAfter),
          publishedBefore: iso(options.publishedBefore),
          regionCode: options.regionCode,
          relevanceLanguage: options.relevanceLanguage,
          videoDuration: options.videoDuration,
          safeSearch: options.safeSearch,
        }),
        operation: 'search.list',
      }),
    );
    const items: SearchItem[] = [];
    for (const item of value.items) {
      // type=video is requested; anything else is skipped rather than mistyped.
      if (!item.id.videoId) continue;
      const s = item.snippet;
      items.push({
        videoId: item.id.videoId,
        title: s?.title ?? '',
        description: s?.description ?? '',
        channelId: s?.channelId ?? '',
        channelTitle: s?.channelTitle ?? '',
        publishedAt: s?.publishedAt ?? '',
        thumbnails: (s?.thumbnails ?? {}) as Record<string, Thumbnail>,
      });
    }
    return { items, nextPageToken: value.nextPageToken, totalResults: value.pageInfo?.totalResults };
  }

  /** Pages in order, following nextPageToken until it is absent (or `maxPages`). */
  async *pages(query: string, options: SearchAllOptions = {}): AsyncGenerator<SearchPage> {
    let token = options.pageToken;
    for (let n = 0; n < (options.maxPages ?? Number.POSITIVE_INFINITY); n++) {
      const { maxPages: _maxPages, ...rest } = options;
      const page = await this.list(query, token === undefined ? rest : { ...rest, pageToken: token });
      yield page;
      token = page.nextPageToken;
      if (!token) return;
    }
  }

  /** Items across pages, in order. */
  async *items(query: string, options: SearchAllOptions = {}): AsyncGenerator<SearchItem> {
    for await (const page of this.pages(query, options)) yield* page.items;
  }
}
