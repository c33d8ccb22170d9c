import type { HttpClient } from '../../http/index.js';
import { ApiError, ApiErrorCode } from '../errors.js';

/** What the YouTube resources share: a client with the API key and, when configured, one with OAuth. */
export interface YouTubeContext {
  /** API-key client for public reads (falls back to the OAuth client when no key is configured). */
  readonly http: HttpClient;
  readonly oauth: HttpClient | undefined;
}

export const YOUTUBE = 'youtube';

/** captions.* need OAuth: refuse before sending instead of burning quota on a certain 401. */
export function requireOAuth(ctx: YouTubeContext, operation: string): HttpClient {
  if (ctx.oauth) return ctx.oauth;
  throw new ApiError(
    ApiErrorCode.YouTubeOAuthRequired,
    YOUTUBE,
    `youtube ${operation} needs an OAuth access token; only an API key is configured`,
    { details: { operation } },
  );
}
