import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { YouTubeMethod } from './config.js';
import { bearerToken, header, keyAccepted, queryList, queryOne, type SandboxContext } from './context.js';
import { hashId } from './random.js';
import {
  type CaptionFormat,
  channelUploads,
  etagOf,
  findChannel,
  formatTranscript,
  isMissingVideoId,
  type SandboxChannel,
  type SandboxVideo,
  sandboxChannels,
  sandboxTranscript,
  sandboxVideo,
  searchResults,
  thumbnails,
  VIDEO_ID_PATTERN,
} from './youtube-data.js';

const STATUS_TEXT: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
};

export interface GoogleErrorOptions {
  domain?: string;
  location?: string;
  locationType?: string;
  /** The quota error is sent without `status`, as the real API does. */
  omitStatus?: boolean;
}

/** Google's JSON error envelope: `{ error: { code, message, errors: [{ message, domain, reason }], status } }`. */
export function googleError(code: number, reason: string, message: string, options: GoogleErrorOptions = {}) {
  const item: Record<string, string> = { message, domain: options.domain ?? 'global', reason };
  if (options.location) item.location = options.location;
  if (options.locationType) item.locationType = options.locationType;
  const error: Record<string, unknown> = { code, message, errors: [item] };
  const status = STATUS_TEXT[code];
  if (!options.omitStatus && status) error.status = status;
  return { error };
}

function send(reply: FastifyReply, body: ReturnType<typeof googleError>): FastifyReply {
  return reply.code(body.error.code as number).send(body);
}

const QUOTA_MESSAGE =
  'The request cannot be completed because you have exceeded your <a href="/youtube/v3/getting-started#quota">quota</a>.';

/** Calendar day in Pacific time: the real quota resets at midnight PT. */
function pacificDay(epochMs: number): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'America/Los_Angeles' }).format(new Date(epochMs));
}

interface Auth {
  oauth: boolean;
}

function authenticate(
  ctx: SandboxContext,
  request: FastifyRequest,
  reply: FastifyReply,
  oauthOnly: boolean,
): Auth | undefined {
  const bearer = bearerToken(request);
  const key = queryOne(request.query, 'key') ?? header(request, 'x-goog-api-key');
  if (bearer !== undefined) {
    if (keyAccepted(bearer, ctx.keys.youtubeOAuth)) return { oauth: true };
    send(
      reply,
      googleError(
        401,
        'authError',
        'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
        { location: 'Authorization', locationType: 'header' },
      ),
    );
    return undefined;
  }
  if (oauthOnly) {
    const message = key
      ? 'API keys are not supported by this API. Expected OAuth2 access token or other authentication credentials that assert a principal.'
      : 'Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential.';
    send(reply, googleError(401, 'required', message, { location: 'Authorization', locationType: 'header' }));
    return undefined;
  }
  if (key === undefined || key === '') {
    send(reply, googleError(403, 'forbidden', 'The request is missing a valid API key.'));
    return undefined;
  }
  if (!keyAccepted(key, ctx.keys.youtube)) {
    send(
      reply,
      googleError(400, 'keyInvalid', 'API key not valid. Please pass a valid API key.', {
        domain: 'usageLimits',
      }),
    );
    return undefined;
  }
  return { oauth: false };
}

/** Charges the call; false (after answering 403 quotaExceeded) when the day's budget is spent. */
function charge(ctx: SandboxContext, method: YouTubeMethod, reply: FastifyReply): boolean {
  const cfg = ctx.config.youtube;
  const state = ctx.state.youtube;
  const day = pacificDay(ctx.clock.now());
  if (state.day !== day) {
    state.day = day;
    state.unitsUsed = 0;
    state.searchCalls = 0;
  }
  const exceeded = (): boolean => {
    send(
      reply,
      googleError(403, 'quotaExceeded', QUOTA_MESSAGE, { domain: 'youtube.quota', omitStatus: true }),
    );
    return false;
  };
  if (method === 'search.list' && cfg.searchQuota === 'bucket') {
    if (state.searchCalls + 1 > cfg.searchCallsPerDay) return exceeded();
    state.searchCalls++;
    return true;
  }
  const cost = cfg.costs[method];
  if (state.unitsUsed + cost > cfg.dailyQuotaUnits) return exceeded();
  state.unitsUsed += cost;
  return true;
}

