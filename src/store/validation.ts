import { z } from 'zod';
import { StoreError, StoreErrorCode } from './errors.js';
import { JOB_STATUSES, type JobStatus, VIDEO_STATUSES, type VideoStatus } from './schema.js';

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

/**
 * What the store accepts, the same on PostgreSQL, MariaDB/MySQL and SQLite. Text lengths count UTF-16
 * code units (JavaScript's `length`), so a limit in characters is never exceeded in code points either.
 */
export const STORE_LIMITS = Object.freeze({
  /** The URL as given (stored trimmed in `videos.url`); the normalised form has its own limit. */
  url: 8192,
  /** The normalised URL (`videos.url_normalized`, unique): see MAX_URL_LENGTH. */
  normalizedUrl: 2048,
  title: 1000,
  description: 100_000,
  channelId: 128,
  channelTitle: 1000,
  /** thumbnailPath, filePath, narrationPath. */
  path: 4096,
  caption: 100_000,
  statusReason: 10_000,
  jobType: 64,
  jobError: 1_000_000,
  workerId: 255,
  stage: 32,
  /** UTF-8 bytes of a JSON value's text (clip effects, job and stage results). */
  jsonBytes: 4 * 1024 * 1024,
  /** Nesting of arrays and objects in a JSON value: MariaDB's JSON_VALID refuses 32 levels. */
  jsonDepth: 31,
  /** Timestamps (publishedAt, runAfter): MariaDB's DATETIME range, in UTC. */
  minDate: Date.UTC(1000, 0, 1),
  maxDate: Date.UTC(9999, 11, 31, 23, 59, 59, 999),
  /** priority: a 32-bit INTEGER column. */
  priority: INT32_MAX,
});

const L = STORE_LIMITS;

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

// String.prototype.isWellFormed (Node 20) is not in the ES2023 lib.
const wellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

/**
 * NUL: PostgreSQL's text and jsonb cannot hold it. An unpaired surrogate: every driver encodes it as
 * U+FFFD (better-sqlite3 as three of them), so it would read back changed. Both are refused everywhere.
 */
function storableText(s: string): boolean {
  return !s.includes('\0') && wellFormed(s);
}
const STORABLE = 'must not contain NUL characters or unpaired UTF-16 surrogates';

function inDateRange(d: Date): boolean {
  const t = d.getTime();
  return t >= L.minDate && t <= L.maxDate;
}
const DATE_RANGE = 'must be between 1000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z';

const text = (max: number) => z.string().max(max).refine(storableText, STORABLE).nullish();
const textSchemas = new Map<number, ReturnType<typeof text>>();
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullish();
const seconds = z.number().min(0);
const date = z.date().refine(inDateRange, DATE_RANGE).nullish();

const videoFields = {
  title: text(L.title),
  description: text(L.description),
  channelId: text(L.channelId),
  channelTitle: text(L.channelTitle),
  publishedAt: date,
  duration: seconds.nullish(),
  viewCount: count,
  likeCount: count,
  thumbnailPath: text(L.path),
};

const newVideoSchema = z.strictObject({
  url: z.string().max(L.url, `must be at most ${L.url} characters`).refine(storableText, STORABLE),
  ...videoFields,
  status: z.enum(VIDEO_STATUSES).optional(),
});

const videoPatchSchema = z.strictObject(videoFields);

const clipFields = {
  startTime: seconds,
  endTime: z.number(),
  title: text(L.title),
  caption: text(L.caption),
  score: z.number().nullish(),
  effects: z.unknown().optional(),
  filePath: text(L.path),
  thumbnailPath: text(L.path),
  narrationPath: text(L.path),
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
  jobType: z.string().min(1).max(L.jobType).refine(storableText, STORABLE),
  priority: z.number().int().min(-L.priority).max(L.priority).optional(),
  runAfter: date,
});

const videoStatusSchema = z.enum(VIDEO_STATUSES);
const jobStatusSchema = z.enum(JOB_STATUSES);
const limitSchema = z.number().int().min(1).max(10_000);

