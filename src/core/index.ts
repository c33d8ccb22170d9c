export * from './abort.js';
export * from './clock.js';
export * from './error-codes.js';
export * from './errors.js';
export * from './latency-recorder.js';
export * from './logger.js';
export * from './redact.js';
