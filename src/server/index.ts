export * from './asset-url.js';
export * from './create-server.js';
export * from './errors.js';
export * from './metric-labels.js';
export * from './metrics-registry.js';
export * from './serve.js';
export * from './server-logger.js';
export * from './service-cache.js';