/**
 * ERR_STORE_INVALID_INPUT for `field` (the API's name: `title`, `effects`, `videoId`...; also in
 * `details.field`). `what` is how the message names it when that differs (`clip #2 effects`).
 */
export function invalidInput(
  field: string,
  message: string,
  details: Record<string, unknown> = {},
  what: string = field,
): StoreError {
  return new StoreError(StoreErrorCode.InvalidInput, `Invalid ${what}: ${message}`, {
    details: { field, ...details },
  });
}

/** ERR_STORE_INVALID_INPUT for a clip that ends after its video (`duration` in seconds, null: unknown). */
export function clipPastEnd(endTime: number, duration: number | null, what: string): StoreError {
  return invalidInput(
    'endTime',
    `endTime ${endTime} is past the end of the video (${duration ?? 'unknown'} s)`,
    { endTime, duration },
    what,
  );
}

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string, field = what): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map(
    (i) => `${i.path.length > 0 ? i.path.join('.') : 'value'}: ${i.message}`,
  );
  const fields = parsed.error.issues.map((i) => (i.path.length > 0 ? i.path.join('.') : field));
  // An unknown key is reported on the object; name the key itself.
  const first = parsed.error.issues[0];
  const unknownKey = first?.code === 'unrecognized_keys' ? first.keys[0] : undefined;
  throw new StoreError(StoreErrorCode.InvalidInput, `Invalid ${what}: ${issues.join('; ')}`, {
    cause: parsed.error,
    details: { field: unknownKey ?? fields[0] ?? field, fields },
  });
}

export type ParsedVideo = z.output<typeof newVideoSchema>;
export type ParsedClip = z.output<typeof newClipSchema>;
export type ParsedClipFor = z.output<typeof newClipForSchema>;

const VIDEO_KEYS: ReadonlySet<string> = new Set(['url', 'status', ...Object.keys(videoFields)]);
const VIDEO_STATUS_SET: ReadonlySet<unknown> = new Set(VIDEO_STATUSES);

function okText(v: unknown, max: number): boolean {
  return v === undefined || v === null || (typeof v === 'string' && v.length <= max && storableText(v));
}

function okCount(v: unknown): boolean {
  return v === undefined || v === null || (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0);
}

function okDate(v: unknown): boolean {
  return v === undefined || v === null || (v instanceof Date && inDateRange(v));
}

/**
 * The same rules as newVideoSchema, checked by hand: a batch of 100,000 videos spent more time in zod
 * than in the database. Only a video that fails here goes through zod, for its precise error message.
 */
function isValidVideo(v: unknown): v is ParsedVideo {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  for (const key in v) if (!VIDEO_KEYS.has(key)) return false;
  const o = v as Record<string, unknown>;
  if (typeof o.url !== 'string' || o.url.length > L.url || !storableText(o.url)) return false;
  if (!okText(o.title, L.title) || !okText(o.description, L.description)) return false;
  if (!okText(o.channelId, L.channelId) || !okText(o.channelTitle, L.channelTitle)) return false;
  if (!okText(o.thumbnailPath, L.path) || !okDate(o.publishedAt)) return false;
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
  if (!okText(o.title, L.title) || !okText(o.caption, L.caption)) return false;
  return okText(o.filePath, L.path) && okText(o.thumbnailPath, L.path) && okText(o.narrationPath, L.path);
}

