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
  stage(row: Row): StageRecord;
}

/**
 * Database rows to the store's records, per dialect: BIGINT as a string (pg), JSON as text (MariaDB,
 * SQLite), timestamps as epoch ms (SQLite) or zone-less DATETIME text all become one shape.
 */
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
    stage: (r) => ({ stage: str(r.stage), result: json(r.result), completedAt: date(r.completed_at) }),
  };
}
