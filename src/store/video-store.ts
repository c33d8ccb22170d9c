import { type Kysely, type RawBuilder, sql } from 'kysely';
import { abortReason, type Clock, isOpusError, systemClock, throwIfAborted } from '../core/index.js';
import { DbErrorCode } from '../db/errors.js';
import type {
  BatchInsertSpec,
  ColumnType,
  DialectName,
  ExecOptions,
  ExecResult,
  Queryable,
  SqlQuery,
  TransactionOptions,
} from '../db/types.js';
import { describeVideoUrl } from './normalize-video-url.js';
import { Prepared, slot } from './prepared.js';
import { CLIP_COLUMNS, JOB_COLUMNS, type RowMappers, rowMappers, VIDEO_COLUMNS } from './rows.js';
import {
  type Clip,
  JOB_STATUSES,
  JOB_TRANSITIONS,
  type JobStatus,
  type ProcessingJob,
  type StageRecord,
  type StoreSchema,
  VIDEO_STATUSES,
  VIDEO_TRANSITIONS,
  type Video,
  type VideoStatus,
} from './schema.js';
import { StoreError, StoreErrorCode } from './store-error.js';
import { uuidv7 } from './uuid-v7.js';
import {
  type ClipAssets,
  invalidInput,
  isUuid,
  type NewClip,
  type NewClipFor,
  type NewJob,
  type NewVideo,
  type ParsedClip,
  STORE_LIMITS,
  toJsonText,
  type VideoPatch,
  validate,
} from './validation.js';

type Row = Record<string, unknown>;

/**
 * What the store needs from a cache (the cache layer's `Cache` satisfies it): reads through
 * `getOrSet` with tags, writes invalidate tags after COMMIT. With `inL1`, and an `invalidateTags` that
 * honours `refresh` (or an `invalidateAndReplace`), the store also refreshes a written video's entry
 * (write-through, see `writeThrough`).
 */
export interface StoreCache {
  getOrSet<T>(
    key: string,
    loader: () => Promise<T>,
    options: { tags: readonly string[]; ttlMs?: number },
  ): Promise<T>;
  invalidateTags(tags: readonly string[], options?: { refresh?: StoreRefresh }): Promise<unknown>;
  /** Whether this process holds `key` locally (L1), without I/O: the "is it read here" hint. */
  inL1?(key: string): boolean;
  /**
   * Invalidates `tags` and, in the same step, stores `replace.loader`'s row under `replace.key` (read after
   * COMMIT, guarded by generations), so readers never find the entry missing. Preferred over
   * `invalidateTags(tags, { refresh })` when present; it falls back to that itself and never rejects.
   */
  invalidateAndReplace?(tags: readonly string[], replace: StoreRefresh): Promise<unknown>;
}

/**
 * A write-through refresh: once the invalidation has moved the generations, load `key` again and store
 * it as a miss would. `invalidateTags` resolves after it; it never fails the write.
 */
export interface StoreRefresh {
  key: string;
  loader: () => Promise<unknown>;
  options: { tags: readonly string[]; ttlMs?: number };
}