function requireParam(request: FastifyRequest, reply: FastifyReply, name: string): string[] | undefined {
  const values = queryList(request.query, name);
  if (values.length === 0) {
    send(
      reply,
      googleError(400, 'required', `Required parameter: ${name}`, {
        location: name,
        locationType: 'parameter',
      }),
    );
    return undefined;
  }
  return values;
}

function encodeToken(listKey: string, offset: number): string {
  return Buffer.from(`${offset}:${hashId(`${listKey}:${offset}`, 8)}`).toString('base64url');
}

/** Offset for a page token of this list, or undefined when the token was not issued for it. */
function decodeToken(listKey: string, token: string): number | undefined {
  const text = Buffer.from(token, 'base64url').toString('utf8');
  const match = /^(\d+):([A-Za-z0-9_-]{8})$/.exec(text);
  if (!match) return undefined;
  const offset = Number(match[1]);
  return encodeToken(listKey, offset) === token ? offset : undefined;
}

interface Page<T> {
  items: T[];
  nextPageToken?: string;
  prevPageToken?: string;
}

function paginate<T>(
  request: FastifyRequest,
  reply: FastifyReply,
  all: readonly T[],
  listKey: string,
  range: { min: number; max: number },
): Page<T> | undefined {
  const rawMax = queryOne(request.query, 'maxResults');
  const maxResults = rawMax === undefined ? 5 : Number(rawMax);
  if (!Number.isInteger(maxResults) || maxResults < range.min || maxResults > range.max) {
    send(
      reply,
      googleError(
        400,
        'invalidParameter',
        `Invalid value '${rawMax}'. Values must be within the range: [${range.min}, ${range.max}]`,
        { location: 'maxResults', locationType: 'parameter' },
      ),
    );
    return undefined;
  }
  const token = queryOne(request.query, 'pageToken');
  let offset = 0;
  if (token !== undefined && token !== '') {
    const decoded = decodeToken(listKey, token);
    if (decoded === undefined || decoded > all.length) {
      send(
        reply,
        googleError(400, 'invalidPageToken', 'The request specifies an invalid page token.', {
          domain: 'youtube.parameter',
          location: 'pageToken',
          locationType: 'parameter',
        }),
      );
      return undefined;
    }
    offset = decoded;
  }
  const page: Page<T> = { items: all.slice(offset, offset + maxResults) };
  if (maxResults > 0 && offset + maxResults < all.length)
    page.nextPageToken = encodeToken(listKey, offset + maxResults);
  if (offset > 0) page.prevPageToken = encodeToken(listKey, Math.max(0, offset - maxResults));
  return page;
}

function listEnvelope<T>(kind: string, items: T[], page: Omit<Page<T>, 'items'>, total: number) {
  const body: Record<string, unknown> = { kind, etag: '' };
  if (page.nextPageToken) body.nextPageToken = page.nextPageToken;
  if (page.prevPageToken) body.prevPageToken = page.prevPageToken;
  body.pageInfo = { totalResults: total, resultsPerPage: items.length };
  body.items = items;
  body.etag = etagOf(body);
  return body;
}

function videoResource(video: SandboxVideo, parts: Set<string>) {
  const resource: Record<string, unknown> = {
    kind: 'youtube#video',
    etag: etagOf(['video', video.id]),
    id: video.id,
  };
  if (parts.has('snippet')) {
    resource.snippet = {
      publishedAt: video.publishedAt,
      channelId: video.channelId,
      title: video.title,
      description: video.description,
      thumbnails: thumbnails(video.id),
      channelTitle: video.channelTitle,
      tags: video.tags,
      categoryId: video.categoryId,
      liveBroadcastContent: 'none',
      defaultLanguage: 'en',
      localized: { title: video.title, description: video.description },
      defaultAudioLanguage: 'en',
    };
  }
  if (parts.has('contentDetails')) {
    resource.contentDetails = {
      duration: video.duration,
      dimension: '2d',
      definition: 'hd',
      caption: 'true',
      licensedContent: false,
      contentRating: {},
      projection: 'rectangular',
    };
  }
  if (parts.has('statistics')) {
    resource.statistics = {
      viewCount: String(video.viewCount),
      likeCount: String(video.likeCount),
      favoriteCount: '0',
      commentCount: String(video.commentCount),
    };
  }
  if (parts.has('status')) {
    resource.status = {
      uploadStatus: 'processed',
      privacyStatus: 'public',
      license: 'youtube',
      embeddable: true,
      publicStatsViewable: true,
      madeForKids: false,
    };
  }
  return resource;
}

