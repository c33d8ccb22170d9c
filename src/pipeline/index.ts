export { type CoalesceVideoLookupsOptions, coalesceVideoLookups } from './coalesce-video-lookups.js';
export { PipelineError, PipelineErrorCode } from './errors.js';
export {
  type GeneratedAsset,
  type HighlightCandidate,
  type Lookup,
  type MediaHook,
  noMedia,
  type PipelinePorts,
  type Transcript,
  type TranscriptSegment,
  type TranscriptSourceKind,
  type VideoMetadata,
} from './pipeline-ports.js';
export {
  DEFAULT_QUEUE_NAME,
  type EnqueueResult,
  PipelineQueue,
  type PipelineQueueOptions,
  type QueueJobInfo,
  type QueueJobState,
  type VideoJobData,
} from './pipeline-queue.js';
export {
  createPipelinePorts,
  type PortsOptions,
  type SharedBudgetOptions,
  sharedBudgets,
} from './pipeline-services.js';
export { type PipelineWorker, type PipelineWorkerOptions, startPipelineWorker } from './pipeline-worker.js';
export { readVideoUrls, type UrlInput, urlSources } from './read-video-urls.js';
export {
  type BadInput,
  type PipelineEvent,
  type PipelineOptions,
  pipelineStageChannel,
  type RunOptions,
  type RunSummary,
  STAGES,
  type StageName,
  type VideoOutcome,
  type VideoOutcomeStatus,
  VideoPipeline,
} from './video-pipeline.js';
