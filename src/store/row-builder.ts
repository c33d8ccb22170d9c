import type { BatchInsertSpec, ColumnType, DialectName } from '../db/types.js';
import { CLIP_COLUMNS, type ClipColumn, VIDEO_COLUMNS, type VideoColumn } from './columns.js';
import type { NormalizedVideoUrl } from './normalize-video-url.js';
import type { ParsedClip, ParsedVideo } from './validation.js';

/** A timestamp as the dialect's driver takes it: epoch ms in SQLite, a Date (formatted by the driver) elsewhere. */
export type StoredTime = Date | number;

/** The type each video column is declared with to db.batchInsert (COPY and UNNEST need it on PostgreSQL). */
const VIDEO_TYPES: Readonly<Record<VideoColumn, ColumnType>> = {
  id: 'uuid',
  url: 'text',
  url_normalized: 'text',
  source: 'text',
  source_video_id: 'text',
  title: 'text',
  description: 'text',
  channel_id: 'text',
  channel_title: 'text',
  published_at: 'timestamp',
  duration: 'double',
  view_count: 'bigint',
  like_count: 'bigint',
  status: 'text',
  status_reason: 'text',
  thumbnail_path: 'text',
  created_at: 'timestamp',
  updated_at: 'timestamp',
};

const CLIP_TYPES: Readonly<Record<ClipColumn, ColumnType>> = {
  id: 'uuid',
  video_id: 'uuid',
  start_time: 'double',
  end_time: 'double',
  duration: 'double',
  title: 'text',
  caption: 'text',
  score: 'double',
  effects: 'json',
  file_path: 'text',
  thumbnail_path: 'text',
  narration_path: 'text',
  created_at: 'timestamp',
};

/** Timestamps are epoch-ms integers in SQLite, so batch writes declare them as such there. */
function batchColumns<C extends string>(
  dialect: DialectName,
  columns: readonly C[],
  types: Readonly<Record<C, ColumnType>>,
): BatchInsertSpec['columns'] {
  return columns.map((name) => {
    const type = types[name];
    return { name, type: dialect === 'sqlite' && type === 'timestamp' ? 'bigint' : type };
  });
}

/**
 * The rows the store writes, as arrays in VIDEO_COLUMNS / CLIP_COLUMNS order: the single-row inserts,
 * the batches and the benchmark's raw baselines all build them here, so they write the same row.
 * Inputs are validated before they get here; a row shares the input's strings.
 */
export class RowBuilder {
  /** A Date as the dialect stores it. */
  readonly ts: (d: Date) => StoredTime;
  /** db.batchInsert's column list for `videos`. */
  readonly videoColumns: BatchInsertSpec['columns'];
  /** db.batchInsert's column list for `clips`. */
  readonly clipColumns: BatchInsertSpec['columns'];

  constructor(dialect: DialectName) {
    this.ts = dialect === 'sqlite' ? (d) => d.getTime() : (d) => d;
    this.videoColumns = batchColumns(dialect, VIDEO_COLUMNS, VIDEO_TYPES);
    this.clipColumns = batchColumns(dialect, CLIP_COLUMNS, CLIP_TYPES);
  }

  /** A `videos` row: `url` is the input's URL described by describeVideoUrl; `now` is both timestamps. */
  video(id: string, v: ParsedVideo, url: NormalizedVideoUrl, now: StoredTime): unknown[] {
    return [
      id,
      v.url.trim(),
      url.url,
      url.source,
      url.sourceVideoId,
      v.title ?? null,
      v.description ?? null,
      v.channelId ?? null,
      v.channelTitle ?? null,
      v.publishedAt ? this.ts(v.publishedAt) : null,
      v.duration ?? null,
      v.viewCount ?? null,
      v.likeCount ?? null,
      v.status ?? 'pending',
      null,
      v.thumbnailPath ?? null,
      now,
      now,
    ];
  }

  /** A `clips` row; `effects` is the clip's effects as JSON text (see toJsonText). */
  clip(id: string, videoId: string, c: ParsedClip, effects: string | null, now: StoredTime): unknown[] {
    return [
      id,
      videoId,
      c.startTime,
      c.endTime,
      c.endTime - c.startTime,
      c.title ?? null,
      c.caption ?? null,
      c.score ?? null,
      effects,
      c.filePath ?? null,
      c.thumbnailPath ?? null,
      c.narrationPath ?? null,
      now,
    ];
  }
}