function searchSnippet(video: SandboxVideo) {
  const { default: small, medium, high } = thumbnails(video.id);
  return {
    publishedAt: video.publishedAt,
    channelId: video.channelId,
    title: video.title,
    description: video.description,
    thumbnails: { default: small, medium, high },
    channelTitle: video.channelTitle,
    liveBroadcastContent: 'none',
    publishTime: video.publishedAt,
  };
}

function channelResource(channel: SandboxChannel, parts: Set<string>) {
  const resource: Record<string, unknown> = {
    kind: 'youtube#channel',
    etag: etagOf(['channel', channel.id]),
    id: channel.id,
  };
  if (parts.has('snippet')) {
    const url = `https://yt3.ggpht.com/sandbox/${channel.id}`;
    resource.snippet = {
      title: channel.title,
      description: channel.description,
      customUrl: channel.handle,
      publishedAt: channel.publishedAt,
      thumbnails: {
        default: { url: `${url}=s88`, width: 88, height: 88 },
        medium: { url: `${url}=s240`, width: 240, height: 240 },
        high: { url: `${url}=s800`, width: 800, height: 800 },
      },
      localized: { title: channel.title, description: channel.description },
      country: 'US',
    };
  }
  if (parts.has('contentDetails')) {
    resource.contentDetails = { relatedPlaylists: { likes: '', uploads: channel.uploadsPlaylistId } };
  }
  if (parts.has('statistics')) {
    resource.statistics = {
      viewCount: String(channel.viewCount),
      subscriberCount: String(channel.subscriberCount),
      hiddenSubscriberCount: false,
      videoCount: String(channel.videoCount),
    };
  }
  return resource;
}

const CAPTION_PREFIX = 'sbcap-en-';

function captionId(videoId: string): string {
  return `${CAPTION_PREFIX}${videoId}`;
}

/** Videos whose captions the sandbox pretends belong to someone else (captions.download → 403). */
function isForeignVideo(videoId: string): boolean {
  return videoId.startsWith('notmine');
}

