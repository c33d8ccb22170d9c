/**
 * JSON schemas of every route: Fastify validates requests and serialises responses with them, and
 * @fastify/swagger turns them into the OpenAPI document.
 */
import { JOB_STATUSES, VIDEO_STATUSES } from '../store/index.js';

const nullableString = { type: ['string', 'null'] } as const;
const nullableNumber = { type: ['number', 'null'] } as const;
const dateTime = { type: 'string', format: 'date-time' } as const;
const uuid = { type: 'string', format: 'uuid' } as const;

/** An integer from a query string, within [minimum, maximum]; `x-finite` refuses Infinity (see finite-numbers.ts). */
function queryInteger(minimum: number, maximum: number, defaultValue: number) {
  return { type: 'integer', minimum, maximum, default: defaultValue, 'x-finite': true } as const;
}

export const errorSchema = {
  $id: 'Error',
  type: 'object',
  required: ['statusCode', 'code', 'error', 'message'],
  properties: {
    statusCode: { type: 'integer' },
    code: { type: 'string', description: 'Stable machine-readable code' },
    error: { type: 'string' },
    message: { type: 'string' },
    field: { type: 'string', description: 'The request field at fault (400s)' },
    requestId: { type: 'string' },
  },
} as const;

export const videoSchema = {
  $id: 'Video',
  type: 'object',
  required: ['id', 'url', 'source', 'status', 'createdAt', 'updatedAt'],
  properties: {
    id: uuid,
    url: { type: 'string' },
    urlNormalized: { type: 'string' },
    source: { type: 'string', enum: ['youtube', 'url'] },
    sourceVideoId: nullableString,
    title: nullableString,
    description: nullableString,
    channelId: nullableString,
    channelTitle: nullableString,
    publishedAt: { type: ['string', 'null'], format: 'date-time' },
    duration: nullableNumber,
    viewCount: nullableNumber,
    likeCount: nullableNumber,
    status: { type: 'string', enum: [...VIDEO_STATUSES] },
    statusReason: nullableString,
    thumbnailPath: nullableString,
    thumbnailUrl: { ...nullableString, description: 'Under /assets/ when the file is in the assets dir' },
    createdAt: dateTime,
    updatedAt: dateTime,
  },
} as const;

export const clipSchema = {
  $id: 'Clip',
  type: 'object',
  required: ['id', 'videoId', 'startTime', 'endTime', 'duration'],
  properties: {
    id: uuid,
    videoId: uuid,
    startTime: { type: 'number' },
    endTime: { type: 'number' },
    duration: { type: 'number' },
    title: nullableString,
    caption: nullableString,
    score: nullableNumber,
    filePath: nullableString,
    thumbnailPath: nullableString,
    narrationPath: nullableString,
    fileUrl: nullableString,
    thumbnailUrl: nullableString,
    narrationUrl: nullableString,
    createdAt: dateTime,
  },
} as const;

export const jobSchema = {
  $id: 'Job',
  type: 'object',
  required: ['id', 'state'],
  properties: {
    id: { type: 'string' },
    youtubeId: { type: 'string' },
    url: { type: 'string' },
    state: { type: 'string' },
    progress: { description: 'What the worker reported: a number 0..100 or an object' },
    attemptsMade: { type: 'integer' },
    failedReason: nullableString,
    createdAt: dateTime,
    finishedAt: { type: ['string', 'null'], format: 'date-time' },
    requestId: nullableString,
  },
} as const;

const countsByState = { type: 'object', additionalProperties: { type: 'integer' } } as const;

const errorRef = { $ref: 'Error#' } as const;

/**
 * Error answers a route documents, all in the `Error` shape: 400 (a field is invalid; malformed URL),
 * 401 (secured routes), 500 (unexpected), plus what the route adds (404, 413, 415, 503).
 */
const errorResponses = { 400: errorRef, 401: errorRef, 500: errorRef } as const;
const bodyErrors = { 413: errorRef, 415: errorRef } as const;
const unavailable = { 503: errorRef } as const;
const notFound = { 404: errorRef } as const;

/** Routes answered without an API key. */
const publicRoute = { security: [] } as const;

