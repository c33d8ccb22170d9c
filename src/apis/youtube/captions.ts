import { HttpError } from '../../http/index.js';
import { ApiError, ApiErrorCode, ApiNotFoundError } from '../errors.js';
import { type CallOptions, requestJson, requestOptions, withDeadline } from '../shared.js';
import type { TimedSegment } from '../transcript.js';
import { captionListSchema } from './schemas.js';
import { parseTimedText } from './timed-text.js';
import { requireOAuth, YOUTUBE, type YouTubeContext } from './youtube-context.js';

export interface CaptionTrack {
  id: string;
  videoId: string;
  language: string;
  name: string;
  /** standard, ASR (automatic) or forced. */
  trackKind: string;
  isAutoSynced: boolean;
  isDraft: boolean;
  status: string | undefined;
}

export type CaptionFormat = 'srt' | 'vtt' | 'sbv';

export interface DownloadCaptionOptions extends CallOptions {
  format?: CaptionFormat;
  /** Machine-translate to this language. */
  translateTo?: string;
}

export interface VideoCaptions {
  videoId: string;
  track: CaptionTrack;
  segments: TimedSegment[];
}

export interface GetVideoCaptionsOptions extends CallOptions {
  /** Preferred language (default: a standard track first, then any). */
  language?: string;
}

/**
 * A permanent 403 on captions means "not your video": say so with its own code. A 403 the provider
 * means as a spent quota is transient and stays the HTTP layer's error.
 */
function captionsForbidden(error: unknown, operation: string, id: string): never {
  if (error instanceof HttpError && error.status === 403 && !error.transient) {
    throw new ApiError(
      ApiErrorCode.YouTubeCaptionsForbidden,
      YOUTUBE,
      `youtube ${operation}: the credentials may not access captions of ${id} (only the video owner can)`,
      { cause: error, details: { operation, id } },
    );
  }
  throw error;
}

/** youtube.captions: captions.list (50 units) and captions.download (200 units); both need OAuth. */
export class Captions {
  constructor(private readonly ctx: YouTubeContext) {}

  async list(videoId: string, options?: CallOptions): Promise<CaptionTrack[]> {
    const http = requireOAuth(this.ctx, 'captions.list');
    try {
      const { value } = await requestJson(
        http,
        'GET',
        'youtube/v3/captions',
        captionListSchema,
        requestOptions(options, { params: { part: 'snippet', videoId }, operation: 'captions.list' }),
      );
      return value.items.map((item) => ({
        id: item.id,
        videoId: item.snippet.videoId,
        language: item.snippet.language,
        name: item.snippet.name,
        trackKind: item.snippet.trackKind,
        isAutoSynced: item.snippet.isAutoSynced ?? false,
        isDraft: item.snippet.isDraft ?? false,
        status: item.snippet.status,
      }));
    } catch (error) {
      return captionsForbidden(error, 'captions.list', videoId);
    }
  }

  /** The caption file as text (SRT by default). */
  async download(trackId: string, options: DownloadCaptionOptions = {}): Promise<string> {
    const http = requireOAuth(this.ctx, 'captions.download');
    try {
      const response = await http.makeRequest<string>(
        'GET',
        `youtube/v3/captions/${encodeURIComponent(trackId)}`,
        requestOptions(options, {
          params: { tfmt: options.format ?? 'srt', tlang: options.translateTo },
          operation: 'captions.download',
          responseType: 'text',
          headers: { accept: '*/*' },
        }),
      );
      return typeof response.data === 'string' ? response.data : String(response.data);
    } catch (error) {
      return captionsForbidden(error, 'captions.download', trackId);
    }
  }

  /**
   * A video's transcript as timed segments: lists the tracks, picks one (requested language, else a
   * published non-draft track, standard before ASR), downloads it as WebVTT and parses it.
   */
  async transcript(videoId: string, options: GetVideoCaptionsOptions = {}): Promise<VideoCaptions> {
    const call = withDeadline(this.ctx.http, options);
    const tracks = (await this.list(videoId, call)).filter((t) => !t.isDraft);
    const rank = (t: CaptionTrack): number =>
      (options.language && t.language !== options.language ? 10 : 0) + (t.trackKind === 'standard' ? 0 : 1);
    const track = [...tracks].sort((a, b) => rank(a) - rank(b))[0];
    if (!track) throw new ApiNotFoundError(YOUTUBE, 'caption track', videoId);
    const text = await this.download(track.id, { ...call, format: 'vtt' });
    return { videoId, track, segments: parseTimedText(text) };
  }
}
