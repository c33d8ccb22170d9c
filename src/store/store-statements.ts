import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { DialectName, Queryable } from '../db/types.js';
import { CLIP_COLUMNS, JOB_COLUMNS, JSON_COLUMNS, STAGE_COLUMNS, VIDEO_COLUMNS } from './columns.js';
import { Prepared, slot } from './prepared.js';
import { RowBuilder } from './row-builder.js';
import { type RowMappers, rowMappers } from './row-mappers.js';
import { type StoreSchema, VIDEO_STATUSES, VIDEO_TRANSITIONS, type VideoStatus } from './schema.js';

/**
 * `columns` to select. On MariaDB/MySQL a JSON column is read as `CAST(col AS CHAR)`: mysql2 parses
 * JSON columns itself (where JSON.parse exposes source text, turning long integers into strings), and a
 * parsed top-level string cannot be told from JSON text, so the store reads text and parses it once, as
 * on SQLite.
 */
function selectList<C extends readonly string[]>(columns: C, dialect: DialectName): C {
  if (dialect !== 'mysql') return columns;
  // Typed as the plain column list: each expression is aliased to its column's name.
  return columns.map((c) =>
    JSON_COLUMNS.has(c) ? sql<string>`cast(${sql.ref(c)} as char)`.as(c) : c,
  ) as unknown as C;
}

/**
 * The statements compiled once per Kysely instance (a Database and its transactions share one), with
 * the dialect's row mappers and row builder: everything a store bound to that dialect sends or reads.
 */
export class Statements {
  readonly dialect: DialectName;
  /** Database rows to records. */
  readonly map: RowMappers;
  /** Records to database rows. */
  readonly rows: RowBuilder;
  readonly getVideoById: Prepared;
  readonly videoIdByUrl: Prepared;
  readonly insertVideo: Prepared;
  readonly videoStatus: Prepared;
  readonly videoDuration: Prepared;
  readonly videoDurationForUpdate: Prepared;
  readonly updateVideoStatus: Record<VideoStatus, Prepared>;
  readonly videosByStatus: Prepared;
  readonly videosByStatusAfter: Prepared;
  readonly popularVideos: Prepared;
  readonly clipsByVideo: Prepared;
  readonly insertClip: Prepared;
  readonly deleteClipsOfVideo: Prepared;
  readonly insertJob: Prepared;
  readonly jobState: Prepared;
  readonly pendingJobs: Prepared;
  /** PostgreSQL and SQLite: one UPDATE ... RETURNING. MariaDB: the locking SELECT of a two-step claim. */
  readonly claim: Prepared;
  /** `claim` that also takes running jobs whose lock is older than a cutoff. */
  readonly claimStale: Prepared;
  readonly countVideos: Prepared;
  readonly countClips: Prepared;
  readonly countJobs: Prepared;
  /** Column lists to select, with JSON columns read as text on MariaDB (see selectList). */
  readonly clipSelect: typeof CLIP_COLUMNS;
  readonly jobSelect: typeof JOB_COLUMNS;
  readonly stageSelect: typeof STAGE_COLUMNS;

