export { abortReason, combineSignals, raceSignal, throwIfAborted, timeoutSignal } from './abort.js';
export { type Clock, coarseNow, systemClock } from './clock.js';
export {
  defineErrorCodes,
  type ErrorClass,
  type ErrorCodeInfo,
  type ErrorCodeSpec,
  errorCatalogue,
} from './error-codes.js';
export {
  AbortedError,
  ClosedError,
  ConfigError,
  CoreErrorCode,
  InvalidArgumentError,
  isOpusError,
  isTransient,
  OpusError,
  type OpusErrorOptions,
  retryTime,
  TimeoutError,
} from './errors.js';
export { LatencyRecorder, type LatencySummary } from './latency-recorder.js';
export { type Logger, silentLogger } from './logger.js';
export { fingerprint, redactConnectionUrl, redactSecrets, redactUrl } from './redact.js';
