import { z } from 'zod';
import { JOB_STATUSES, type JobStatus, VIDEO_STATUSES, type VideoStatus } from './schema.js';
import { StoreError, StoreErrorCode } from './store-error.js';

/** What a caller gives to create a video; only `url` is required. */
export interface NewVideo {
  url: string;
  title?: string | null;
  description?: string | null;
  channelId?: string | null;
  channelTitle?: string | null;
  publishedAt?: Date | null;
  /** Seconds. */
  duration?: number | null;
  viewCount?: number | null;
  likeCount?: number | null;
  thumbnailPath?: string | null;
  /** Initial status (default 'pending'). */
  status?: VideoStatus;
}

/** Fields of a video that can change after creation (metadata fetched later, the thumbnail rendered). */
export type VideoPatch = Omit<NewVideo, 'url' | 'status'>;

export interface NewClip {
  /** Seconds from the start of the video; 0 <= startTime < endTime <= the video's duration (when known). */
  startTime: number;
  endTime: number;
  title?: string | null;
  caption?: string | null;
  score?: number | null;
  /** Any JSON value (stored as jsonb / json / text). */
  effects?: unknown;
  filePath?: string | null;
  thumbnailPath?: string | null;
  narrationPath?: string | null;
}

export interface NewClipFor extends NewClip {
  videoId: string;
}

export type ClipAssets = Pick<NewClip, 'filePath' | 'thumbnailPath' | 'narrationPath'>;

export interface NewJob {
  videoId: string;
  jobType: string;
  /** Higher runs first (default 0). */
  priority?: number;
  /** Not claimable before this time. */
  runAfter?: Date | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const INT32_MAX = 2_147_483_647;

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

function noNul(s: string): boolean {
  return !s.includes('\0');
}

// NUL is refused everywhere: PostgreSQL cannot store it in text, so allowing it elsewhere would make the
// dialects disagree.
const text = (max: number) => z.string().max(max).refine(noNul, 'must not contain NUL characters').nullish();
const textSchemas = new Map<number, ReturnType<typeof text>>();
const count = z.number().int().min(0).nullish();
const seconds = z.number().min(0);
const date = z.date().nullish();

const videoFields = {
  title: text(1000),
  description: text(100_000),
  channelId: text(128),
  channelTitle: text(1000),
  publishedAt: date,
  duration: seconds.nullish(),
  viewCount: count,
  likeCount: count,
  thumbnailPath: text(4096),
};

const newVideoSchema = z.strictObject({
  url: z.string().max(8192, 'must be at most 8192 characters'),
  ...videoFields,
  status: z.enum(VIDEO_STATUSES).optional(),
});

const videoPatchSchema = z.strictObject(videoFields);

const clipFields = {
  startTime: seconds,
  endTime: z.number(),
  title: text(1000),
  caption: text(100_000),
  score: z.number().nullish(),
  effects: z.unknown().optional(),
  filePath: text(4096),
  thumbnailPath: text(4096),
  narrationPath: text(4096),
};

const endAfterStart = (c: { startTime: number; endTime: number }): boolean => c.endTime > c.startTime;
const endAfterStartMessage = { message: 'endTime must be greater than startTime', path: ['endTime'] };

const newClipSchema = z.strictObject(clipFields).refine(endAfterStart, endAfterStartMessage);
const newClipForSchema = z
  .strictObject({ ...clipFields, videoId: z.string().regex(UUID, 'must be a UUID') })
  .refine(endAfterStart, endAfterStartMessage);

const clipAssetsSchema = z.strictObject({
  filePath: clipFields.filePath,
  thumbnailPath: clipFields.thumbnailPath,
  narrationPath: clipFields.narrationPath,
});

const newJobSchema = z.strictObject({
  videoId: z.string().regex(UUID, 'must be a UUID'),
  jobType: z.string().min(1).max(64).refine(noNul, 'must not contain NUL characters'),
  priority: z.number().int().min(-INT32_MAX).max(INT32_MAX).optional(),
  runAfter: date,
});

const videoStatusSchema = z.enum(VIDEO_STATUSES);
const jobStatusSchema = z.enum(JOB_STATUSES);
const limitSchema = z.number().int().min(1).max(10_000);

export function invalidInput(
  what: string,
  message: string,
  details: Record<string, unknown> = {},
): StoreError {
  return new StoreError(StoreErrorCode.InvalidInput, `Invalid ${what}: ${message}`, { details });
}

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map(
    (i) => `${i.path.length > 0 ? i.path.join('.') : 'value'}: ${i.message}`,
  );
  throw new StoreError(StoreErrorCode.InvalidInput, `Invalid ${what}: ${issues.join('; ')}`, {
    cause: parsed.error,
    details: { fields: parsed.error.issues.map((i) => i.path.join('.')) },
  });
}