  constructor(k: Kysely<StoreSchema>, dialect: DialectName) {
    this.dialect = dialect;
    this.map = rowMappers(dialect);
    this.rows = new RowBuilder(dialect);
    const pg = dialect === 'postgres';
    const mysql = dialect === 'mysql';
    // PostgreSQL types a parameter from its context; in a SELECT list there is none, so say it.
    const typed = (key: string, pgType: string): RawBuilder<unknown> =>
      pg ? sql`cast(${slot(key)} as ${sql.raw(pgType)})` : sql`${slot(key)}`;
    const columnList = (cols: readonly string[]) => sql.join(cols.map((c) => sql.ref(c)));
    this.clipSelect = selectList(CLIP_COLUMNS, dialect);
    this.jobSelect = selectList(JOB_COLUMNS, dialect);
    this.stageSelect = selectList(STAGE_COLUMNS, dialect);

    this.getVideoById = new Prepared(
      'store.getVideoById',
      k.selectFrom('videos').select(VIDEO_COLUMNS).where('id', '=', slot('id')).compile(),
    );
    const byUrl = k.selectFrom('videos').select('id').where('url_normalized', '=', slot('url'));
    // A locking read sees rows committed after a REPEATABLE READ snapshot began (the racing insert).
    this.videoIdByUrl = new Prepared(
      'store.videoIdByUrl',
      (mysql ? byUrl.modifyEnd(sql`lock in share mode`) : byUrl).compile(),
    );
    const insertVideo = k
      .insertInto('videos')
      .values(Object.fromEntries(VIDEO_COLUMNS.map((c) => [c, slot(c)])) as never);
    // MariaDB: a plain INSERT whose URL conflict createVideo catches. INSERT IGNORE would also turn an
    // error about a value (too long, out of range, bad text) into a warning and store the value changed.
    this.insertVideo = new Prepared(
      'store.createVideoRecord',
      (mysql
        ? insertVideo
        : insertVideo.onConflict((oc) => oc.column('url_normalized').doNothing())
      ).compile(),
      VIDEO_COLUMNS,
    );
    this.videoStatus = new Prepared(
      'store.videoStatus',
      k.selectFrom('videos').select('status').where('id', '=', slot('id')).compile(),
    );
    const duration = k.selectFrom('videos').select('duration').where('id', '=', slot('id'));
    this.videoDuration = new Prepared('store.videoDuration', duration.compile());
    this.videoDurationForUpdate = new Prepared(
      'store.videoDurationForUpdate',
      (dialect === 'sqlite' ? duration : duration.forUpdate()).compile(),
    );
    this.updateVideoStatus = Object.fromEntries(
      VIDEO_STATUSES.map((status) => [
        status,
        new Prepared(
          `store.updateVideoStatus.${status}`,
          k
            .updateTable('videos')
            .set({ status, status_reason: slot('reason'), updated_at: slot('now') })
            .where('id', '=', slot('id'))
            .where('status', 'in', [...VIDEO_TRANSITIONS[status]])
            .compile(),
        ),
      ]),
    ) as Record<VideoStatus, Prepared>;
    const byStatus = k
      .selectFrom('videos')
      .select(VIDEO_COLUMNS)
      .where('status', '=', slot('status'))
      .orderBy('id', 'desc')
      .limit(slot('limit'));
    this.videosByStatus = new Prepared('store.getVideosByStatus', byStatus.compile());
    this.videosByStatusAfter = new Prepared(
      'store.getVideosByStatus.after',
      byStatus.where('id', '<', slot('cursor')).compile(),
    );
    this.popularVideos = new Prepared(
      'store.getPopularVideos',
      k
        .selectFrom('videos')
        .select(VIDEO_COLUMNS)
        .where('view_count', 'is not', null)
        .orderBy('view_count', 'desc')
        .orderBy('id', 'desc')
        .limit(slot('limit'))
        .compile(),
    );
    this.clipsByVideo = new Prepared(
      'store.getClipsByVideoId',
      k
        .selectFrom('clips')
        .select(this.clipSelect)
        .where('video_id', '=', slot('videoId'))
        .orderBy('start_time')
        .orderBy('id')
        .compile(),
    );
    // One statement that checks the video exists and the clip fits inside it: no extra round trip. It
    // takes a clip row (RowBuilder.clip): its slots are the row's columns.
    this.insertClip = new Prepared(
      'store.createClipRecord',
      sql`insert into clips (${columnList(CLIP_COLUMNS)}) select ${typed('id', 'uuid')}, v.id, ${typed('start_time', 'double precision')}, ${typed('end_time', 'double precision')}, ${typed('duration', 'double precision')}, ${typed('title', 'text')}, ${typed('caption', 'text')}, ${typed('score', 'double precision')}, ${typed('effects', 'jsonb')}, ${typed('file_path', 'text')}, ${typed('thumbnail_path', 'text')}, ${typed('narration_path', 'text')}, ${typed('created_at', 'timestamptz')} from videos v where v.id = ${typed('video_id', 'uuid')} and (v.duration is null or v.duration >= ${typed('end_time', 'double precision')})`.compile(
        k,
      ),
      CLIP_COLUMNS,
    );
    this.deleteClipsOfVideo = new Prepared(
      'store.deleteClipsOfVideo',
      k.deleteFrom('clips').where('video_id', '=', slot('videoId')).compile(),
    );
    this.insertJob = new Prepared(
      'store.createProcessingJob',
      sql`insert into processing_jobs (${columnList(['id', 'video_id', 'job_type', 'status', 'priority', 'attempts', 'run_after', 'created_at', 'updated_at'])}) select ${typed('id', 'uuid')}, v.id, ${typed('jobType', 'text')}, 'pending', ${typed('priority', 'integer')}, 0, ${typed('runAfter', 'timestamptz')}, ${typed('now', 'timestamptz')}, ${typed('now', 'timestamptz')} from videos v where v.id = ${typed('videoId', 'uuid')}`.compile(
        k,
      ),
    );
    this.jobState = new Prepared(
      'store.jobState',
      k.selectFrom('processing_jobs').select(['status', 'locked_by']).where('id', '=', slot('id')).compile(),
    );
    const runnable = (stale: boolean) =>
      k
        .selectFrom('processing_jobs')
        .where((eb) => {
          const pending = eb.and([
            eb('status', '=', 'pending'),
            eb.or([eb('run_after', 'is', null), eb('run_after', '<=', slot('now'))]),
          ]);
          // A running job whose lock is older than the cutoff belonged to a worker that died.
          return stale
            ? eb.or([
                pending,
                eb.and([eb('status', '=', 'running'), eb('locked_at', '<', slot('staleBefore'))]),
              ])
            : pending;
        })
        .orderBy('priority', 'desc')
        .orderBy('id')
        .limit(slot('limit'));
    this.pendingJobs = new Prepared('store.getPendingJobs', runnable(false).select(this.jobSelect).compile());
    const claim = (stale: boolean): Prepared => {
      const name = stale ? 'store.claimJobs.reclaim' : 'store.claimJobs';
      if (mysql) {
        // MariaDB has no UPDATE ... RETURNING: lock the rows (skipping those another worker holds), then update.
        return new Prepared(
          `${name}.lock`,
          runnable(stale).select(this.jobSelect).forUpdate().skipLocked().compile(),
        );
      }
      const ids = runnable(stale).select('id');
      return new Prepared(
        name,
        k
          .updateTable('processing_jobs')
          .set({
            status: 'running',
            locked_by: slot('worker'),
            locked_at: slot('now'),
            attempts: sql`attempts + 1`,
            updated_at: slot('now'),
          })
          // SQLite has a single writer, so its claim needs no row locks.
          .where('id', 'in', pg ? ids.forUpdate().skipLocked() : ids)
          .returning(JOB_COLUMNS)
          .compile(),
      );
    };
    this.claim = claim(false);
    this.claimStale = claim(true);
    this.countVideos = new Prepared(
      'store.stats.videos',
      k
        .selectFrom('videos')
        .select(['status', (eb) => eb.fn.countAll().as('n')])
        .groupBy('status')
        .compile(),
    );
    this.countClips = new Prepared(
      'store.stats.clips',
      k
        .selectFrom('clips')
        .select((eb) => eb.fn.countAll().as('n'))
        .compile(),
    );
    this.countJobs = new Prepared(
      'store.stats.jobs',
      k
        .selectFrom('processing_jobs')
        .select(['status', (eb) => eb.fn.countAll().as('n')])
        .groupBy('status')
        .compile(),
    );
    // The hot paths pass their parameters unbound: the statements must take exactly those.
    if (!this.getVideoById.takes('id')) throw new Error('store.getVideoById must take only the id');
    if (!this.insertVideo.takes(...VIDEO_COLUMNS))
      throw new Error('store.createVideoRecord must take a video row');
  }

  /** A LIMIT parameter: mysql2 sends a JS number as DOUBLE, which a prepared LIMIT refuses; a string converts cleanly. */
  limit(n: number): number | string {
    return this.dialect === 'mysql' ? String(n) : n;
  }
}

const statementCache = new WeakMap<object, Statements>();

/** The Statements of `q`'s Kysely instance, compiled on first use. */
export function statementsFor(q: Queryable<StoreSchema>): Statements {
  let st = statementCache.get(q.kysely);
  if (st === undefined) {
    st = new Statements(q.kysely, q.dialect);
    statementCache.set(q.kysely, st);
  }
  return st;
}
