// The main entry: the one way to do each thing a user starts with. Everything else (other ways to build
// a cache, the HTTP client, budgets, queue workers, `serve`, the error classes of each layer) is in the
// layer subpaths: video-opusclip/db, /store, /cache, /http, /resilience, /apis, /pipeline, /server, ….
export { type ApiClients, type ApiClientsOptions, createApiClients, sandboxBaseUrls } from './apis/index.js';
export { Cache, type CacheOptions } from './cache/index.js';
export { type Clock, isTransient, type Logger, OpusError, retryTime } from './core/index.js';
export { createDatabase, type Database, type DatabaseConfig } from './db/index.js';
export {
  createPipelinePorts,
  type PipelineOptions,
  type RunSummary,
  readVideoUrls,
  VideoPipeline,
} from './pipeline/index.js';
export { createSandbox, type Sandbox } from './sandbox/index.js';
export { createServer, type OpusServer, type ServerOptions } from './server/index.js';
export { type StoreSchema, setupStore, VideoStore, type VideoStoreOptions } from './store/index.js';
