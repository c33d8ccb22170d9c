/**
 * JSON schemas of every route: Fastify validates requests and serialises responses with them, and
 * @fastify/swagger turns them into the OpenAPI document.
 */
import { JOB_STATUSES, VIDEO_STATUSES } from '../store/index.js';

const nullableString = { type: ['string', 'null'] } as const;
const nullableNumber = { type: ['number', 'null'] } as const;
const dateTime = { type: 'string', format: 'date-time' } as const;
const uuid = { type: 'string', format: 'uuid' } as const;

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

const errorResponses = {
  400: { $ref: 'Error#' },
  401: { $ref: 'Error#' },
} as const;

export const listVideosSchema = {
  tags: ['videos'],
  summary: 'List videos, newest first, optionally of one status; keyset pagination',
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      status: { type: 'string', enum: [...VIDEO_STATUSES] },
      limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
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
  },
} as const;

const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: uuid },
} as const;

export const getVideoSchema = {
  tags: ['videos'],
  summary: 'One video',
  params: idParams,
  response: { 200: { $ref: 'Video#' }, 404: { $ref: 'Error#' }, ...errorResponses },
} as const;

export const createVideoSchema = {
  tags: ['videos'],
  summary: 'Register a video by URL and enqueue its processing (202 with the job id)',
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
        duplicate: { type: 'boolean', description: 'A job for this video was already pending' },
        requestId: { type: 'string' },
      },
    },
    503: { $ref: 'Error#' },
    ...errorResponses,
  },
} as const;

export const listClipsSchema = {
  tags: ['videos'],
  summary: "A video's clips, in time order",
  params: idParams,
  response: {
    200: {
      type: 'object',
      required: ['items'],
      properties: { items: { type: 'array', items: { $ref: 'Clip#' } } },
    },
    404: { $ref: 'Error#' },
    ...errorResponses,
  },
} as const;

export const listJobsSchema = {
  tags: ['jobs'],
  summary: 'Pipeline jobs with their progress',
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      state: {
        type: 'string',
        enum: ['waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized'],
      },
      limit: { type: 'integer', minimum: 1, maximum: 500, default: 100 },
    },
  },
  response: {
    200: {
      type: 'object',
      required: ['items', 'counts'],
      properties: { items: { type: 'array', items: { $ref: 'Job#' } }, counts: countsByState },
    },
    503: { $ref: 'Error#' },
    ...errorResponses,
  },
} as const;

export const getJobSchema = {
  tags: ['jobs'],
  summary: 'One pipeline job',
  params: {
    type: 'object',
    required: ['id'],
    properties: { id: { type: 'string', minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9_-]+$' } },
  },
  response: { 200: { $ref: 'Job#' }, 404: { $ref: 'Error#' }, 503: { $ref: 'Error#' }, ...errorResponses },
} as const;

export const statsSchema = {
  tags: ['stats'],
  summary: 'Counts of videos, clips and jobs by status, and queue counts',
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
        queue: { ...countsByState, description: 'BullMQ job counts by state (absent without a queue)' },
      },
    },
    ...errorResponses,
  },
} as const;

export const summarySchema = {
  tags: ['stats'],
  summary: "A JSON digest of the service's metrics, for the dashboard's charts",
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
          properties: { queries: { type: 'integer' }, avgMs: { type: 'number' }, p95Ms: { type: 'number' } },
        },
        cache: {
          type: 'object',
          properties: { hits: { type: 'integer' }, misses: { type: 'integer' }, hitRate: { type: 'number' } },
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
  tags: ['health'],
  summary: 'The process is up',
  response: { 200: health },
} as const;
export const readySchema = {
  tags: ['health'],
  summary: 'The database answers a query and Redis a PING (503 when not)',
  response: { 200: health, 503: health },
} as const;
