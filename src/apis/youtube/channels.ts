import { ApiNotFoundError } from '../errors.js';
import { type CallOptions, requestJson, requestOptions, withDeadline } from '../shared.js';
import { channelListSchema, playlistItemListSchema } from './schemas.js';
import type { Videos, YouTubeVideo } from './videos.js';
import { YOUTUBE, type YouTubeContext } from './youtube-context.js';

export interface ChannelRef {
  channelId: string;
  title: string | undefined;
  /** The `UU…` playlist holding every upload. */
  uploadsPlaylistId: string;
}

export interface ChannelVideos {
  channel: ChannelRef;
  /** Newest first, as the uploads playlist lists them. */
  videos: YouTubeVideo[];
  /** Uploads the playlist lists but videos.list did not return (private, deleted): reported, not hidden. */
  unavailableIds: string[];
}

/**
 * youtube.channels: channel lookup and a channel's uploads through the uploads playlist, which costs
 * 1 unit per page of 50 (channels.list + playlistItems.list + videos.list) instead of search's 100.
 */
export class Channels {
  constructor(
    private readonly ctx: YouTubeContext,
    private readonly videos: Videos,
  ) {}

  /** By channel id (`UC…`) or handle (`@name`). */
  async get(channelIdOrHandle: string, options?: CallOptions): Promise<ChannelRef> {
    const byHandle = channelIdOrHandle.startsWith('@');
    const { value } = await requestJson(
      this.ctx.http,
      'GET',
      'youtube/v3/channels',
      channelListSchema,
      requestOptions(options, {
        params: {
          part: 'snippet,contentDetails',
          ...(byHandle ? { forHandle: channelIdOrHandle } : { id: channelIdOrHandle }),
        },
        operation: 'channels.list',
      }),
    );
    const item = value.items[0];
    if (!item) throw new ApiNotFoundError(YOUTUBE, 'channel', channelIdOrHandle);
    return {
      channelId: item.id,
      title: item.snippet?.title,
      uploadsPlaylistId: item.contentDetails.relatedPlaylists.uploads,
    };
  }

  /** Ids in the uploads playlist, newest first, at most `max`. */
  async uploadIds(playlistId: string, max: number, options?: CallOptions): Promise<string[]> {
    const call = withDeadline(this.ctx.http, options);
    const ids: string[] = [];
    let pageToken: string | undefined;
    while (ids.length < max) {
      const { value } = await requestJson(
        this.ctx.http,
        'GET',
        'youtube/v3/playlistItems',
        playlistItemListSchema,
        requestOptions(call, {
          params: {
            part: 'contentDetails',
            playlistId,
            maxResults: Math.min(50, max - ids.length),
            pageToken,
          },
          operation: 'playlistItems.list',
        }),
      );
      for (const item of value.items) if (ids.length < max) ids.push(item.contentDetails.videoId);
      pageToken = value.nextPageToken;
      if (!pageToken || value.items.length === 0) break;
    }
    return ids;
  }

  /** Up to `max` latest uploads of a channel, as full videos. */
  async latestVideos(channelIdOrHandle: string, max = 50, options?: CallOptions): Promise<ChannelVideos> {
    const call = withDeadline(this.ctx.http, options);
    const channel = await this.get(channelIdOrHandle, call);
    const ids = await this.uploadIds(channel.uploadsPlaylistId, Math.max(0, max), call);
    const results = await this.videos.getMany(ids, call);
    const videos: YouTubeVideo[] = [];
    const unavailableIds: string[] = [];
    results.forEach((r, i) => {
      if (r.ok) videos.push(r.value);
      else if (r.error instanceof ApiNotFoundError) unavailableIds.push(ids[i]!);
      else throw r.error;
    });
    return { channel, videos, unavailableIds };
  }
}
