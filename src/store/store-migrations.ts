import { type ColumnDataType, type Expression, type Kysely, type Migration, sql } from 'kysely';
import { InvalidArgumentError } from '../core/index.js';
import type { DialectName, MigrationResultSummary, MigrationSet } from '../db/types.js';
import { JOB_STATUSES, VIDEO_STATUSES } from './schema.js';

type DataType = ColumnDataType | Expression<unknown>;

/** Column types per dialect: native uuid/jsonb/timestamptz on PG, DATETIME(3)/json on MariaDB, SQLite affinities. */
interface TypeMap {
  id: DataType;
  /** Short indexed text (status, type, ids from other systems). */
  short: (length: number) => DataType;
  text: DataType;
  longText: DataType;
  /** The normalised URL: ASCII (URL-encoded) and at most 2048 bytes, so it fits a unique index. */
  urlKey: DataType;
  double: DataType;
  bigint: DataType;
  integer: DataType;
  timestamp: DataType;
  json: DataType;
}

function typesFor(dialect: DialectName): TypeMap {
  switch (dialect) {
    case 'postgres':
      return {
        id: 'uuid',
        short: () => 'text',
        text: 'text',
        longText: 'text',
        urlKey: 'text',
        double: 'double precision',
        bigint: 'bigint',
        integer: 'integer',
        timestamp: 'timestamptz',
        json: 'jsonb',
      };
    case 'mysql':
      return {
        id: sql`char(36) character set ascii collate ascii_bin`,
        short: (length) => sql.raw(`varchar(${length})`),
        text: 'text',
        longText: sql`mediumtext`,
        urlKey: sql`varchar(2048) character set ascii collate ascii_bin`,
        double: 'double precision',
        bigint: 'bigint',
        integer: 'integer',
        timestamp: sql`datetime(3)`,
        json: 'json',
      };
    case 'sqlite':
      return {
        id: 'text',
        short: () => 'text',
        text: 'text',
        longText: 'text',
        urlKey: 'text',
        double: 'real',
        bigint: 'integer',
        integer: 'integer',
        // Epoch milliseconds: compact, sorts correctly, and maps to a Date without parsing.
        timestamp: 'integer',
        json: 'text',
      };
  }
}

function inList(values: readonly string[]): string {
  return values.map((v) => `'${v}'`).join(', ');
}

