import type { DialectName } from '../db/types.js';
import type {
  Clip,
  JobStatus,
  ProcessingJob,
  StageRecord,
  Video,
  VideoSource,
  VideoStatus,
} from './schema.js';

/** Columns read for each entity, in one place so every statement selects the same shape. */
export const VIDEO_COLUMNS = [
  'id',
  'url',
  'url_normalized',
  'source',
  'source_video_id',
  'title',
  'description',
  'channel_id',
  'channel_title',
  'published_at',
  'duration',
  'view_count',
  'like_count',
  'status',
  'status_reason',
  'thumbnail_path',
  'created_at',
  'updated_at',
] as const;

export const CLIP_COLUMNS = [
  'id',
  'video_id',
  'start_time',
  'end_time',
  'duration',
  'title',
  'caption',
  'score',
  'effects',
  'file_path',
  'thumbnail_path',
  'narration_path',
  'created_at',
] as const;

export const JOB_COLUMNS = [
  'id',
  'video_id',
  'job_type',
  'status',
  'priority',
  'attempts',
  'result',
  'error',
  'locked_by',
  'locked_at',
  'run_after',
  'created_at',
  'updated_at',
] as const;

type Row = Record<string, unknown>;

function num(v: unknown): number {
  return typeof v === 'number' ? v : Number(v);
}

function numOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : typeof v === 'number' ? v : Number(v);
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : String(v);
}

function strOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : typeof v === 'string' ? v : String(v);
}

/** DATETIME text without a zone is UTC here: the store only ever writes UTC. */
const NAIVE_DATETIME = /^\d{4}-\d\d-\d\d[ T]\d\d:\d\d(?::\d\d(?:\.\d+)?)?$/;

function date(v: unknown): Date {
  if (v instanceof Date) return v;
  if (typeof v === 'number') return new Date(v);
  if (typeof v === 'bigint') return new Date(Number(v));
  const s = String(v);
  if (/^\d+$/.test(s)) return new Date(Number(s));
  return new Date(NAIVE_DATETIME.test(s) ? `${s.replace(' ', 'T')}Z` : s);
}

function dateOrNull(v: unknown): Date | null {
  return v === null || v === undefined ? null : date(v);
}

/** pg parses jsonb itself; MariaDB's json and SQLite's text come back as JSON text. */
function jsonFor(dialect: DialectName): (v: unknown) => unknown {
  if (dialect === 'postgres') return (v) => (v === undefined ? null : v);
  return (v) => {
    if (v === null || v === undefined) return null;
    if (typeof v !== 'string') return v;
    return JSON.parse(v) as unknown;
  };
}

export interface RowMappers {
  video(row: Row): Video;
  clip(row: Row): Clip;
  job(row: Row): ProcessingJob;
  /** A Date as the dialect stores it: epoch ms in SQLite, a Date (the driver formats it) elsewhere. */
  ts(d: Date): Date | number;
  stage(row: Row): StageRecord;
}

export function rowMappers(dialect: DialectName): RowMappers {
  const json = jsonFor(dialect);
  return {
    video: (r) => ({
      id: str(r.id),
      url: str(r.url),
      urlNormalized: str(r.url_normalized),
      source: r.source as VideoSource,
      sourceVideoId: strOrNull(r.source_video_id),
      title: strOrNull(r.title),
      description: strOrNull(r.description),
      channelId: strOrNull(r.channel_id),
      channelTitle: strOrNull(r.channel_title),
      publishedAt: dateOrNull(r.published_at),
      duration: numOrNull(r.duration),
      viewCount: numOrNull(r.view_count),
      likeCount: numOrNull(r.like_count),
      status: r.status as VideoStatus,
      statusReason: strOrNull(r.status_reason),
      thumbnailPath: strOrNull(r.thumbnail_path),
      createdAt: date(r.created_at),
      updatedAt: date(r.updated_at),
    }),
    clip: (r) => ({
      id: str(r.id),
      videoId: str(r.video_id),
      startTime: num(r.start_time),
      endTime: num(r.end_time),
      duration: num(r.duration),
      title: strOrNull(r.title),
      caption: strOrNull(r.caption),
      score: numOrNull(r.score),
      effects: json(r.effects),
      filePath: strOrNull(r.file_path),
      thumbnailPath: strOrNull(r.thumbnail_path),
      narrationPath: strOrNull(r.narration_path),
      createdAt: date(r.created_at),
    }),
    job: (r) => ({
      id: str(r.id),
      videoId: str(r.video_id),
      jobType: str(r.job_type),
      status: r.status as JobStatus,
      priority: num(r.priority),
      attempts: num(r.attempts),
      result: json(r.result),
      error: strOrNull(r.error),
      lockedBy: strOrNull(r.locked_by),
      lockedAt: dateOrNull(r.locked_at),
      runAfter: dateOrNull(r.run_after),
      createdAt: date(r.created_at),
      updatedAt: date(r.updated_at),
    }),
    ts: dialect === 'sqlite' ? (d) => d.getTime() : (d) => d,
    stage: (r) => ({ stage: str(r.stage), result: json(r.result), completedAt: date(r.completed_at) }),
  };
}