export const listVideosSchema = {
  operationId: 'listVideos',
  tags: ['videos'],
  summary: 'List videos, newest first, optionally of one status; keyset pagination',
  description:
    "Without `status` the per-status pages are merged by id. Pass the answer's `nextCursor` as `cursor` for the next page; `null` means the last page.",
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      status: { type: 'string', enum: [...VIDEO_STATUSES], description: 'Only videos in this status' },
      limit: { ...queryInteger(1, 500, 50), description: 'Page size, 1 to 500' },
      cursor: { ...uuid, description: 'nextCursor of the previous page' },
    },
  },
  response: {
    200: {
      type: 'object',
      required: ['items', 'nextCursor'],
      properties: {
        items: { type: 'array', items: { $ref: 'Video#' } },
        nextCursor: { type: ['string', 'null'] },
      },
    },
    ...errorResponses,
    ...unavailable,
  },
} as const;

const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { ...uuid, description: 'The video id (a UUID)' } },
} as const;

export const getVideoSchema = {
  operationId: 'getVideo',
  tags: ['videos'],
  summary: 'One video',
  description: 'The video with its metadata, status and thumbnail URL; 404 when no video has this id.',
  params: idParams,
  response: { 200: { $ref: 'Video#' }, ...errorResponses, ...notFound, ...unavailable },
} as const;

export const createVideoSchema = {
  operationId: 'createVideo',
  tags: ['videos'],
  summary: 'Register a video by URL and enqueue its processing (202 with the job id)',
  description:
    'The URL is validated in full first (a YouTube video URL, no credentials, no control characters, at most 2048 characters); a refused URL answers 400 naming `url` and nothing is stored or enqueued. The canonical URL is stored (idempotent) and one job per video is enqueued; `duplicate` is false only for the request that created the video. Needs Redis (503 without).',
  body: {
    type: 'object',
    required: ['url'],
    additionalProperties: false,
    properties: {
      url: { type: 'string', minLength: 1, maxLength: 2048, description: 'A YouTube video URL' },
      priority: { type: 'integer', minimum: 1, maximum: 1000 },
    },
  },
  response: {
    202: {
      type: 'object',
      required: ['jobId', 'videoId', 'youtubeId', 'url', 'duplicate', 'requestId'],
      properties: {
        jobId: { type: 'string' },
        videoId: uuid,
        youtubeId: { type: 'string' },
        url: { type: 'string' },
        duplicate: {
          type: 'boolean',
          description: 'False only for the request that created the video; true for every other one',
        },
        requestId: { type: 'string' },
      },
    },
    ...errorResponses,
    ...bodyErrors,
    ...unavailable,
  },
} as const;

export const listClipsSchema = {
  operationId: 'listVideoClips',
  tags: ['videos'],
  summary: "A video's clips, in time order",
  description:
    'Clip files, thumbnails and narration inside the assets directory come with URLs under /assets/.',
  params: idParams,
  response: {
    200: {
      type: 'object',
      required: ['items'],
      properties: { items: { type: 'array', items: { $ref: 'Clip#' } } },
    },
    ...errorResponses,
    ...notFound,
    ...unavailable,
  },
} as const;

export const listJobsSchema = {
  operationId: 'listJobs',
  tags: ['jobs'],
  summary: 'Pipeline jobs with their progress',
  description:
    'Jobs of the BullMQ queue, newest first, with counts by state. Needs Redis (503 without, or when Redis does not answer in time).',
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      state: {
        type: 'string',
        enum: ['waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized'],
        description: 'Only jobs in this state',
      },
      limit: { ...queryInteger(1, 500, 100), description: 'Most jobs to list, 1 to 500' },
    },
  },
  response: {
    200: {
      type: 'object',
      required: ['items', 'counts'],
      properties: { items: { type: 'array', items: { $ref: 'Job#' } }, counts: countsByState },
    },
    ...errorResponses,
    ...unavailable,
  },
} as const;

export const getJobSchema = {
  operationId: 'getJob',
  tags: ['jobs'],
  summary: 'One pipeline job',
  description:
    'The job with its progress, attempts, failure reason and request id; 404 when unknown. Needs Redis.',
  params: {
    type: 'object',
    required: ['id'],
    properties: {
      id: {
        type: 'string',
        minLength: 1,
        maxLength: 200,
        pattern: '^[A-Za-z0-9_-]+$',
        description: 'The job id (`yt-` and the YouTube video id)',
      },
    },
  },
  response: { 200: { $ref: 'Job#' }, ...errorResponses, ...notFound, ...unavailable },
} as const;