function schemaMigration(dialect: DialectName): Migration {
  const t = typesFor(dialect);
  // utf8mb4 keeps every Unicode character; the binary collation keeps text comparisons exact.
  const tableOptions =
    dialect === 'mysql' ? sql`engine=InnoDB default charset=utf8mb4 collate=utf8mb4_bin` : undefined;
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      let videos = db.schema
        .createTable('videos')
        .ifNotExists()
        .addColumn('id', t.id, (c) => c.primaryKey())
        .addColumn('url', t.text, (c) => c.notNull())
        .addColumn('url_normalized', t.urlKey, (c) => c.notNull())
        .addColumn('source', t.short(16), (c) => c.notNull())
        .addColumn('source_video_id', t.short(64))
        .addColumn('title', t.text)
        .addColumn('description', t.longText)
        .addColumn('channel_id', t.short(128))
        .addColumn('channel_title', t.text)
        .addColumn('published_at', t.timestamp)
        .addColumn('duration', t.double)
        .addColumn('view_count', t.bigint)
        .addColumn('like_count', t.bigint)
        .addColumn('status', t.short(16), (c) => c.notNull().defaultTo('pending'))
        .addColumn('status_reason', t.text)
        .addColumn('thumbnail_path', t.text)
        .addColumn('created_at', t.timestamp, (c) => c.notNull())
        .addColumn('updated_at', t.timestamp, (c) => c.notNull())
        .addUniqueConstraint('videos_url_normalized_key', ['url_normalized'])
        .addCheckConstraint('videos_status_check', sql.raw(`status in (${inList(VIDEO_STATUSES)})`))
        .addCheckConstraint('videos_source_check', sql`source in ('youtube', 'url')`)
        .addCheckConstraint('videos_duration_check', sql`duration is null or duration >= 0`);
      if (tableOptions) videos = videos.modifyEnd(tableOptions);
      await videos.execute();

      let clips = db.schema
        .createTable('clips')
        .ifNotExists()
        .addColumn('id', t.id, (c) => c.primaryKey())
        .addColumn('video_id', t.id, (c) => c.notNull())
        .addColumn('start_time', t.double, (c) => c.notNull())
        .addColumn('end_time', t.double, (c) => c.notNull())
        .addColumn('duration', t.double, (c) => c.notNull())
        .addColumn('title', t.text)
        .addColumn('caption', t.longText)
        .addColumn('score', t.double)
        .addColumn('effects', t.json)
        .addColumn('file_path', t.text)
        .addColumn('thumbnail_path', t.text)
        .addColumn('narration_path', t.text)
        .addColumn('created_at', t.timestamp, (c) => c.notNull())
        .addForeignKeyConstraint('clips_video_id_fkey', ['video_id'], 'videos', ['id'], (c) =>
          c.onDelete('cascade'),
        )
        .addCheckConstraint('clips_time_check', sql`start_time >= 0 and end_time > start_time`);
      if (tableOptions) clips = clips.modifyEnd(tableOptions);
      await clips.execute();

      let jobs = db.schema
        .createTable('processing_jobs')
        .ifNotExists()
        .addColumn('id', t.id, (c) => c.primaryKey())
        .addColumn('video_id', t.id, (c) => c.notNull())
        .addColumn('job_type', t.short(64), (c) => c.notNull())
        .addColumn('status', t.short(16), (c) => c.notNull().defaultTo('pending'))
        .addColumn('priority', t.integer, (c) => c.notNull().defaultTo(0))
        .addColumn('attempts', t.integer, (c) => c.notNull().defaultTo(0))
        .addColumn('result', t.json)
        .addColumn('error', t.longText)
        .addColumn('locked_by', t.short(255))
        .addColumn('locked_at', t.timestamp)
        .addColumn('run_after', t.timestamp)
        .addColumn('created_at', t.timestamp, (c) => c.notNull())
        .addColumn('updated_at', t.timestamp, (c) => c.notNull())
        .addForeignKeyConstraint('processing_jobs_video_id_fkey', ['video_id'], 'videos', ['id'], (c) =>
          c.onDelete('cascade'),
        )
        .addCheckConstraint('processing_jobs_status_check', sql.raw(`status in (${inList(JOB_STATUSES)})`));
      if (tableOptions) jobs = jobs.modifyEnd(tableOptions);
      await jobs.execute();

      const indexes: Array<[name: string, table: string, columns: string[]]> = [
        // Status and id: status listings page by keyset without a sort.
        ['idx_videos_status', 'videos', ['status', 'id']],
        ['idx_videos_created_at', 'videos', ['created_at']],
        ['idx_videos_view_count', 'videos', ['view_count']],
        ['idx_clips_video_id', 'clips', ['video_id', 'start_time']],
        // Serves claimJobs: pending jobs by priority, oldest (UUIDv7) first.
        ['idx_processing_jobs_status', 'processing_jobs', ['status', 'priority desc', 'id']],
        ['idx_processing_jobs_priority', 'processing_jobs', ['priority']],
        ['idx_processing_jobs_video_id', 'processing_jobs', ['video_id']],
      ];
      for (const [name, table, columns] of indexes) {
        await db.schema.createIndex(name).ifNotExists().on(table).columns(columns).execute();
      }
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('processing_jobs').ifExists().execute();
      await db.schema.dropTable('clips').ifExists().execute();
      await db.schema.dropTable('videos').ifExists().execute();
    },
  };
}

/**
 * Which pipeline stages a video has completed, with each stage's result (a transcript, a clip count):
 * what lets a re-run resume where it stopped. One row per (video, stage), upserted.
 */
