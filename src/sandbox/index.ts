export {
  type CapacityConfig,
  type ChaosConfig,
  type ChaosMode,
  type ElevenLabsConfig,
  type LatencyConfig,
  type OpenAIConfig,
  type SandboxConfig,
  type SandboxConfigInput,
  type SandboxKeys,
  type SandboxOptions,
  type ScriptedFault,
  type StabilityConfig,
  VENDORS,
  type Vendor,
  type YouTubeConfig,
  type YouTubeMethod,
} from './config.js';
export {
  type ContractIssue,
  type ContractRequest,
  type ContractResponse,
  type ContractResult,
  ContractValidator,
} from './contract-validator.js';
export { ContractViolationError, SandboxError, SandboxErrorCode } from './errors.js';
export { type RecordedRequest, type RequestFilter, RequestLog } from './request-log.js';
export { createSandbox, type Sandbox } from './sandbox.js';
export {
  type CaptionFormat,
  formatTranscript,
  isMissingVideoId,
  type SandboxChannel,
  type SandboxVideo,
  sandboxChannel,
  sandboxChannels,
  sandboxTranscript,
  sandboxVideo,
  type TranscriptSegment,
} from './youtube-data.js';
