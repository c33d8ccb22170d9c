export type { StoreCache, StoreRefresh } from './cache-port.js';
export { StoreError, StoreErrorCode } from './errors.js';
export {
  describeVideoUrl,
  MAX_URL_LENGTH,
  type NormalizedVideoUrl,
  normalizeVideoUrl,
  parseYouTubeVideoId,
} from './normalize-video-url.js';
export {
  type Clip,
  JOB_STATUSES,
  JOB_TRANSITIONS,
  type JobStatus,
  type ProcessingJob,
  type StageRecord,
  type StoreSchema,
  VIDEO_STATUSES,
  VIDEO_TRANSITIONS,
  type Video,
  type VideoSource,
  type VideoStatus,
} from './schema.js';
export { type Migratable, STORE_MIGRATION_TABLE, setupStore, storeMigrations } from './store-migrations.js';
export type {
  BatchInsertVideosOptions,
  BatchStatusUpdateOptions,
  CallOptions,
  ClaimOptions,
  JobUpdateOptions,
  PageOptions,
  StatusUpdateOptions,
  VideoStoreOptions,
} from './store-options.js';
export type { Page, StoreStats } from './store-results.js';
export { uuidv7 } from './uuid-v7.js';
export type { ClipAssets, NewClip, NewClipFor, NewJob, NewVideo, VideoPatch } from './validation.js';
export { STORE_LIMITS } from './validation.js';
export { createVideoStore, VideoStore } from './video-store.js';
