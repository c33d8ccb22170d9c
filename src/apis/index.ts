// The public API of `video-opusclip/apis`: the four clients, their options and result types, each
// vendor's budget rules (`*-quota.ts`), the shared call options, batches, errors and cache adapter.
export {
  type ApiClients,
  type ApiClientsOptions,
  type ApiVendor,
  createApiClients,
  sandboxBaseUrls,
} from './api-clients.js';
export { type BatchResult, type MapSettledOptions, mapSettled } from './batch.js';
export {
  type Alignment,
  DEFAULT_VOICE_ID,
  ELEVENLABS_BASE_URL,
  ELEVENLABS_OUTPUT_FORMATS,
  ElevenLabsClient,
  type ElevenLabsClientOptions,
  type Narration,
  type NarrationOptions,
  type NarrationPart,
  type SpeechAudio,
  type TextToSpeechOptions,
  type TimedSpeechAudio,
  type Voice,
  type VoiceSettings,
} from './elevenlabs/elevenlabs-client.js';
export {
  type ElevenLabsWindowsOptions,
  elevenLabsCharacterCost,
  elevenLabsWindows,
} from './elevenlabs/elevenlabs-quota.js';
export { ELEVENLABS_MODEL_LIMITS, splitScript } from './elevenlabs/split-script.js';
export { ApiError, ApiErrorCode, ApiNotFoundError, ApiResponseShapeError } from './errors.js';
export {
  type ClipAdjustment,
  type ClipCandidate,
  type ClipLimits,
  type ClipRejection,
  type HighlightSelection,
  validateHighlights,
} from './openai/highlights.js';
export {
  type BatchCaptionsOptions,
  type CaptionStyle,
  type ChatCompletionRequest,
  type ChatCompletions,
  type ChatMessage,
  type GenerateCaptionsOptions,
  type GeneratedText,
  type GenerateTextOptions,
  OPENAI_BASE_URL,
  OpenAIClient,
  type OpenAIClientOptions,
  type SelectHighlightsOptions,
  type TokenUsage,
  type VideoAnalysis,
} from './openai/openai-client.js';
export { openAiUsageCost, openAiWindows } from './openai/openai-quota.js';
export type { ChatCompletion } from './openai/schemas.js';
export { responseCacheFrom } from './response-cache-adapter.js';
export type { CallOptions, VendorHttpOptions } from './shared.js';
export { CreditLedger, type CreditLedgerOptions, STABILITY_CREDIT_COSTS } from './stability/credit-ledger.js';
export {
  type AspectRatio,
  type GeneratedImage,
  type GenerateImageOptions,
  type GenerateImageV1Options,
  type OutputFormat,
  SDXL_DIMENSIONS,
  type Sd3Model,
  STABILITY_BASE_URL,
  StabilityClient,
  type StabilityClientOptions,
  type StabilityModel,
  type VideoThumbnail,
} from './stability/stability-client.js';
export { stabilityCreditWindow, stabilityWindows } from './stability/stability-quota.js';
export type { TimedSegment } from './transcript.js';
export type { VendorPlumbing } from './vendor-http.js';
export type {
  CaptionFormat,
  Captions,
  CaptionTrack,
  DownloadCaptionOptions,
  GetVideoCaptionsOptions,
  VideoCaptions,
} from './youtube/captions.js';
export type { ChannelRef, Channels, ChannelVideos } from './youtube/channels.js';
export { nextPacificMidnight } from './youtube/pacific-midnight.js';
export type { Search, SearchAllOptions, SearchItem, SearchOptions, SearchPage } from './youtube/search.js';
export { parseTimedText } from './youtube/timed-text.js';
export type { GetVideosOptions, Thumbnail, Videos, YouTubeVideo } from './youtube/videos.js';
export { YOUTUBE_BASE_URL, YouTubeClient, type YouTubeClientOptions } from './youtube/youtube-client.js';
export { YOUTUBE_QUOTA_COSTS, youtubeCost, youtubeQuotaWindows } from './youtube/youtube-quota.js';