export const statsSchema = {
  operationId: 'getStats',
  tags: ['stats'],
  summary: 'Counts of videos, clips and jobs by status, and queue counts',
  description:
    'Store counts from the database; `queue` is left out when there is no queue or Redis does not answer in time.',
  response: {
    200: {
      type: 'object',
      required: ['videos', 'clips', 'jobs'],
      properties: {
        videos: {
          type: 'object',
          properties: { total: { type: 'integer' }, byStatus: countsByState },
        },
        clips: { type: 'object', properties: { total: { type: 'integer' } } },
        jobs: {
          type: 'object',
          properties: {
            total: { type: 'integer' },
            byStatus: {
              type: 'object',
              additionalProperties: { type: 'integer' },
              description: [...JOB_STATUSES].join(', '),
            },
          },
        },
        queue: {
          ...countsByState,
          description: 'BullMQ job counts by state (absent without a queue or when Redis is late)',
        },
      },
    },
    ...errorResponses,
    ...unavailable,
  },
} as const;

export const summarySchema = {
  operationId: 'getMetricsSummary',
  tags: ['stats'],
  summary: "A JSON digest of the service's metrics, for the dashboard's charts",
  description:
    'Request, database, cache, API-client and queue figures; parts whose source does not answer in time are left out.',
  response: {
    200: {
      type: 'object',
      required: ['time'],
      properties: {
        time: { type: 'number' },
        queue: countsByState,
        server: {
          type: 'object',
          properties: { requests: { type: 'integer' }, p50Ms: { type: 'number' }, p95Ms: { type: 'number' } },
        },
        db: {
          type: 'object',
          properties: {
            queries: { type: 'integer' },
            avgMs: { type: 'number' },
            p95Ms: { type: 'number' },
            pool: {
              type: 'object',
              description: "The primary's connection pool now",
              properties: {
                limit: {
                  type: 'integer',
                  description: 'Connections it may open now: its max, or the adaptive limit',
                },
                open: { type: 'integer' },
                inUse: { type: 'integer' },
                waiting: { type: 'integer' },
                acquireWaitP99Ms: { type: 'number' },
              },
            },
          },
        },
        cache: {
          type: 'object',
          properties: {
            hits: { type: 'integer' },
            misses: { type: 'integer' },
            hitRate: { type: 'number' },
            warmedKeys: { type: 'integer', description: 'Keys loaded by the warm-up at start' },
            refreshedAhead: { type: 'integer', description: 'Hot entries reloaded before they expired' },
          },
        },
        http: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              service: { type: 'string' },
              requests: { type: 'integer' },
              avgMs: { type: 'number' },
              p95Ms: { type: 'number' },
              quotaUsed: { type: 'number' },
              quotaLimit: { type: 'number' },
              origins: {
                type: 'array',
                description:
                  'Each base URL of the service: attempts, breaker, and its adaptive concurrency limit when on',
                items: {
                  type: 'object',
                  properties: {
                    origin: { type: 'string' },
                    attempts: { type: 'integer' },
                    failedAttempts: { type: 'integer' },
                    breakerState: { type: 'string' },
                    concurrencyLimit: { type: 'integer' },
                    inFlight: { type: 'integer' },
                    waiting: { type: 'integer' },
                  },
                },
              },
            },
          },
        },
      },
    },
    ...errorResponses,
  },
} as const;

export const slowQueriesSchema = {
  operationId: 'listSlowQueries',
  tags: ['stats'],
  summary: 'Statements slower than the slow-query threshold, with their plans and findings',
  description:
    'One item per distinct statement, most recently seen first: its name, its SQL text with literals ' +
    'replaced by `?` (parameter values are never kept), how often and how slowly it ran, the plan ' +
    'EXPLAIN gave for it (reads only) and plain findings (full scans of large tables, sorts without an ' +
    'index, the index that would serve it). Empty when slow-query capture is off.',
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: { limit: { ...queryInteger(1, 100, 100), description: 'Most statements to list, 1 to 100' } },
  },
  response: {
    200: {
      type: 'object',
      required: ['items'],
      properties: {
        items: {
          type: 'array',
          items: {
            type: 'object',
            required: [
              'name',
              'sql',
              'dialect',
              'count',
              'maxMs',
              'avgMs',
              'lastSeenAt',
              'planStatus',
              'findings',
            ],
            properties: {
              name: { type: 'string', description: 'The statement name of its last run' },
              sql: { type: 'string', description: 'The SQL text, literals replaced by `?`' },
              dialect: { type: 'string', enum: ['postgres', 'mysql', 'sqlite'] },
              count: { type: 'integer', description: 'Captured (sampled) runs' },
              maxMs: { type: 'number' },
              avgMs: { type: 'number' },
              lastMs: { type: 'number' },
              firstSeenAt: dateTime,
              lastSeenAt: dateTime,
              planStatus: {
                type: 'string',
                enum: ['planned', 'pending', 'failed', 'not-planned', 'not-a-read'],
                description: '`not-a-read`: a write, DDL or session statement, never planned',
              },
              planError: { type: 'string' },
              plan: {
                description: "The plan as the database writes it (redacted): JSON, or SQLite's plan rows",
              },
              findings: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['kind', 'message'],
                  properties: {
                    kind: { type: 'string', enum: ['full-scan', 'sort-without-index', 'index'] },
                    message: { type: 'string' },
                    table: { type: 'string' },
                    rows: { type: 'number' },
                    columns: { type: 'array', items: { type: 'string' } },
                  },
                },
              },
            },
          },
        },
      },
    },
    ...errorResponses,
  },
} as const;