export interface VideoStoreOptions {
  /** Source of created_at/updated_at/locked_at and of "now" for job scheduling (default: system clock). */
  clock?: Clock;
  /** Query-result cache for the reads; invalidated by every write once it is committed. */
  cache?: StoreCache;
  /** TTL of cached reads in milliseconds (default 60 000; the seed used 60 s for status lists). */
  cacheTtlMs?: number;
  /**
   * Write-through refresh (default true; needs a cache with `inL1` whose `invalidateTags` takes
   * `refresh`, or with `invalidateAndReplace`, as `Cache` has). After a committed updateVideo or
   * updateVideoStatus, the video is read again and stored in the cache together with (or right after)
   * the invalidation, so its next read hits; the write resolves after that. Only for videos this process holds in L1 (being read here): a write to
   * a cold video costs no extra read. Batch writes never refresh.
   */
  writeThrough?: boolean;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface PageOptions extends CallOptions {
  /** 1..10,000 (default 50). */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string | null;
}

export interface Page<T> {
  items: T[];
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

export interface StatusUpdateOptions extends CallOptions {
  /** Why (a failure message, "retry requested"); stored in status_reason, cleared when omitted. */
  reason?: string | null;
}

export interface BatchStatusUpdateOptions extends StatusUpdateOptions {
  /** Skip the transition check (still leaves rows already in the target status untouched). */
  force?: boolean;
}

export interface BatchInsertVideosOptions extends CallOptions {
  /**
   * A URL already stored (or repeated in the batch): 'error' (default) fails the whole batch with
   * ERR_DB_UNIQUE_VIOLATION and writes nothing; 'existing' keeps the stored row and returns its id.
   */
  onDuplicate?: 'error' | 'existing';
}

export interface JobUpdateOptions extends CallOptions {
  /** Any JSON value; kept as is when omitted. */
  result?: unknown;
  /** Error text; kept as is when omitted. */
  error?: string | null;
  /** When given, the update only applies while this worker holds the job (its claim was not lost). */
  workerId?: string;
  /** With status 'pending': not claimable again before this time. */
  runAfter?: Date | null;
}

export interface ClaimOptions extends CallOptions {
  /**
   * Also take jobs still 'running' whose claim is older than this (their worker is presumed dead); the
   * old worker's later updateJobStatus with its workerId is then refused. Off by default.
   */
  reclaimAfterMs?: number;
}

export interface StoreStats {
  videos: { total: number; byStatus: Record<VideoStatus, number> };
  clips: { total: number };
  jobs: { total: number; byStatus: Record<JobStatus, number> };
}

/** Rows per statement for IN lists and lookups: far below every dialect's parameter limit. */
const CHUNK = 1000;

const VIDEO_BATCH_COLUMNS = [
  ['id', 'uuid'],
  ['url', 'text'],
  ['url_normalized', 'text'],
  ['source', 'text'],
  ['source_video_id', 'text'],
  ['title', 'text'],
  ['description', 'text'],
  ['channel_id', 'text'],
  ['channel_title', 'text'],
  ['published_at', 'timestamp'],
  ['duration', 'double'],
  ['view_count', 'bigint'],
  ['like_count', 'bigint'],
  ['status', 'text'],
  ['status_reason', 'text'],
  ['thumbnail_path', 'text'],
  ['created_at', 'timestamp'],
  ['updated_at', 'timestamp'],
] as const satisfies ReadonlyArray<readonly [(typeof VIDEO_COLUMNS)[number], ColumnType]>;

const CLIP_BATCH_COLUMNS = [
  ['id', 'uuid'],
  ['video_id', 'uuid'],
  ['start_time', 'double'],
  ['end_time', 'double'],
  ['duration', 'double'],
  ['title', 'text'],
  ['caption', 'text'],
  ['score', 'double'],
  ['effects', 'json'],
  ['file_path', 'text'],
  ['thumbnail_path', 'text'],
  ['narration_path', 'text'],
  ['created_at', 'timestamp'],
] as const satisfies ReadonlyArray<readonly [(typeof CLIP_COLUMNS)[number], ColumnType]>;

/** Timestamps are epoch-ms integers in SQLite, so batch writes declare them as such there. */
function batchColumns(
  dialect: DialectName,
  columns: ReadonlyArray<readonly [string, ColumnType]>,
): BatchInsertSpec['columns'] {
  return columns.map(([name, type]) => ({
    name,
    type: dialect === 'sqlite' && type === 'timestamp' ? 'bigint' : type,
  }));
}

function chunks<T>(items: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * The most a MariaDB batch statement may carry, estimated: half the default 16 MiB max_allowed_packet.
 * The database layer cuts batches into statements by row count only, so the store hands it groups of
 * rows small enough that any statement cut from them fits.
 */
const MYSQL_BATCH_BYTES = 8 * 1024 * 1024;

/** At most this many UTF-8 bytes per UTF-16 unit, plus room for the numbers, ids and dates of a row. */
function textBytes(v: unknown): number {
  return typeof v === 'string' ? v.length * 3 : 0;
}
const ROW_OVERHEAD = 256;

function rowBytes(row: readonly unknown[]): number {
  let bytes = ROW_OVERHEAD;
  for (const v of row) bytes += textBytes(v);
  return bytes;
}

function videoBytes(v: NewVideo): number {
  if (typeof v !== 'object' || v === null) return ROW_OVERHEAD;
  // The URL twice: as given and normalised.
  return (
    ROW_OVERHEAD +
    2 * textBytes(v.url) +
    textBytes(v.title) +
    textBytes(v.description) +
    textBytes(v.channelId) +
    textBytes(v.channelTitle) +
    textBytes(v.thumbnailPath)
  );
}

/** Consecutive [start, end) ranges of `n` rows whose estimated sizes add up to at most `budget` each. */
function byteGroups(
  n: number,
  bytesOf: (i: number) => number,
  budget: number,
): Array<readonly [number, number]> {
  const groups: Array<readonly [number, number]> = [];
  let start = 0;
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const b = bytesOf(i);
    if (i > start && bytes + b > budget) {
      groups.push([start, i]);
      start = i;
      bytes = 0;
    }
    bytes += b;
  }
  groups.push([start, n]);
  return groups;
}

/** MariaDB's duplicate-key error on the normalised URL (MySQL names the key `videos.<name>`). */
function isUrlConflict(error: unknown): boolean {
  if (!isOpusError(error, 'ERR_DB_UNIQUE_VIOLATION')) return false;
  const constraint = (error as { constraint?: unknown }).constraint;
  return typeof constraint === 'string' && constraint.endsWith('videos_url_normalized_key');
}

function notFound(what: string, id: string): StoreError {
  return new StoreError(StoreErrorCode.NotFound, `${what} ${id} not found`, { details: { id } });
}

const STAGE_COLUMNS = ['video_id', 'stage', 'result', 'completed_at'] as const;

/** The columns that hold JSON. */
const JSON_COLUMNS: ReadonlySet<string> = new Set(['effects', 'result']);

/**
 * `columns` to select. On MariaDB/MySQL a JSON column is read as `CAST(col AS CHAR)`: mysql2 parses
 * JSON columns itself (where JSON.parse exposes source text, turning long integers into strings), and a parsed top-level string
 * cannot be told from JSON text, so the store reads text and parses it once, as on SQLite.
 */
function selectList<C extends readonly string[]>(columns: C, dialect: DialectName): C {
  if (dialect !== 'mysql') return columns;
  // Typed as the plain column list: each expression is aliased to its column's name.
  return columns.map((c) =>
    JSON_COLUMNS.has(c) ? sql<string>`cast(${sql.ref(c)} as char)`.as(c) : c,
  ) as unknown as C;
}

/** The statements compiled once per dialect and shared by every store bound to that dialect. */
class Statements {
  readonly dialect: DialectName;
  readonly map: RowMappers;
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
    // One statement that checks the video exists and the clip fits inside it: no extra round trip.
    this.insertClip = new Prepared(
      'store.createClipRecord',
      sql`insert into clips (${columnList(CLIP_COLUMNS)}) select ${typed('id', 'uuid')}, v.id, ${typed('start', 'double precision')}, ${typed('end', 'double precision')}, ${typed('duration', 'double precision')}, ${typed('title', 'text')}, ${typed('caption', 'text')}, ${typed('score', 'double precision')}, ${typed('effects', 'jsonb')}, ${typed('filePath', 'text')}, ${typed('thumbnailPath', 'text')}, ${typed('narrationPath', 'text')}, ${typed('now', 'timestamptz')} from videos v where v.id = ${typed('videoId', 'uuid')} and (v.duration is null or v.duration >= ${typed('end', 'double precision')})`.compile(
        k,
      ),
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
    if (!this.getVideoById.takes('id')) throw new Error('store.getVideoById must take only the id');
  }
}

/** One Statements per Kysely instance (a Database and its transactions share one). */
const statementCache = new WeakMap<object, Statements>();

function statementsFor(q: Queryable<StoreSchema>): Statements {
  let st = statementCache.get(q.kysely);
  if (st === undefined) {
    st = new Statements(q.kysely, q.dialect);
    statementCache.set(q.kysely, st);
  }
  return st;
}

/**
 * The video store: videos, their clips and their processing jobs on PostgreSQL, MariaDB/MySQL or SQLite.
 * Every method runs on the Queryable it was built with; `with(tx)` gives the same store on a transaction.
 */
export class VideoStore {
  readonly #q: Queryable<StoreSchema>;
  readonly #clock: Clock;
  readonly #st: Statements;
  readonly #options: VideoStoreOptions;
  readonly #cache: StoreCache | undefined;
  readonly #cacheTtl: number;
  /**
   * Where write-through refreshes read: the Database this store (or the store it was made from by
   * `with()`) was built on. A transaction is finished by the time a refresh runs.
   */
  readonly #root: Queryable<StoreSchema> | undefined;