function stagesMigration(dialect: DialectName): Migration {
  const t = typesFor(dialect);
  const tableOptions =
    dialect === 'mysql' ? sql`engine=InnoDB default charset=utf8mb4 collate=utf8mb4_bin` : undefined;
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      let stages = db.schema
        .createTable('video_stages')
        .ifNotExists()
        .addColumn('video_id', t.id, (c) => c.notNull().references('videos.id').onDelete('cascade'))
        .addColumn('stage', t.short(32), (c) => c.notNull())
        .addColumn('result', t.json)
        .addColumn('completed_at', t.timestamp, (c) => c.notNull())
        .addPrimaryKeyConstraint('video_stages_pkey', ['video_id', 'stage']);
      if (tableOptions) stages = stages.modifyEnd(tableOptions);
      await stages.execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('video_stages').ifExists().execute();
    },
  };
}

/**
 * MariaDB's and MySQL 5.7's `utf8mb4_bin` is a PAD SPACE collation: it compares 'a' and 'a ' as equal,
 * so under it a stage named 'transcript ' would overwrite 'transcript' (the key of video_stages) and a
 * worker id with a trailing space would pass for the worker holding a job, where PostgreSQL and SQLite
 * compare exactly. This step gives the text columns the store compares or keys on a NO PAD binary
 * collation (`utf8mb4_nopad_bin` on MariaDB, `utf8mb4_0900_bin` on MySQL 8). Ids and the normalised URL
 * are ASCII, validated or built by the store, and never end in a space.
 */
function exactTextMigration(dialect: DialectName): Migration {
  const columns = [
    ['video_stages', 'stage', 'varchar(32)', 'not null'],
    ['processing_jobs', 'locked_by', 'varchar(255)', 'null'],
  ] as const;
  const modify = async (db: Kysely<unknown>, collation: string): Promise<void> => {
    for (const [table, column, type, nullable] of columns) {
      await sql
        .raw(
          `alter table ${table} modify ${column} ${type} character set utf8mb4 collate ${collation} ${nullable}`,
        )
        .execute(db);
    }
  };
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      if (dialect !== 'mysql') return;
      const found = await sql<{ name: string }>`
        select collation_name as name from information_schema.collations
        where collation_name in ('utf8mb4_nopad_bin', 'utf8mb4_0900_bin')`.execute(db);
      const names = found.rows.map((r) => r.name);
      const collation = names.includes('utf8mb4_nopad_bin') ? 'utf8mb4_nopad_bin' : names[0];
      // A server with neither (MySQL 5.7) keeps PAD SPACE: see the store's input rules.
      if (collation !== undefined) await modify(db, collation);
    },
    async down(db: Kysely<unknown>): Promise<void> {
      if (dialect === 'mysql') await modify(db, 'utf8mb4_bin');
    },
  };
}

/**
 * The store's migrations for one dialect, for `db.migrate(...)`. Each step is idempotent
 * (`if not exists`), so re-running it over an existing schema changes nothing.
 */
export function storeMigrations(dialect: DialectName): MigrationSet {
  return {
    store_0001_schema: schemaMigration(dialect),
    store_0002_video_stages: stagesMigration(dialect),
    store_0003_exact_text_keys: exactTextMigration(dialect),
  };
}

/** The store's own bookkeeping tables, so an application's migrations can share the database. */
export const STORE_MIGRATION_TABLE = 'opusclip_migration';

/** What setupStore needs from a Database: its dialect and its migration runner. */
export interface Migratable {
  readonly dialect: DialectName;
  migrate(set: MigrationSet, options?: { table?: string }): Promise<MigrationResultSummary>;
}

/** Creates or updates the store's tables and indexes (runs its migrations under the database's lock). */
export async function setupStore(db: Migratable): Promise<MigrationResultSummary> {
  if (typeof db?.migrate !== 'function' || typeof db.dialect !== 'string') {
    throw new InvalidArgumentError('setupStore(db): db must be a Database from createDatabase()');
  }
  return db.migrate(storeMigrations(db.dialect), { table: STORE_MIGRATION_TABLE });
}
