export * from './api-metrics-collector.js';
export * from './auth.js';
export * from './errors.js';
export * from './http-client.js';
export * from './params.js';
export * from './response-cache.js';