export type ParsedVideo = z.output<typeof newVideoSchema>;
export type ParsedClip = z.output<typeof newClipSchema>;
export type ParsedClipFor = z.output<typeof newClipForSchema>;

const VIDEO_KEYS: ReadonlySet<string> = new Set(['url', 'status', ...Object.keys(videoFields)]);
const VIDEO_STATUS_SET: ReadonlySet<unknown> = new Set(VIDEO_STATUSES);

function okText(v: unknown, max: number): boolean {
  return v === undefined || v === null || (typeof v === 'string' && v.length <= max && !v.includes('\0'));
}

function okCount(v: unknown): boolean {
  return v === undefined || v === null || (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0);
}

/**
 * The same rules as newVideoSchema, checked by hand: a batch of 100,000 videos spent more time in zod
 * than in the database. Only a video that fails here goes through zod, for its precise error message.
 */
function isValidVideo(v: unknown): v is ParsedVideo {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  for (const key in v) if (!VIDEO_KEYS.has(key)) return false;
  const o = v as Record<string, unknown>;
  if (typeof o.url !== 'string' || o.url.length > 8192) return false;
  if (!okText(o.title, 1000) || !okText(o.description, 100_000) || !okText(o.channelId, 128)) return false;
  if (!okText(o.channelTitle, 1000) || !okText(o.thumbnailPath, 4096)) return false;
  const published = o.publishedAt;
  if (published !== undefined && published !== null) {
    if (!(published instanceof Date) || Number.isNaN(published.getTime())) return false;
  }
  const d = o.duration;
  if (d !== undefined && d !== null && !(typeof d === 'number' && Number.isFinite(d) && d >= 0)) return false;
  if (!okCount(o.viewCount) || !okCount(o.likeCount)) return false;
  return o.status === undefined || VIDEO_STATUS_SET.has(o.status);
}

const CLIP_KEYS: ReadonlySet<string> = new Set(Object.keys(clipFields));

function okNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** newClipSchema's rules by hand, for the same reason as isValidVideo (one call per clip written). */
function isValidClip(v: unknown): v is ParsedClip {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  for (const key in v) if (!CLIP_KEYS.has(key)) return false;
  const o = v as Record<string, unknown>;
  if (!okNumber(o.startTime) || o.startTime < 0 || !okNumber(o.endTime) || o.endTime <= o.startTime)
    return false;
  if (o.score !== undefined && o.score !== null && !okNumber(o.score)) return false;
  if (!okText(o.title, 1000) || !okText(o.caption, 100_000)) return false;
  return okText(o.filePath, 4096) && okText(o.thumbnailPath, 4096) && okText(o.narrationPath, 4096);
}

export const validate = {
  video: (v: unknown): ParsedVideo => (isValidVideo(v) ? v : parse(newVideoSchema, v, 'video')),
  videoPatch: (v: unknown): z.output<typeof videoPatchSchema> => parse(videoPatchSchema, v, 'video update'),
  clip: (v: unknown, what = 'clip'): ParsedClip => (isValidClip(v) ? v : parse(newClipSchema, v, what)),
  clipFor: (v: unknown, what = 'clip'): ParsedClipFor => parse(newClipForSchema, v, what),
  clipAssets: (v: unknown): z.output<typeof clipAssetsSchema> => parse(clipAssetsSchema, v, 'clip assets'),
  job: (v: unknown): z.output<typeof newJobSchema> => parse(newJobSchema, v, 'job'),
  videoStatus: (v: unknown): VideoStatus =>
    VIDEO_STATUS_SET.has(v) ? (v as VideoStatus) : parse(videoStatusSchema, v, 'video status'),
  jobStatus: (v: unknown): JobStatus => parse(jobStatusSchema, v, 'job status'),
  limit: (v: unknown): number => parse(limitSchema, v, 'limit'),
  text(v: unknown, what: string, max: number): string | null {
    if (v === undefined || v === null) return null;
    // Building a zod schema costs far more than using one: one per length, made once.
    let schema = textSchemas.get(max);
    if (schema === undefined) {
      schema = text(max);
      textSchemas.set(max, schema);
    }
    return parse(schema, v, what) ?? null;
  },
  /** An id argument: a UUID, lowercased (MariaDB compares CHAR(36) byte for byte). */
  id(v: unknown, what: string): string {
    if (!isUuid(v)) throw invalidInput(what, 'must be a UUID');
    return v.toLowerCase();
  },
};

/** JSON text for a json column, or null. PostgreSQL's jsonb cannot hold \u0000, so nobody may. */
export function toJsonText(value: unknown, what: string): string | null {
  if (value === undefined || value === null) return null;
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new StoreError(StoreErrorCode.InvalidInput, `Invalid ${what}: not JSON-serialisable`, {
      cause: error,
    });
  }
  if (text === undefined) throw invalidInput(what, 'not JSON-serialisable');
  if (text.includes('\\u0000')) throw invalidInput(what, 'must not contain NUL characters');
  return text;
}
