export * from './normalize-video-url.js';
export * from './schema.js';
export * from './store-error.js';
export * from './store-migrations.js';
export { uuidv7 } from './uuid-v7.js';
export type { ClipAssets, NewClip, NewClipFor, NewJob, NewVideo, VideoPatch } from './validation.js';
export { STORE_LIMITS } from './validation.js';
export * from './video-store.js';
