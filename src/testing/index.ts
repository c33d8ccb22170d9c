export { FakeClock } from './fake-clock.js';
export { flushMicrotasks } from './flush-microtasks.js';
export { type LogLevel, type LogRecord, type RecordingLogger, recordingLogger } from './recording-logger.js';