  /**
   * `shared` and `root` are internal: `with()` passes its compiled statements, so a transaction compiles
   * nothing, and the Database that write-through refreshes read from after COMMIT.
   */
  constructor(
    q: Queryable<StoreSchema>,
    options: VideoStoreOptions = {},
    shared?: unknown,
    root?: Queryable<StoreSchema>,
  ) {
    this.#q = q;
    this.#options = options;
    this.#cache = options.cache;
    this.#cacheTtl = options.cacheTtlMs ?? 60_000;
    this.#clock = options.clock ?? systemClock;
    this.#st = shared instanceof Statements && shared.dialect === q.dialect ? shared : statementsFor(q);
    this.#root = root ?? (q.inTransaction ? undefined : q);
  }

  /** The Queryable this store runs on (a Database or a Transaction). */
  get queryable(): Queryable<StoreSchema> {
    return this.#q;
  }

  /** The same store running on `q` (typically a transaction), sharing the compiled statements. */
  with(q: Queryable<StoreSchema>): VideoStore {
    if (q === this.#q) return this;
    if (q.dialect !== this.#st.dialect) {
      throw invalidInput('queryable', `dialect ${q.dialect} differs from the store's ${this.#st.dialect}`);
    }
    return new VideoStore(q, this.#options, this.#st, this.#root);
  }

  /** Runs `fn` in a transaction (a savepoint when already in one) with a store bound to it. */
  transaction<T>(fn: (store: VideoStore) => Promise<T>, options?: TransactionOptions): Promise<T> {
    return this.#q.transaction((tx) => fn(this.with(tx)), options);
  }

  // ---- videos ---------------------------------------------------------------------------------------

  /**
   * Creates a video and returns its id. The URL is normalised first; when a video with the same
   * normalised URL exists, nothing is written and its id is returned (also under concurrent creates).
   */
  async createVideoRecord(input: NewVideo, options: CallOptions = {}): Promise<string> {
    return (await this.createVideo(input, options)).id;
  }

  /** createVideoRecord that also says whether the row was created (false: the URL was already stored). */
  async createVideo(input: NewVideo, options: CallOptions = {}): Promise<{ id: string; created: boolean }> {
    const v = validate.video(input);
    const url = describeVideoUrl(v.url);
    const now = this.#st.map.ts(new Date(this.#clock.now()));
    const id = uuidv7();
    const values: Record<(typeof VIDEO_COLUMNS)[number], unknown> = {
      id,
      url: v.url.trim(),
      url_normalized: url.url,
      source: url.source,
      source_video_id: url.sourceVideoId,
      title: v.title ?? null,
      description: v.description ?? null,
      channel_id: v.channelId ?? null,
      channel_title: v.channelTitle ?? null,
      published_at: v.publishedAt ? this.#st.map.ts(v.publishedAt) : null,
      duration: v.duration ?? null,
      view_count: v.viewCount ?? null,
      like_count: v.likeCount ?? null,
      status: v.status ?? 'pending',
      status_reason: null,
      thumbnail_path: v.thumbnailPath ?? null,
      created_at: now,
      updated_at: now,
    };
    // The row that won a conflict may be deleted before it is read: then insert again.
    for (let attempt = 1; ; attempt++) {
      let inserted: number;
      try {
        inserted = (await this.#run(this.#st.insertVideo, values, options.signal)).affectedRows;
      } catch (error) {
        if (!isUrlConflict(error)) throw error;
        inserted = 0;
      }
      if (inserted > 0) {
        await this.#invalidate(['videos', `video:${id}`]);
        return { id, created: true };
      }
      const existing = await this.#run(this.#st.videoIdByUrl, { url: url.url }, options.signal);
      const row = existing.rows[0];
      if (row !== undefined) return { id: String(row.id), created: false };
      if (attempt === 3) {
        throw new StoreError(
          StoreErrorCode.NotFound,
          `a video with the URL ${url.url} exists but cannot be read (deleted meanwhile, or outside this transaction's snapshot)`,
          { details: { url: url.url } },
        );
      }
    }
  }

  /** The video, or undefined (also for a malformed id). The hot path: one precompiled statement. */
  getVideoById(id: string, options: CallOptions = {}): Promise<Video | undefined> {
    if (!isUuid(id)) return Promise.resolve(undefined);
    if (options.signal?.aborted) return Promise.reject(abortReason(options.signal));
    const key = id.toLowerCase();
    return this.#read(`video:${key}`, [`video:${key}`], () => this.#loadVideo(this.#q, key, options.signal));
  }

  /** getVideoById's query; `id` lowercased. Also the loader of write-through refreshes. */
  async #loadVideo(
    q: Queryable<StoreSchema>,
    id: string,
    signal: AbortSignal | undefined,
  ): Promise<Video | undefined> {
    const res = await q.execute<Row>(
      { sql: this.#st.getVideoById.sql, parameters: [id] },
      signal ? { name: this.#st.getVideoById.name, signal } : this.#st.getVideoById.options,
    );
    const row = res.rows[0];
    return row === undefined ? undefined : this.#st.map.video(row);
  }

  /** The video stored under this URL after normalisation (any form of the same YouTube video matches). */
  async findVideoByUrl(url: string, options: CallOptions = {}): Promise<Video | undefined> {
    throwIfAborted(options.signal);
    const normalized = describeVideoUrl(validate.video({ url }).url).url;
    return this.#read(`video:url:${normalized}`, ['videos'], async () => {
      const q = this.#q.kysely
        .selectFrom('videos')
        .selectAll()
        .where('url_normalized', '=', normalized)
        .compile();
      const res = await this.#exec(q, 'store.findVideoByUrl', options.signal);
      const row = res.rows[0] as Row | undefined;
      return row === undefined ? undefined : this.#st.map.video(row);
    });
  }

  // ---- pipeline stages ------------------------------------------------------------------------------

  /** The pipeline stages this video has completed, by name, with their results. */
  async getStages(videoId: string, options: CallOptions = {}): Promise<Map<string, StageRecord>> {
    throwIfAborted(options.signal);
    const id = validate.id(videoId, 'video id', 'videoId');
    const q = this.#q.kysely
      .selectFrom('video_stages')
      .select(this.#st.stageSelect)
      .where('video_id', '=', id)
      .compile();
    const res = await this.#exec(q, 'store.getStages', options.signal);
    return new Map(res.rows.map((r) => [String((r as Row).stage), this.#st.map.stage(r as Row)]));
  }

  /** Records (or re-records) that a stage completed for a video, with its result (any JSON value). */
  async recordStage(
    videoId: string,
    stage: string,
    result: unknown,
    options: CallOptions = {},
  ): Promise<void> {
    throwIfAborted(options.signal);
    const id = validate.id(videoId, 'video id', 'videoId');
    const name = validate.text(stage, 'stage', STORE_LIMITS.stage);
    if (!name) throw invalidInput('stage', 'must be a non-empty string');
    const values = {
      video_id: id,
      stage: name,
      result: toJsonText(result, 'stage result', 'result'),
      completed_at: this.#st.map.ts(new Date(this.#clock.now())),
    };
    const insert = this.#q.kysely.insertInto('video_stages').values(values);
    const q =
      this.#st.dialect === 'mysql'
        ? insert.onDuplicateKeyUpdate({ result: values.result, completed_at: values.completed_at }).compile()
        : insert
            .onConflict((oc) =>
              oc
                .columns(['video_id', 'stage'])
                .doUpdateSet({ result: values.result, completed_at: values.completed_at }),
            )
            .compile();
    try {
      await this.#exec(q, 'store.recordStage', options.signal);
    } catch (error) {
      if (isOpusError(error, DbErrorCode.ForeignKey)) throw notFound('video', id);
      throw error;
    }
  }

  /** Videos in `status`, newest first, paged by keyset (`cursor` = the last id of the previous page). */
  async getVideosByStatus(status: VideoStatus, options: PageOptions = {}): Promise<Page<Video>> {
    const s = validate.videoStatus(status);
    const limit = validate.limit(options.limit ?? 50);
    const cursor = options.cursor == null ? null : validate.id(options.cursor, 'cursor');
    const key = `videos:status:${s}:${limit}:${cursor ?? ''}`;
    return this.#read(key, ['videos'], async () => {
      const statement = cursor === null ? this.#st.videosByStatus : this.#st.videosByStatusAfter;
      const res = await this.#run(
        statement,
        { status: s, limit: this.#limit(limit), cursor },
        options.signal,
      );
      const items = res.rows.map(this.#st.map.video);
      return { items, nextCursor: items.length === limit ? (items.at(-1)?.id ?? null) : null };
    });
  }

  /** Videos with a known view count, most viewed first. */
  async getPopularVideos(limit = 10, options: CallOptions = {}): Promise<Video[]> {
    const n = validate.limit(limit);
    return this.#read(`videos:popular:${n}`, ['videos'], async () => {
      const res = await this.#run(this.#st.popularVideos, { limit: this.#limit(n) }, options.signal);
      return res.rows.map(this.#st.map.video);
    });
  }

  /**
   * Moves a video to `status` if the transition is allowed (see VIDEO_TRANSITIONS); otherwise throws
   * ERR_STORE_INVALID_TRANSITION (or ERR_STORE_NOT_FOUND) and writes nothing.
   */
  async updateVideoStatus(id: string, status: VideoStatus, options: StatusUpdateOptions = {}): Promise<void> {
    const videoId = validate.id(id, 'video id', 'id');
    const target = validate.videoStatus(status);
    const reason = validate.text(options.reason, 'status reason', STORE_LIMITS.statusReason, 'reason');
    const now = this.#st.map.ts(new Date(this.#clock.now()));
    const res = await this.#run(
      this.#st.updateVideoStatus[target],
      { id: videoId, reason, now },
      options.signal,
    );
    if (res.affectedRows === 0) {
      const current = await this.#run(this.#st.videoStatus, { id: videoId }, options.signal);
      const row = current.rows[0];
      if (row === undefined) throw notFound('video', videoId);
      throw new StoreError(
        StoreErrorCode.InvalidTransition,
        `video ${videoId} cannot move from ${String(row.status)} to ${target}`,
        { details: { id: videoId, from: row.status, to: target } },
      );
    }
    await this.#invalidate(['videos', `video:${videoId}`], videoId);
  }

  /** Changes a video's metadata (fields given; null clears one). Throws ERR_STORE_NOT_FOUND. */
  async updateVideo(id: string, patch: VideoPatch, options: CallOptions = {}): Promise<void> {
    const videoId = validate.id(id, 'video id', 'id');
    const p = validate.videoPatch(patch);
    const set: Record<string, unknown> = { updated_at: this.#st.map.ts(new Date(this.#clock.now())) };
    const columns: Record<keyof typeof p, string> = {
      title: 'title',
      description: 'description',
      channelId: 'channel_id',
      channelTitle: 'channel_title',
      publishedAt: 'published_at',
      duration: 'duration',
      viewCount: 'view_count',
      likeCount: 'like_count',
      thumbnailPath: 'thumbnail_path',
    };
    for (const [field, column] of Object.entries(columns) as Array<[keyof typeof p, string]>) {
      const value = p[field];
      if (value === undefined) continue;
      set[column] = value instanceof Date ? this.#st.map.ts(value) : value;
    }
    const query = this.#q.kysely
      .updateTable('videos')
      .set(set as never)
      .where('id', '=', videoId)
      .compile();
    // No statement name: the SET list varies with the patch, and one name must mean one SQL text.
    const res = await this.#exec(query, undefined, options.signal);
    if (res.affectedRows === 0) throw notFound('video', videoId);
    await this.#invalidate(['videos', `video:${videoId}`], videoId);
  }

  // ---- clips ----------------------------------------------------------------------------------------

  /**
   * Adds a clip to a video and returns its id. 0 <= startTime < endTime, and endTime within the video's
   * duration when known; otherwise ERR_STORE_INVALID_INPUT. An unknown video: ERR_STORE_NOT_FOUND.
   */
  async createClipRecord(videoId: string, clip: NewClip, options: CallOptions = {}): Promise<string> {
    const vid = validate.id(videoId, 'video id', 'videoId');
    const c = validate.clip(clip);
    const effects = toJsonText(c.effects, 'clip effects', 'effects');
    const id = uuidv7();
    const res = await this.#run(
      this.#st.insertClip,
      {
        id,
        videoId: vid,
        start: c.startTime,
        end: c.endTime,
        duration: c.endTime - c.startTime,
        title: c.title ?? null,
        caption: c.caption ?? null,
        score: c.score ?? null,
        effects,
        filePath: c.filePath ?? null,
        thumbnailPath: c.thumbnailPath ?? null,
        narrationPath: c.narrationPath ?? null,
        now: this.#st.map.ts(new Date(this.#clock.now())),
      },
      options.signal,
    );
    if (res.affectedRows === 0) {
      const duration = await this.#videoDuration(vid, false, options.signal);
      throw this.#clipTooLong(c, duration, 'clip');
    }
    await this.#invalidate(['clips', `clips:video:${vid}`]);
    return id;
  }

  /** The video's clips in start order. */
  async getClipsByVideoId(videoId: string, options: CallOptions = {}): Promise<Clip[]> {
    if (!isUuid(videoId)) return [];
    const vid = videoId.toLowerCase();
    return this.#read(`clips:video:${vid}`, ['clips', `clips:video:${vid}`], async () => {
      const res = await this.#run(this.#st.clipsByVideo, { videoId: vid }, options.signal);
      return res.rows.map(this.#st.map.clip);
    });
  }

  /**
   * Replaces every clip of a video with `clips` in one transaction (a re-run of the pipeline replaces,
   * never duplicates). Returns the new ids in input order. Validates everything before writing.
   */
  async replaceClips(
    videoId: string,
    clips: readonly NewClip[],
    options: CallOptions = {},
  ): Promise<string[]> {
    throwIfAborted(options.signal);
    const vid = validate.id(videoId, 'video id', 'videoId');
    const parsed = clips.map((c, i) => validate.clip(c, `clip #${i}`));
    const effects = parsed.map((c, i) => toJsonText(c.effects, `clip #${i} effects`, 'effects'));
    return this.#q.transaction(
      async (tx) => {
        const s = this.with(tx);
        // Locks the video row so two concurrent replacements serialise instead of interleaving.
        const duration = await s.#videoDuration(vid, true, options.signal);
        parsed.forEach((c, i) => {
          if (duration !== null && c.endTime > duration) throw s.#clipTooLong(c, duration, `clip #${i}`);
        });
        await s.#run(s.#st.deleteClipsOfVideo, { videoId: vid }, options.signal);
        const now = s.#st.map.ts(new Date(s.#clock.now()));
        const ids = parsed.map(() => uuidv7());
        if (parsed.length > 0) {
          await s.#insertClips(
            parsed.map((c, i) => s.#clipRow(ids[i]!, vid, c, effects[i] ?? null, now)),
            options.signal,
          );
        }
        await s.#invalidate(['clips', `clips:video:${vid}`]);
        return ids;
      },
      this.#txOptions('store.replaceClips', options.signal),
    );
  }

  /** Adds many clips (of any videos) at once; ids in input order. All or nothing. */
  async batchInsertClips(clips: readonly NewClipFor[], options: CallOptions = {}): Promise<string[]> {
    throwIfAborted(options.signal);
    const parsed = clips.map((c, i) => validate.clipFor(c, `clip #${i}`));
    const effects = parsed.map((c, i) => toJsonText(c.effects, `clip #${i} effects`, 'effects'));
    if (parsed.length === 0) return [];
    const videoIds = [...new Set(parsed.map((c) => c.videoId.toLowerCase()))];
    return this.#q.transaction(
      async (tx) => {
        const s = this.with(tx);
        const durations = new Map<string, number | null>();
        for (const part of chunks(videoIds)) {
          const query = tx.kysely
            .selectFrom('videos')
            .select(['id', 'duration'])
            .where('id', 'in', part)
            .compile();
          const res = await s.#exec(query, undefined, options.signal);
          for (const row of res.rows) {
            durations.set(String(row.id).toLowerCase(), row.duration == null ? null : Number(row.duration));
          }
        }
        const missing = videoIds.find((id) => !durations.has(id));
        if (missing !== undefined) throw notFound('video', missing);
        const now = s.#st.map.ts(new Date(s.#clock.now()));
        const ids = parsed.map(() => uuidv7());
        const rows = parsed.map((c, i) => {
          const vid = c.videoId.toLowerCase();
          const duration = durations.get(vid) ?? null;
          if (duration !== null && c.endTime > duration) throw s.#clipTooLong(c, duration, `clip #${i}`);
          return s.#clipRow(ids[i]!, vid, c, effects[i] ?? null, now);
        });
        await s.#insertClips(rows, options.signal);
        await s.#invalidate(['clips', ...videoIds.map((id) => `clips:video:${id}`)]);
        return ids;
      },
      this.#txOptions('store.batchInsertClips', options.signal),
    );
  }

