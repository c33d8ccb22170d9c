import type { ColumnType, Generated } from 'kysely';

export const VIDEO_STATUSES = ['pending', 'downloading', 'processing', 'completed', 'failed'] as const;
export type VideoStatus = (typeof VIDEO_STATUSES)[number];

export const JOB_STATUSES = ['pending', 'running', 'completed', 'failed'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export type VideoSource = 'youtube' | 'url';

/**
 * Allowed predecessors of each video status: pending → downloading → processing → completed, any
 * unfinished state → failed, failed → pending (retry). pending → processing is allowed too, for sources
 * that need no download (a file already on disk). completed is final.
 */
export const VIDEO_TRANSITIONS: Readonly<Record<VideoStatus, readonly VideoStatus[]>> = {
  pending: ['failed'],
  downloading: ['pending'],
  processing: ['pending', 'downloading'],
  completed: ['processing'],
  failed: ['pending', 'downloading', 'processing'],
};

/**
 * Allowed predecessors of each job status: claimJobs (or updateJobStatus) moves pending → running, a
 * worker finishes running → completed/failed or hands it back (running → pending); failed → pending
 * retries. A pending job may also be failed directly (cancelled before it ran).
 */
export const JOB_TRANSITIONS: Readonly<Record<JobStatus, readonly JobStatus[]>> = {
  pending: ['running', 'failed'],
  running: ['pending'],
  completed: ['running'],
  failed: ['pending', 'running'],
};

/**
 * Timestamps are timestamptz on PostgreSQL, DATETIME(3) (UTC) on MariaDB and epoch milliseconds in
 * SQLite, so the raw column type differs; the store maps every one to a Date.
 */
type Timestamp = ColumnType<Date | number | string, Date | number, Date | number>;
/** JSON is written as text and read back parsed (PG jsonb), or as text (MariaDB json, SQLite). */
type Json = ColumnType<unknown, string | null, string | null>;
/** BIGINT comes back as a string from pg and a number elsewhere. */
type BigIntColumn = ColumnType<number | string | bigint, number | null, number | null>;
type Double = ColumnType<number | string, number | null, number | null>;

interface VideosTable {
  id: string;
  url: string;
  url_normalized: string;
  source: VideoSource;
  source_video_id: string | null;
  title: string | null;
  description: string | null;
  channel_id: string | null;
  channel_title: string | null;
  published_at: ColumnType<Date | number | string | null, Date | number | null, Date | number | null>;
  duration: Double;
  view_count: BigIntColumn;
  like_count: BigIntColumn;
  status: Generated<VideoStatus>;
  status_reason: string | null;
  thumbnail_path: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

interface ClipsTable {
  id: string;
  video_id: string;
  start_time: ColumnType<number | string, number, number>;
  end_time: ColumnType<number | string, number, number>;
  duration: ColumnType<number | string, number, number>;
  title: string | null;
  caption: string | null;
  score: Double;
  effects: Json;
  file_path: string | null;
  thumbnail_path: string | null;
  narration_path: string | null;
  created_at: Timestamp;
}

interface ProcessingJobsTable {
  id: string;
  video_id: string;
  job_type: string;
  status: Generated<JobStatus>;
  priority: Generated<number>;
  attempts: Generated<number>;
  result: Json;
  error: string | null;
  locked_by: string | null;
  locked_at: ColumnType<Date | number | string | null, Date | number | null, Date | number | null>;
  run_after: ColumnType<Date | number | string | null, Date | number | null, Date | number | null>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

interface VideoStagesTable {
  video_id: string;
  stage: string;
  result: Json;
  completed_at: Timestamp;
}

/** The store's tables as Kysely sees them. */
export interface StoreSchema {
  videos: VideosTable;
  clips: ClipsTable;
  processing_jobs: ProcessingJobsTable;
  video_stages: VideoStagesTable;
}

/** A pipeline stage a video has completed, with what it produced. */
export interface StageRecord {
  stage: string;
  result: unknown;
  completedAt: Date;
}

export interface Video {
  id: string;
  url: string;
  urlNormalized: string;
  source: VideoSource;
  /** The YouTube video id when `source` is 'youtube'. */
  sourceVideoId: string | null;
  title: string | null;
  description: string | null;
  channelId: string | null;
  channelTitle: string | null;
  publishedAt: Date | null;
  /** Seconds. */
  duration: number | null;
  viewCount: number | null;
  likeCount: number | null;
  status: VideoStatus;
  statusReason: string | null;
  thumbnailPath: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface Clip {
  id: string;
  videoId: string;
  /** Seconds from the start of the video. */
  startTime: number;
  endTime: number;
  /** endTime - startTime. */
  duration: number;
  title: string | null;
  caption: string | null;
  score: number | null;
  effects: unknown;
  filePath: string | null;
  thumbnailPath: string | null;
  narrationPath: string | null;
  createdAt: Date;
}

export interface ProcessingJob {
  id: string;
  videoId: string;
  jobType: string;
  status: JobStatus;
  /** Higher runs first. */
  priority: number;
  attempts: number;
  result: unknown;
  error: string | null;
  lockedBy: string | null;
  lockedAt: Date | null;
  runAfter: Date | null;
  createdAt: Date;
  updatedAt: Date;
}