const health = {
  type: 'object',
  required: ['status'],
  properties: {
    status: { type: 'string' },
    uptimeSeconds: { type: 'number' },
    checks: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        properties: { ok: { type: 'boolean' }, ms: { type: 'number' }, error: { type: 'string' } },
      },
    },
  },
} as const;

export const healthSchema = {
  operationId: 'getHealth',
  tags: ['health'],
  summary: 'The process is up',
  description: 'Liveness: 200 while the process serves requests. Public.',
  ...publicRoute,
  response: { 200: health, 400: errorRef, 500: errorRef },
} as const;
export const readySchema = {
  operationId: 'getReadiness',
  tags: ['health'],
  summary: 'The database answers a query and Redis a PING (503 when not)',
  description: 'Readiness: each check has `readinessTimeoutMs` (default 1000 ms). Public.',
  ...publicRoute,
  response: { 200: health, 400: errorRef, 500: errorRef, 503: health },
} as const;

/** GET /metrics: the Prometheus text exposition; public when `publicMetrics` is set. */
export function metricsSchema(isPublic: boolean) {
  return {
    operationId: 'getMetrics',
    tags: ['stats'],
    summary: 'Prometheus metrics in the text exposition format',
    description: 'Needs the API key unless the service runs with `publicMetrics`.',
    ...(isPublic ? publicRoute : {}),
    response: {
      200: {
        description: 'The exposition (text/plain; version=0.0.4)',
        content: { 'text/plain': { schema: { type: 'string' } } },
      },
      ...(isPublic ? { 400: errorRef, 500: errorRef } : errorResponses),
      ...unavailable,
    },
  } as const;
}

const gatewayParams = {
  type: 'object',
  required: ['vendor', '*'],
  properties: {
    vendor: {
      type: 'string',
      description: 'youtube, openai, stability or elevenlabs (a vendor the service holds a key for)',
    },
    '*': { type: 'string', description: "The vendor's own path, e.g. `v1/chat/completions`" },
  },
} as const;

const GATEWAY_DESCRIPTION =
  "Forwards the request to the vendor's API with the account key the service holds (the caller's own " +
  "key is stripped) and answers with the vendor's status, body and content type, bytes unchanged. " +
  "The account's budget (YouTube units, OpenAI tokens, ElevenLabs characters, Stability credits), the " +
  "response cache, retries and the breaker apply. Refusals of the gateway itself come in the vendor's " +
  'error shape with the code in it: 429 with Retry-After when the caller is over its per-minute limit ' +
  '(ERR_SERVER_GATEWAY_CALLER_LIMITED) or the account budget has no room (ERR_SERVER_GATEWAY_BUDGET_EXHAUSTED), ' +
  '502/503/504 when the vendor cannot be reached in time (ERR_SERVER_GATEWAY_UPSTREAM). See docs/gateway.md.';

/** One gateway operation per method (operationIds must be unique). */
function gatewaySchema(method: string, summary: string) {
  return {
    operationId: `gateway${method}`,
    tags: ['gateway'],
    summary,
    description: GATEWAY_DESCRIPTION,
    params: gatewayParams,
    response: {
      200: {
        description: "The vendor's answer (any 2xx or vendor error status), unchanged",
        content: { '*/*': { schema: { type: 'string', format: 'binary' } } },
      },
      400: errorRef,
      401: errorRef,
      404: errorRef,
      413: errorRef,
      500: errorRef,
    },
  } as const;
}

export const gatewaySchemas = {
  GET: gatewaySchema('Get', 'GET a vendor API path through the gateway (cacheable lists are cached)'),
  POST: gatewaySchema('Post', 'POST to a vendor API path through the gateway'),
  PUT: gatewaySchema('Put', 'PUT to a vendor API path through the gateway'),
  PATCH: gatewaySchema('Patch', 'PATCH a vendor API path through the gateway'),
  DELETE: gatewaySchema('Delete', 'DELETE a vendor API path through the gateway'),
} as const;
