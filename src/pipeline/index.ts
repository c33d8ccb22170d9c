export * from './fallback-transcript.js';
export * from './pipeline-error.js';
export * from './pipeline-ports.js';
export * from './pipeline-queue.js';
export * from './pipeline-services.js';
export * from './pipeline-worker.js';
export * from './read-video-urls.js';
export * from './video-pipeline.js';