export function registerYouTube(app: FastifyInstance, ctx: SandboxContext): void {
  const missing = (id: string): boolean => isMissingVideoId(id, ctx.config.youtube.missingVideoIds);
  const prefix = '/youtube/youtube/v3';

  app.get(`${prefix}/videos`, async (request, reply) => {
    if (!authenticate(ctx, request, reply, false) || !charge(ctx, 'videos.list', reply)) return reply;
    const parts = requireParam(request, reply, 'part');
    if (!parts) return reply;
    const partSet = new Set(parts);
    const ids = queryList(request.query, 'id');
    const chart = queryOne(request.query, 'chart');
    if (ids.length > 50) {
      return send(
        reply,
        googleError(400, 'invalidFilters', 'The request specifies too many video ids (maximum 50).'),
      );
    }
    if (ids.length > 0) {
      const items = ids.filter((id) => !missing(id)).map((id) => videoResource(sandboxVideo(id), partSet));
      return listEnvelope('youtube#videoListResponse', items, {}, items.length);
    }
    if (chart === 'mostPopular') {
      const region = queryOne(request.query, 'regionCode') ?? 'US';
      const all = searchResults(`chart:${region}`).filter((id) => !missing(id));
      const page = paginate(request, reply, all, `chart:${region}`, { min: 1, max: 50 });
      if (!page) return reply;
      const items = page.items.map((id) => videoResource(sandboxVideo(id), partSet));
      return listEnvelope('youtube#videoListResponse', items, page, all.length);
    }
    return send(
      reply,
      googleError(
        400,
        'missingRequiredParameter',
        'No filter selected. Expected one of: myRating, chart, id',
        {
          domain: 'youtube.parameter',
        },
      ),
    );
  });

  app.get(`${prefix}/captions`, async (request, reply) => {
    if (!authenticate(ctx, request, reply, true) || !charge(ctx, 'captions.list', reply)) return reply;
    if (!requireParam(request, reply, 'part')) return reply;
    const videoId = requireParam(request, reply, 'videoId')?.[0];
    if (videoId === undefined) return reply;
    if (missing(videoId)) {
      return send(
        reply,
        googleError(
          404,
          'videoNotFound',
          'The video identified by the <code><a href="/youtube/v3/docs/captions/list#videoId">videoId</a></code> parameter could not be found.',
          { domain: 'youtube.caption', location: 'videoId', locationType: 'parameter' },
        ),
      );
    }
    const video = sandboxVideo(videoId);
    const item = {
      kind: 'youtube#caption',
      etag: etagOf(['caption', videoId]),
      id: captionId(videoId),
      snippet: {
        videoId,
        lastUpdated: video.publishedAt,
        trackKind: 'standard',
        language: 'en',
        name: 'English',
        audioTrackType: 'unknown',
        isCC: false,
        isLarge: false,
        isEasyReader: false,
        isDraft: false,
        isAutoSynced: false,
        status: 'serving',
      },
    };
    const body = { kind: 'youtube#captionListResponse', etag: '', items: [item] };
    body.etag = etagOf(body);
    return body;
  });

  app.get<{ Params: { id: string } }>(`${prefix}/captions/:id`, async (request, reply) => {
    if (!authenticate(ctx, request, reply, true) || !charge(ctx, 'captions.download', reply)) return reply;
    const id = request.params.id;
    const videoId = id.startsWith(CAPTION_PREFIX) ? id.slice(CAPTION_PREFIX.length) : '';
    if (!VIDEO_ID_PATTERN.test(videoId) || missing(videoId)) {
      return send(
        reply,
        googleError(404, 'captionNotFound', 'The caption track could not be found.', {
          domain: 'youtube.caption',
          location: 'id',
          locationType: 'parameter',
        }),
      );
    }
    if (isForeignVideo(videoId)) {
      return send(
        reply,
        googleError(
          403,
          'forbidden',
          'The permissions associated with the request are not sufficient to download the caption track.',
          { domain: 'youtube.caption' },
        ),
      );
    }
    const tfmt = queryOne(request.query, 'tfmt') ?? 'srt';
    if (tfmt !== 'srt' && tfmt !== 'vtt' && tfmt !== 'sbv') {
      return send(
        reply,
        googleError(400, 'invalidValue', `Invalid value '${tfmt}' for tfmt.`, {
          location: 'tfmt',
          locationType: 'parameter',
        }),
      );
    }
    const contentType = { srt: 'application/x-subrip', vtt: 'text/vtt', sbv: 'text/plain' }[tfmt];
    return reply
      .type(`${contentType}; charset=utf-8`)
      .send(formatTranscript(sandboxTranscript(videoId), tfmt as CaptionFormat));
  });

  app.get(`${prefix}/search`, async (request, reply) => {
    if (!authenticate(ctx, request, reply, false) || !charge(ctx, 'search.list', reply)) return reply;
    const parts = requireParam(request, reply, 'part');
    if (!parts) return reply;
    const q = queryOne(request.query, 'q') ?? '';
    const channelId = queryOne(request.query, 'channelId');
    const types = queryList(request.query, 'type');
    const order = queryOne(request.query, 'order') ?? 'relevance';
    let ids = types.length > 0 && !types.includes('video') ? [] : searchResults(q, channelId);
    ids = ids.filter((id) => !missing(id));
    if (order !== 'relevance') {
      const videos = ids.map((id) => sandboxVideo(id));
      if (order === 'date') videos.sort((a, b) => b.publishedAt.localeCompare(a.publishedAt));
      else if (order === 'viewCount' || order === 'rating') videos.sort((a, b) => b.viewCount - a.viewCount);
      else if (order === 'title') videos.sort((a, b) => a.title.localeCompare(b.title));
      ids = videos.map((v) => v.id);
    }
    const listKey = `search:${q}:${channelId ?? ''}:${order}:${types.join(',')}`;
    const page = paginate(request, reply, ids, listKey, { min: 0, max: 50 });
    if (!page) return reply;
    const withSnippet = parts.includes('snippet');
    const items = page.items.map((id) => {
      const item: Record<string, unknown> = {
        kind: 'youtube#searchResult',
        etag: etagOf(['search', id]),
        id: { kind: 'youtube#video', videoId: id },
      };
      if (withSnippet) item.snippet = searchSnippet(sandboxVideo(id));
      return item;
    });
    const body = listEnvelope('youtube#searchListResponse', items, page, ids.length);
    return { ...body, regionCode: queryOne(request.query, 'regionCode') ?? 'US' };
  });

  app.get(`${prefix}/channels`, async (request, reply) => {
    const auth = authenticate(ctx, request, reply, false);
    if (!auth || !charge(ctx, 'channels.list', reply)) return reply;
    const parts = requireParam(request, reply, 'part');
    if (!parts) return reply;
    const ids = queryList(request.query, 'id');
    const handle = queryOne(request.query, 'forHandle');
    const username = queryOne(request.query, 'forUsername');
    const mine = queryOne(request.query, 'mine') === 'true';
    let channels: SandboxChannel[];
    if (ids.length > 0) channels = ids.map((id) => findChannel(id)).filter((c) => c !== undefined);
    else if (handle !== undefined || username !== undefined) {
      const found = findChannel(handle ?? `@${username}`);
      channels = found ? [found] : [];
    } else if (mine) {
      if (!auth.oauth) {
        return send(
          reply,
          googleError(401, 'required', 'Login Required.', {
            location: 'Authorization',
            locationType: 'header',
          }),
        );
      }
      channels = sandboxChannels().slice(0, 1);
    } else {
      return send(
        reply,
        googleError(
          400,
          'missingRequiredParameter',
          'No filter selected. Expected one of: forUsername, managedByMe, categoryId, mine, mySubscribers, id, idParam, forHandle',
          { domain: 'youtube.parameter' },
        ),
      );
    }
    const partSet = new Set(parts);
    const items = channels.map((c) => channelResource(c, partSet));
    return listEnvelope('youtube#channelListResponse', items, {}, items.length);
  });

  app.get(`${prefix}/playlistItems`, async (request, reply) => {
    if (!authenticate(ctx, request, reply, false) || !charge(ctx, 'playlistItems.list', reply)) return reply;
    const parts = requireParam(request, reply, 'part');
    if (!parts) return reply;
    const playlistId = queryOne(request.query, 'playlistId');
    if (playlistId === undefined) {
      return send(
        reply,
        googleError(400, 'missingRequiredParameter', 'No filter selected. Expected one of: id, playlistId', {
          domain: 'youtube.parameter',
        }),
      );
    }
    const channel = sandboxChannels().find((c) => c.uploadsPlaylistId === playlistId);
    if (!channel) {
      return send(
        reply,
        googleError(
          404,
          'playlistNotFound',
          "The playlist identified with the request's <code>playlistId</code> parameter cannot be found.",
          { domain: 'youtube.playlistItem', location: 'playlistId', locationType: 'parameter' },
        ),
      );
    }
    const uploads = channelUploads(channel);
    const page = paginate(request, reply, uploads, `playlist:${playlistId}`, { min: 0, max: 50 });
    if (!page) return reply;
    const partSet = new Set(parts);
    const start = uploads.indexOf(page.items[0] ?? '');
    const items = page.items.map((videoId, i) => {
      const video = sandboxVideo(videoId);
      const item: Record<string, unknown> = {
        kind: 'youtube#playlistItem',
        etag: etagOf(['playlistItem', playlistId, videoId]),
        id: hashId(`playlistItem:${playlistId}:${videoId}`, 40),
      };
      if (partSet.has('snippet')) {
        item.snippet = {
          publishedAt: video.publishedAt,
          channelId: channel.id,
          title: video.title,
          description: video.description,
          thumbnails: thumbnails(videoId),
          channelTitle: channel.title,
          playlistId,
          position: start + i,
          resourceId: { kind: 'youtube#video', videoId },
          videoOwnerChannelTitle: channel.title,
          videoOwnerChannelId: channel.id,
        };
      }
      if (partSet.has('contentDetails'))
        item.contentDetails = { videoId, videoPublishedAt: video.publishedAt };
      if (partSet.has('status')) item.status = { privacyStatus: 'public' };
      return item;
    });
    return listEnvelope('youtube#playlistItemListResponse', items, page, uploads.length);
  });
}