  /** Sets a rendered clip's asset paths (fields given; null clears one). Throws ERR_STORE_NOT_FOUND. */
  async updateClipAssets(clipId: string, assets: ClipAssets, options: CallOptions = {}): Promise<void> {
    const id = validate.id(clipId, 'clip id', 'clipId');
    const a = validate.clipAssets(assets);
    const set: Record<string, string | null> = {};
    if (a.filePath !== undefined) set.file_path = a.filePath;
    if (a.thumbnailPath !== undefined) set.thumbnail_path = a.thumbnailPath;
    if (a.narrationPath !== undefined) set.narration_path = a.narrationPath;
    if (Object.keys(set).length === 0) throw invalidInput('clip assets', 'nothing to update');
    const update = this.#q.kysely.updateTable('clips').set(set).where('id', '=', id);
    // The video id is needed for the cache tag; MariaDB cannot return it from an UPDATE.
    const owner = await this.#exec(
      this.#q.kysely.selectFrom('clips').select('video_id').where('id', '=', id).compile(),
      'store.clipOwner',
      options.signal,
    );
    const row = owner.rows[0];
    if (row === undefined) throw notFound('clip', id);
    await this.#exec(update.compile(), undefined, options.signal);
    await this.#invalidate(['clips', `clips:video:${String(row.video_id)}`]);
  }

