/** The columns of each table, in one place: every statement reads and writes the same shape. */
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

export const STAGE_COLUMNS = ['video_id', 'stage', 'result', 'completed_at'] as const;

export type VideoColumn = (typeof VIDEO_COLUMNS)[number];
export type ClipColumn = (typeof CLIP_COLUMNS)[number];

/** The columns that hold JSON. */
export const JSON_COLUMNS: ReadonlySet<string> = new Set(['effects', 'result']);