export const validate = {
  video: (v: unknown): ParsedVideo => (isValidVideo(v) ? v : parse(newVideoSchema, v, 'video')),
  videoPatch: (v: unknown): z.output<typeof videoPatchSchema> => parse(videoPatchSchema, v, 'video update'),
  clip: (v: unknown, what = 'clip'): ParsedClip => (isValidClip(v) ? v : parse(newClipSchema, v, what)),
  clipFor: (v: unknown, what = 'clip'): ParsedClipFor => parse(newClipForSchema, v, what),
  clipAssets: (v: unknown): z.output<typeof clipAssetsSchema> => parse(clipAssetsSchema, v, 'clip assets'),
  job: (v: unknown): z.output<typeof newJobSchema> => parse(newJobSchema, v, 'job'),
  videoStatus: (v: unknown): VideoStatus =>
    VIDEO_STATUS_SET.has(v) ? (v as VideoStatus) : parse(videoStatusSchema, v, 'video status', 'status'),
  jobStatus: (v: unknown): JobStatus => parse(jobStatusSchema, v, 'job status', 'status'),
  limit: (v: unknown): number => parse(limitSchema, v, 'limit'),
  /** Optional text: null when absent. `field` is the API's name of the argument or option. */
  text(v: unknown, what: string, max: number, field: string = what): string | null {
    if (v === undefined || v === null) return null;
    if (typeof v === 'string' && v.length <= max && storableText(v)) return v;
    // Building a zod schema costs far more than using one: one per length, made once.
    let schema = textSchemas.get(max);
    if (schema === undefined) {
      schema = text(max);
      textSchemas.set(max, schema);
    }
    return parse(schema, v, what, field) ?? null;
  },
  /** An optional timestamp within the range every dialect stores (see STORE_LIMITS). */
  date(v: unknown, field: string): Date | null {
    if (v === undefined || v === null) return null;
    if (!(v instanceof Date) || Number.isNaN(v.getTime())) throw invalidInput(field, 'must be a valid Date');
    if (!inDateRange(v)) throw invalidInput(field, DATE_RANGE);
    return v;
  },
  /** An id argument: a UUID, lowercased (MariaDB compares CHAR(36) byte for byte). */
  id(v: unknown, what: string, field: string = what): string {
    if (!isUuid(v)) throw invalidInput(field, 'must be a UUID', {}, what);
    return v.toLowerCase();
  },
};

const BACKSLASH = 0x5c;
const QUOTE = 0x22;

/**
 * Why a JSON text (as JSON.stringify writes it) cannot be stored alike everywhere, or undefined.
 * JSON.stringify escapes NUL as \u0000 and an unpaired surrogate as \udXXX (paired ones it writes as
 * they are), so one pass over the escapes finds both, and counts the nesting on the way.
 */
function jsonProblem(text: string): string | undefined {
  // Nesting past the limit takes 2 * (limit + 1) characters; most values are shorter and escape-free.
  if (text.length < 2 * (L.jsonDepth + 1) && !text.includes('\\u')) return undefined;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === QUOTE) inString = false;
      else if (c === BACKSLASH) {
        if (text.charCodeAt(i + 1) === 0x75 /* u */) {
          const code = Number.parseInt(text.slice(i + 2, i + 6), 16);
          if (code === 0) return 'must not contain NUL characters';
          if (code >= 0xd800 && code <= 0xdfff) return 'must not contain unpaired UTF-16 surrogates';
          i += 5;
        } else {
          i += 1;
        }
      }
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > L.jsonDepth) return `must not nest arrays and objects deeper than ${L.jsonDepth} levels`;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      depth--;
    }
  }
  return undefined;
}

/**
 * JSON text for a json column, or null for undefined/null. What is stored is JSON.stringify's text, so
 * a value reads back as JSON.parse(JSON.stringify(value)) on every dialect. Refused: values JSON cannot
 * represent (BigInt, cycles), NUL (PostgreSQL's jsonb cannot hold it), unpaired surrogates (jsonb and
 * MariaDB's JSON_VALID refuse them), nesting deeper than MariaDB's JSON_VALID allows, more than
 * STORE_LIMITS.jsonBytes.
 */
export function toJsonText(value: unknown, what: string, field: string = what): string | null {
  if (value === undefined || value === null) return null;
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new StoreError(StoreErrorCode.InvalidInput, `Invalid ${what}: not JSON-serialisable`, {
      cause: error,
      details: { field },
    });
  }
  if (text === undefined) throw invalidInput(field, 'not JSON-serialisable', {}, what);
  // A UTF-16 unit is at most 3 UTF-8 bytes: only a long text needs counting.
  if (text.length * 3 > L.jsonBytes && Buffer.byteLength(text) > L.jsonBytes) {
    throw invalidInput(field, `must be at most ${L.jsonBytes} bytes of JSON`, {}, what);
  }
  const problem = jsonProblem(text);
  if (problem !== undefined) throw invalidInput(field, problem, {}, what);
  return text;
}