  // ---- jobs -----------------------------------------------------------------------------------------

  /** Queues a job for a video; returns its id. An unknown video: ERR_STORE_NOT_FOUND. */
  async createProcessingJob(input: NewJob, options: CallOptions = {}): Promise<string> {
    const j = validate.job(input);
    const id = uuidv7();
    const res = await this.#run(
      this.#st.insertJob,
      {
        id,
        videoId: j.videoId.toLowerCase(),
        jobType: j.jobType,
        priority: j.priority ?? 0,
        runAfter: j.runAfter ? this.#st.map.ts(j.runAfter) : null,
        now: this.#st.map.ts(new Date(this.#clock.now())),
      },
      options.signal,
    );
    if (res.affectedRows === 0) throw notFound('video', j.videoId);
    await this.#invalidate(['jobs']);
    return id;
  }

  /** Pending jobs that may run now, highest priority first, then oldest. Read-only: see claimJobs. */
  async getPendingJobs(limit = 10, options: CallOptions = {}): Promise<ProcessingJob[]> {
    const n = validate.limit(limit);
    return this.#read(`jobs:pending:${n}`, ['jobs'], async () => {
      const now = this.#st.map.ts(new Date(this.#clock.now()));
      const res = await this.#run(this.#st.pendingJobs, { limit: this.#limit(n), now }, options.signal);
      return res.rows.map(this.#st.map.job);
    });
  }

  /**
   * Claims up to `limit` runnable pending jobs for `workerId`: they become 'running', locked by it, with
   * attempts + 1. Concurrent claimers never get the same job (row locks with SKIP LOCKED on PostgreSQL
   * and MariaDB; SQLite's single writer). Highest priority first, then oldest. With `reclaimAfterMs`,
   * jobs left 'running' by a worker that stopped longer ago than that are taken over too.
   */
  async claimJobs(workerId: string, limit = 1, options: ClaimOptions = {}): Promise<ProcessingJob[]> {
    throwIfAborted(options.signal);
    const worker = validate.text(workerId, 'worker id', STORE_LIMITS.workerId, 'workerId');
    if (worker === null || worker.length === 0)
      throw invalidInput('workerId', 'must be a non-empty string', {}, 'worker id');
    const n = validate.limit(limit);
    const reclaim = options.reclaimAfterMs;
    if (reclaim !== undefined && !(Number.isFinite(reclaim) && reclaim > 0)) {
      throw invalidInput('reclaimAfterMs', 'must be a positive number of milliseconds');
    }
    const nowDate = new Date(this.#clock.now());
    const now = this.#st.map.ts(nowDate);
    const statement = reclaim === undefined ? this.#st.claim : this.#st.claimStale;
    // A cutoff before the earliest storable time selects the same rows as that time, and MariaDB's
    // DATETIME cannot take it as a parameter.
    const staleBefore =
      reclaim === undefined
        ? null
        : this.#st.map.ts(new Date(Math.max(nowDate.getTime() - reclaim, STORE_LIMITS.minDate)));
    let jobs: ProcessingJob[];
    if (this.#st.dialect !== 'mysql') {
      const res = await this.#run(
        statement,
        { worker, now, staleBefore, limit: this.#limit(n) },
        options.signal,
      );
      jobs = res.rows.map(this.#st.map.job);
      // RETURNING gives no order; restore the claim order.
      jobs.sort((a, b) => b.priority - a.priority || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    } else {
      jobs = await this.#q.transaction(
        async (tx) => {
          const s = this.with(tx);
          const locked = await s.#run(statement, { now, staleBefore, limit: s.#limit(n) }, options.signal);
          const claimed = locked.rows.map(s.#st.map.job);
          if (claimed.length === 0) return claimed;
          const update = tx.kysely
            .updateTable('processing_jobs')
            .set({
              status: 'running',
              locked_by: worker,
              locked_at: now,
              attempts: sql`attempts + 1`,
              updated_at: now,
            })
            .where(
              'id',
              'in',
              claimed.map((j) => j.id),
            )
            .compile();
          await s.#exec(update, undefined, options.signal);
          return claimed.map((j) => ({
            ...j,
            status: 'running' as const,
            lockedBy: worker,
            lockedAt: nowDate,
            attempts: j.attempts + 1,
            updatedAt: nowDate,
          }));
        },
        // READ COMMITTED: no gap locks, so claimers skip each other's rows instead of waiting.
        this.#txOptions('store.claimJobs', options.signal, 'read committed'),
      );
    }
    if (jobs.length > 0) await this.#invalidate(['jobs']);
    return jobs;
  }

  /**
   * Moves a job to `status` if allowed (see JOB_TRANSITIONS): ERR_STORE_INVALID_TRANSITION otherwise,
   * also when `workerId` is given and another worker holds the job. Leaving 'running' releases the lock.
   */
  async updateJobStatus(jobId: string, status: JobStatus, options: JobUpdateOptions = {}): Promise<void> {
    const id = validate.id(jobId, 'job id', 'jobId');
    const target = validate.jobStatus(status);
    const error =
      options.error === undefined
        ? undefined
        : validate.text(options.error, 'job error', STORE_LIMITS.jobError, 'error');
    const worker =
      options.workerId === undefined
        ? undefined
        : validate.text(options.workerId, 'worker id', STORE_LIMITS.workerId, 'workerId');
    const result =
      options.result === undefined ? undefined : toJsonText(options.result, 'job result', 'result');
    const runAfter = validate.date(options.runAfter, 'runAfter');
    const now = this.#st.map.ts(new Date(this.#clock.now()));
    const set: Record<string, unknown> = { status: target, updated_at: now };
    if (result !== undefined) set.result = result;
    if (error !== undefined) set.error = error;
    if (target === 'running') {
      set.locked_by = worker ?? null;
      set.locked_at = now;
      set.attempts = sql`attempts + 1`;
    } else {
      set.locked_by = null;
      set.locked_at = null;
    }
    if (target === 'pending') {
      set.run_after = runAfter ? this.#st.map.ts(runAfter) : null;
    }
    let update = this.#q.kysely
      .updateTable('processing_jobs')
      .set(set as never)
      .where('id', '=', id)
      .where('status', 'in', [...JOB_TRANSITIONS[target]]);
    if (worker != null && target !== 'running') {
      update = update.where((eb) => eb.or([eb('status', '<>', 'running'), eb('locked_by', '=', worker)]));
    }
    const res = await this.#exec(update.compile(), undefined, options.signal);
    if (res.affectedRows === 0) {
      const current = await this.#run(this.#st.jobState, { id }, options.signal);
      const row = current.rows[0];
      if (row === undefined) throw notFound('job', id);
      const lostLock = row.status === 'running' && worker != null && row.locked_by !== worker;
      throw new StoreError(
        StoreErrorCode.InvalidTransition,
        lostLock
          ? `job ${id} is held by another worker`
          : `job ${id} cannot move from ${String(row.status)} to ${target}`,
        { details: { id, from: row.status, to: target } },
      );
    }
    await this.#invalidate(['jobs']);
  }

  // ---- batches and stats ----------------------------------------------------------------------------

  /**
   * Inserts many videos through db.batchInsert (COPY/UNNEST on PostgreSQL, multi-row INSERT elsewhere)
   * in one transaction; returns the ids in input order. Everything is validated before anything is written.
   */
  async batchInsertVideos(
    videos: readonly NewVideo[],
    options: BatchInsertVideosOptions = {},
  ): Promise<string[]> {
    throwIfAborted(options.signal);
    const mode = options.onDuplicate ?? 'error';
    if (videos.length === 0) return [];
    const n = videos.length;
    const ids = new Array<string>(n);
    // Normalised URLs, kept only to find the ids of videos already stored (onDuplicate: 'existing').
    const normalized = new Array<string>(n);
    let firstIndex = new Map<string, number>();
    const d = this.#st.dialect;
    const now = this.#st.map.ts(new Date(this.#clock.now()));
    const ts = this.#st.map.ts;
    const indexed = (error: unknown, i: number): unknown => this.#indexed(error, i);
    // Each video is validated as the db layer reads its row, so that checking and formatting the next
    // chunk overlaps the database's work on the previous one. Nothing is half-written all the same: an
    // invalid video (or a repeated URL) ends the generator with its error, inside the transaction, which
    // rolls back. Rows are built chunk by chunk (a sync generator is read without a promise per row):
    // 100,000 row arrays held at once would outlive the young generation and cost more in garbage
    // collection than the insert itself. Rows share the input's strings.
    const videoRows = function* (start: number, end: number): Generator<unknown[]> {
      // Afresh on every attempt: a transaction re-run after a deadlock reads the rows again.
      if (start === 0) firstIndex = new Map();
      for (let i = start; i < end; i++) {
        const v = videos[i]!;
        let u: ReturnType<typeof describeVideoUrl>;
        try {
          validate.video(v);
          u = describeVideoUrl(v.url);
        } catch (error) {
          throw indexed(error, i);
        }
        normalized[i] = u.url;
        const first = firstIndex.get(u.url);
        if (first !== undefined) {
          if (mode !== 'existing') {
            throw invalidInput(
              'url',
              `its URL repeats video #${first}`,
              { index: i, firstIndex: first },
              `video #${i}`,
            );
          }
          ids[i] = ids[first]!;
          continue;
        }
        firstIndex.set(u.url, i);
        const id = uuidv7();
        ids[i] = id;
        yield [
          id,
          v.url.trim(),
          u.url,
          u.source,
          u.sourceVideoId,
          v.title ?? null,
          v.description ?? null,
          v.channelId ?? null,
          v.channelTitle ?? null,
          v.publishedAt ? ts(v.publishedAt) : null,
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
    };
    // One group unless the rows are large (MariaDB only: see MYSQL_BATCH_BYTES).
    const groups =
      d === 'mysql'
        ? byteGroups(n, (i) => videoBytes((videos[i] ?? {}) as NewVideo), MYSQL_BATCH_BYTES)
        : [[0, n] as const];
    return this.#q.transaction(
      async (tx) => {
        const s = this.with(tx);
        let inserted = 0;
        for (const [start, end] of groups) {
          inserted += await tx.batchInsert({
            table: 'videos',
            columns: batchColumns(d, VIDEO_BATCH_COLUMNS),
            rows: videoRows(start, end),
            onConflict: mode === 'existing' ? 'ignore' : 'error',
            ...(options.signal ? { signal: options.signal } : {}),
          });
        }
        const unique = firstIndex.size;
        if (inserted < unique) {
          // Some URLs were already stored: their ids are the stored ones.
          const stored = new Map<string, string>();
          for (const part of chunks([...firstIndex.keys()])) {
            const query = tx.kysely
              .selectFrom('videos')
              .select(['id', 'url_normalized'])
              .where('url_normalized', 'in', part)
              .compile();
            const res = await s.#exec(query, undefined, options.signal);
            for (const row of res.rows) stored.set(String(row.url_normalized), String(row.id));
          }
          normalized.forEach((url, i) => {
            const id = stored.get(url);
            if (id !== undefined) ids[i] = id;
          });
        }
        await s.#invalidate(['videos']);
        return ids;
      },
      this.#txOptions('store.batchInsertVideos', options.signal),
    );
  }

  /**
   * Moves many videos to `status` in one transaction (IN lists of 1,000 parameters). Only rows whose
   * current status may move to `status` change (with `force`: every row not already in it); returns
   * the number of rows changed, so rows already in `status` are not counted.
   */
  async batchUpdateVideoStatus(
    ids: readonly string[],
    status: VideoStatus,
    options: BatchStatusUpdateOptions = {},
  ): Promise<number> {
    throwIfAborted(options.signal);
    const target = validate.videoStatus(status);
    const reason = validate.text(options.reason, 'status reason', STORE_LIMITS.statusReason, 'reason');
    const unique = [...new Set(ids.map((id, i) => validate.id(id, `video id #${i}`, 'ids')))];
    if (unique.length === 0) return 0;
    const now = this.#st.map.ts(new Date(this.#clock.now()));
    return this.#q.transaction(
      async (tx) => {
        const s = this.with(tx);
        let changed = 0;
        for (const part of chunks(unique)) {
          throwIfAborted(options.signal);
          let update = tx.kysely
            .updateTable('videos')
            .set({ status: target, status_reason: reason, updated_at: now })
            .where('id', 'in', part);
          update = options.force
            ? update.where('status', '<>', target)
            : update.where('status', 'in', [...VIDEO_TRANSITIONS[target]]);
          const res = await s.#exec(update.compile(), undefined, options.signal);
          changed += res.affectedRows;
        }
        await s.#invalidate(['videos', ...unique.map((id) => `video:${id}`)]);
        return changed;
      },
      this.#txOptions('store.batchUpdateVideoStatus', options.signal),
    );
  }

  /** Counts: videos by status, clips, jobs by status. */
  async stats(options: CallOptions = {}): Promise<StoreStats> {
    return this.#read('store:stats', ['videos', 'clips', 'jobs'], async () => {
      const [videos, clips, jobs] = await Promise.all([
        this.#run(this.#st.countVideos, {}, options.signal),
        this.#run(this.#st.countClips, {}, options.signal),
        this.#run(this.#st.countJobs, {}, options.signal),
      ]);
      const videoCounts = Object.fromEntries(VIDEO_STATUSES.map((s) => [s, 0])) as Record<
        VideoStatus,
        number
      >;
      for (const row of videos.rows) videoCounts[row.status as VideoStatus] = Number(row.n);
      const jobCounts = Object.fromEntries(JOB_STATUSES.map((s) => [s, 0])) as Record<JobStatus, number>;
      for (const row of jobs.rows) jobCounts[row.status as JobStatus] = Number(row.n);
      const sum = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0);
      return {
        videos: { total: sum(videoCounts), byStatus: videoCounts },
        clips: { total: Number(clips.rows[0]?.n ?? 0) },
        jobs: { total: sum(jobCounts), byStatus: jobCounts },
      };
    });
  }

  // ---- internals ------------------------------------------------------------------------------------

  /**
   * Every read goes through here, keyed and tagged like the seed's cache (`video:{id}`,
   * `videos:status:{s}...`, `clips:video:{id}`). The cache layer plugs in here; until then it just loads.
   */
  #read<T>(key: string, tags: readonly string[], loader: () => Promise<T>): Promise<T> {
    // Inside a transaction reads bypass the cache: they may see the transaction's own uncommitted writes.
    if (this.#cache === undefined || this.#q.inTransaction) return loader();
    return this.#cache.getOrSet(key, loader, { tags, ttlMs: this.#cacheTtl });
  }

  /**
   * Every write's invalidation goes through here, registered with `this.#q.afterCommit(...)` so a
   * rolled-back write never evicts and a committed one always does. `videoId`: a single-video write
   * whose row is refreshed in the cache afterwards (write-through), if this process was reading it.
   */
  #invalidate(tags: readonly string[], videoId?: string): Promise<void> | undefined {
    const cache = this.#cache;
    if (cache === undefined) return undefined;
    const root = this.#root;
    const writeThrough =
      videoId !== undefined &&
      root !== undefined &&
      this.#options.writeThrough !== false &&
      cache.inL1 !== undefined;
    // Outside a transaction this runs now and the write awaits it; inside, it runs after COMMIT.
    return this.#q.afterCommit(async () => {
      const key = `video:${videoId}`;
      // Asked before the invalidation drops the entry: only a video read here is worth a database read.
      if (!writeThrough || !cache.inL1!(key)) {
        await cache.invalidateTags(tags);
        return;
      }
      // The row is read again from the database after COMMIT, never taken from our UPDATE: two writers
      // whose invalidations land in the opposite order of their commits would leave the older row cached.
      // invalidateAndReplace reads it between a generation snapshot and the invalidation, and swaps it in
      // with the invalidation itself (one Redis script), so readers never find the entry missing; a
      // newer write makes the script refuse or deletes the entry after. Without it, the refresh starts
      // once the invalidation has bumped the generations: an ordinary guarded load that readers here
      // wait for. The write waits for either, so when it resolves no work of it is left running: its
      // spans have ended, close() has nothing to wait for, and a burst of writes cannot pile up
      // background database reads. Neither fails the write: the cache logs and counts its errors.
      const refresh: StoreRefresh = {
        key,
        loader: () => this.#loadVideo(root!, videoId!, undefined),
        options: { tags: [key], ttlMs: this.#cacheTtl },
      };
      if (cache.invalidateAndReplace) await cache.invalidateAndReplace(tags, refresh);
      else await cache.invalidateTags(tags, { refresh });
    });
  }

  #run(statement: Prepared, values: Readonly<Record<string, unknown>>, signal: AbortSignal | undefined) {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return this.#q.execute<Row>(
      statement.bind(values),
      signal ? { name: statement.name, signal } : statement.options,
    );
  }

  #exec(
    query: SqlQuery,
    name: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<ExecResult<Row>> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const options: ExecOptions = {};
    if (name !== undefined) options.name = name;
    if (signal !== undefined) options.signal = signal;
    return this.#q.execute<Row>(query, options);
  }

  /** mysql2 sends a JS number as DOUBLE, which a prepared LIMIT refuses; a string converts cleanly. */
  #limit(n: number): number | string {
    return this.#st.dialect === 'mysql' ? String(n) : n;
  }

  #txOptions(
    name: string,
    signal: AbortSignal | undefined,
    isolationLevel?: TransactionOptions['isolationLevel'],
  ) {
    const options: TransactionOptions = { name };
    if (signal !== undefined) options.signal = signal;
    // A savepoint cannot change isolation; only the outermost transaction sets it.
    if (isolationLevel !== undefined && !this.#q.inTransaction) options.isolationLevel = isolationLevel;
    return options;
  }

  async #videoDuration(
    videoId: string,
    forUpdate: boolean,
    signal: AbortSignal | undefined,
  ): Promise<number | null> {
    const statement = forUpdate ? this.#st.videoDurationForUpdate : this.#st.videoDuration;
    const res = await this.#run(statement, { id: videoId }, signal);
    const row = res.rows[0];
    if (row === undefined) throw notFound('video', videoId);
    return row.duration == null ? null : Number(row.duration);
  }

  #clipTooLong(c: ParsedClip, duration: number | null, what: string): StoreError {
    return invalidInput(
      'endTime',
      `endTime ${c.endTime} is past the end of the video (${duration ?? 'unknown'} s)`,
      { endTime: c.endTime, duration },
      what,
    );
  }

  #clipRow(
    id: string,
    videoId: string,
    c: ParsedClip,
    effects: string | null,
    now: Date | number,
  ): unknown[] {
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

  async #insertClips(rows: unknown[][], signal: AbortSignal | undefined): Promise<void> {
    const groups =
      this.#st.dialect === 'mysql'
        ? byteGroups(rows.length, (i) => rowBytes(rows[i]!), MYSQL_BATCH_BYTES)
        : [[0, rows.length] as const];
    for (const [start, end] of groups) {
      await this.#q.batchInsert({
        table: 'clips',
        columns: batchColumns(this.#st.dialect, CLIP_BATCH_COLUMNS),
        rows: start === 0 && end === rows.length ? rows : rows.slice(start, end),
        ...(signal ? { signal } : {}),
      });
    }
  }

  /** Adds "video #i" to a validation error of one item of a batch. */
  #indexed(error: unknown, index: number): unknown {
    if (error instanceof StoreError) {
      return new StoreError(error.code, `video #${index}: ${error.message}`, {
        cause: error,
        details: { ...error.details, index },
      });
    }
    return error;
  }
}

/** `new VideoStore(q, options)`. */
export function createVideoStore(q: Queryable<StoreSchema>, options: VideoStoreOptions = {}): VideoStore {
  return new VideoStore(q, options);
}
