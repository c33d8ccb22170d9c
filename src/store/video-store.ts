import { sql } from 'kysely';
import { abortReason, type Clock, isOpusError, systemClock, throwIfAborted } from '../core/index.js';
import { DbErrorCode } from '../db/errors.js';
import type { ExecOptions, ExecResult, Queryable, SqlQuery, TransactionOptions } from '../db/types.js';
import { byteGroups, chunks, MYSQL_BATCH_BYTES, rowBytes, videoBytes } from './batch-chunks.js';
import { atIndex, isUrlConflict, notFound, StoreError, StoreErrorCode } from './errors.js';
import { describeVideoUrl, type NormalizedVideoUrl } from './normalize-video-url.js';
import type { Prepared } from './prepared.js';
import { QueryCache, videoKey } from './query-cache.js';
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
import type {
  BatchInsertVideosOptions,
  BatchStatusUpdateOptions,
  CallOptions,
  ClaimOptions,
  JobUpdateOptions,
  PageOptions,
  StatusUpdateOptions,
  VideoStoreOptions,
} from './store-options.js';
import type { Page, StoreStats } from './store-results.js';
import { type Statements, statementsFor } from './store-statements.js';
import { uuidv7 } from './uuid-v7.js';
import {
  type ClipAssets,
  clipPastEnd,
  invalidInput,
  isUuid,
  type NewClip,
  type NewClipFor,
  type NewJob,
  type NewVideo,
  type ParsedVideo,
  STORE_LIMITS,
  toJsonText,
  type VideoPatch,
  validate,
} from './validation.js';

type Row = Record<string, unknown>;

/** Key prefix of the cached popular lists (`videos:popular:<limit>`). */
const POPULAR_PREFIX = 'videos:popular:';
/** getPopularVideos's default limit. */
const DEFAULT_POPULAR = 10;
/** The largest `limit` a list read takes (validation's). */
const MAX_LIMIT = 10_000;
/** Most popular videos a warm-up loads as seeds. */
const WARM_SEEDS = 100;

/**
 * The video store: videos, their clips and their processing jobs on PostgreSQL, MariaDB/MySQL or SQLite.
 * Every method runs on the Queryable it was built with; `with(tx)` gives the same store on a transaction.
 */
export class VideoStore {
  readonly #q: Queryable<StoreSchema>;
  readonly #clock: Clock;
  readonly #st: Statements;
  readonly #options: VideoStoreOptions;
  readonly #cache: QueryCache;

  /**
   * `parent` is internal: `with()` passes the store it derives from, whose compiled statements and
   * cache (with its write-through reads on the parent's Database) the new store shares, so a
   * transaction compiles nothing.
   */
  constructor(q: Queryable<StoreSchema>, options: VideoStoreOptions = {}, parent?: VideoStore) {
    this.#q = q;
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    if (parent instanceof VideoStore && parent.#st.dialect === q.dialect) {
      this.#st = parent.#st;
      this.#cache = parent.#cache;
      return;
    }
    this.#st = statementsFor(q);
    // Write-through refreshes read from the Database after COMMIT; a store built on a transaction has
    // no Database to read from once that transaction has finished.
    const reload =
      options.writeThrough === false || q.inTransaction
        ? undefined
        : (id: string) => this.#loadVideo(q, id, undefined);
    this.#cache = new QueryCache(options.cache, options.cacheTtlMs ?? 60_000, reload);
    if (!q.inTransaction) this.#registerWarmers();
  }

  /**
   * Tells the cache how to load the store's hot reads again when it warms up: a video by id and the
   * popular list, whose keys hold only a UUID or a number (so only those are ever recorded as hot), and
   * as seeds the most viewed videos and the default popular list.
   */
  #registerWarmers(): void {
    const cache = this.#cache;
    const q = this.#q;
    cache.registerWarmer('video:', {
      itemFor: (key) => {
        const id = key.slice('video:'.length);
        if (!isUuid(id) || id !== id.toLowerCase()) return undefined;
        return cache.warmItem(key, [key], (signal) => this.#loadVideo(q, id, signal));
      },
      seedKeys: async (limit, signal) =>
        (await this.#loadPopular(Math.min(limit, WARM_SEEDS), signal)).map((v) => videoKey(v.id)),
    });
    cache.registerWarmer(POPULAR_PREFIX, {
      itemFor: (key) => {
        const text = key.slice(POPULAR_PREFIX.length);
        const n = Number(text);
        if (!/^[1-9][0-9]{0,4}$/.test(text) || n > MAX_LIMIT) return undefined;
        return cache.warmItem(key, ['videos'], (signal) => this.#loadPopular(n, signal));
      },
      seedKeys: () => Promise.resolve([`${POPULAR_PREFIX}${DEFAULT_POPULAR}`]),
    });
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
    return new VideoStore(q, this.#options, this);
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
    const id = uuidv7();
    const insert = this.#st.insertVideo.bindRow(this.#st.rows.video(id, v, url, this.#now()));
    // The row that won a conflict may be deleted before it is read: then insert again.
    for (let attempt = 1; ; attempt++) {
      let inserted: number;
      try {
        inserted = (await this.#send(insert, this.#st.insertVideo, options.signal)).affectedRows;
      } catch (error) {
        if (!isUrlConflict(error)) throw error;
        inserted = 0;
      }
      if (inserted > 0) {
        await this.#cache.invalidate(this.#q, ['videos', videoKey(id)]);
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
    const lower = id.toLowerCase();
    const key = videoKey(lower);
    return this.#cache.read(this.#q, key, [key], () => this.#loadVideo(this.#q, lower, options.signal));
  }

  /** getVideoById's query (`id` lowercased), parameters unbound. Also the loader of write-through refreshes. */
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
    return this.#cache.read(this.#q, `video:url:${normalized}`, ['videos'], async () => {
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
      completed_at: this.#now(),
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
    return this.#cache.read(this.#q, key, ['videos'], async () => {
      const statement = cursor === null ? this.#st.videosByStatus : this.#st.videosByStatusAfter;
      const res = await this.#run(
        statement,
        { status: s, limit: this.#st.limit(limit), cursor },
        options.signal,
      );
      const items = res.rows.map(this.#st.map.video);
      return { items, nextCursor: items.length === limit ? (items.at(-1)?.id ?? null) : null };
    });
  }

  /** Videos with a known view count, most viewed first. */
  async getPopularVideos(limit = DEFAULT_POPULAR, options: CallOptions = {}): Promise<Video[]> {
    const n = validate.limit(limit);
    return this.#cache.read(this.#q, `${POPULAR_PREFIX}${n}`, ['videos'], () =>
      this.#loadPopular(n, options.signal),
    );
  }

  /** getPopularVideos's query on `q`. Also the loader of its warm-up. */
  async #loadPopular(n: number, signal: AbortSignal | undefined): Promise<Video[]> {
    const res = await this.#run(this.#st.popularVideos, { limit: this.#st.limit(n) }, signal);
    return res.rows.map(this.#st.map.video);
  }

  /**
   * Moves a video to `status` if the transition is allowed (see VIDEO_TRANSITIONS); otherwise throws
   * ERR_STORE_INVALID_TRANSITION (or ERR_STORE_NOT_FOUND) and writes nothing.
   */
  async updateVideoStatus(id: string, status: VideoStatus, options: StatusUpdateOptions = {}): Promise<void> {
    const videoId = validate.id(id, 'video id', 'id');
    const target = validate.videoStatus(status);
    const reason = validate.text(options.reason, 'status reason', STORE_LIMITS.statusReason, 'reason');
    const now = this.#now();
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
    await this.#cache.invalidate(this.#q, ['videos', videoKey(videoId)], videoId);
  }

  /** Changes a video's metadata (fields given; null clears one). Throws ERR_STORE_NOT_FOUND. */
  async updateVideo(id: string, patch: VideoPatch, options: CallOptions = {}): Promise<void> {
    const videoId = validate.id(id, 'video id', 'id');
    const p = validate.videoPatch(patch);
    const set: Record<string, unknown> = { updated_at: this.#now() };
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
      set[column] = value instanceof Date ? this.#st.rows.ts(value) : value;
    }
    const query = this.#q.kysely
      .updateTable('videos')
      .set(set as never)
      .where('id', '=', videoId)
      .compile();
    // No statement name: the SET list varies with the patch, and one name must mean one SQL text.
    const res = await this.#exec(query, undefined, options.signal);
    if (res.affectedRows === 0) throw notFound('video', videoId);
    await this.#cache.invalidate(this.#q, ['videos', videoKey(videoId)], videoId);
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
    const row = this.#st.rows.clip(id, vid, c, effects, this.#now());
    const res = await this.#send(this.#st.insertClip.bindRow(row), this.#st.insertClip, options.signal);
    if (res.affectedRows === 0) {
      const duration = await this.#videoDuration(vid, false, options.signal);
      throw clipPastEnd(c.endTime, duration, 'clip');
    }
    await this.#cache.invalidate(this.#q, ['clips', `clips:video:${vid}`]);
    return id;
  }

  /** The video's clips in start order. */
  async getClipsByVideoId(videoId: string, options: CallOptions = {}): Promise<Clip[]> {
    if (!isUuid(videoId)) return [];
    const vid = videoId.toLowerCase();
    return this.#cache.read(this.#q, `clips:video:${vid}`, ['clips', `clips:video:${vid}`], async () => {
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
          if (duration !== null && c.endTime > duration) throw clipPastEnd(c.endTime, duration, `clip #${i}`);
        });
        await s.#run(s.#st.deleteClipsOfVideo, { videoId: vid }, options.signal);
        const now = s.#now();
        const ids = parsed.map(() => uuidv7());
        if (parsed.length > 0) {
          await s.#insertClips(
            parsed.map((c, i) => s.#st.rows.clip(ids[i]!, vid, c, effects[i] ?? null, now)),
            options.signal,
          );
        }
        await s.#cache.invalidate(s.#q, ['clips', `clips:video:${vid}`]);
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
        const now = s.#now();
        const ids = parsed.map(() => uuidv7());
        const rows = parsed.map((c, i) => {
          const vid = c.videoId.toLowerCase();
          const duration = durations.get(vid) ?? null;
          if (duration !== null && c.endTime > duration) throw clipPastEnd(c.endTime, duration, `clip #${i}`);
          return s.#st.rows.clip(ids[i]!, vid, c, effects[i] ?? null, now);
        });
        await s.#insertClips(rows, options.signal);
        await s.#cache.invalidate(s.#q, ['clips', ...videoIds.map((id) => `clips:video:${id}`)]);
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
    await this.#cache.invalidate(this.#q, ['clips', `clips:video:${String(row.video_id)}`]);
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
        runAfter: j.runAfter ? this.#st.rows.ts(j.runAfter) : null,
        now: this.#now(),
      },
      options.signal,
    );
    if (res.affectedRows === 0) throw notFound('video', j.videoId);
    await this.#cache.invalidate(this.#q, ['jobs']);
    return id;
  }

  /** Pending jobs that may run now, highest priority first, then oldest. Read-only: see claimJobs. */
  async getPendingJobs(limit = 10, options: CallOptions = {}): Promise<ProcessingJob[]> {
    const n = validate.limit(limit);
    return this.#cache.read(this.#q, `jobs:pending:${n}`, ['jobs'], async () => {
      const now = this.#now();
      const res = await this.#run(this.#st.pendingJobs, { limit: this.#st.limit(n), now }, options.signal);
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
    const now = this.#st.rows.ts(nowDate);
    const statement = reclaim === undefined ? this.#st.claim : this.#st.claimStale;
    // A cutoff before the earliest storable time selects the same rows as that time, and MariaDB's
    // DATETIME cannot take it as a parameter.
    const staleBefore =
      reclaim === undefined
        ? null
        : this.#st.rows.ts(new Date(Math.max(nowDate.getTime() - reclaim, STORE_LIMITS.minDate)));
    let jobs: ProcessingJob[];
    if (this.#st.dialect !== 'mysql') {
      const res = await this.#run(
        statement,
        { worker, now, staleBefore, limit: this.#st.limit(n) },
        options.signal,
      );
      jobs = res.rows.map(this.#st.map.job);
      // RETURNING gives no order; restore the claim order.
      jobs.sort((a, b) => b.priority - a.priority || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    } else {
      jobs = await this.#q.transaction(
        async (tx) => {
          const s = this.with(tx);
          const locked = await s.#run(statement, { now, staleBefore, limit: s.#st.limit(n) }, options.signal);
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
    if (jobs.length > 0) await this.#cache.invalidate(this.#q, ['jobs']);
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
    const now = this.#now();
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
      set.run_after = runAfter ? this.#st.rows.ts(runAfter) : null;
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
    await this.#cache.invalidate(this.#q, ['jobs']);
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
    const now = this.#now();
    const rows = this.#st.rows;
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
        let p: ParsedVideo;
        let u: NormalizedVideoUrl;
        try {
          p = validate.video(v);
          u = describeVideoUrl(p.url);
        } catch (error) {
          throw atIndex(error, i);
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
        yield rows.video(id, p, u, now);
      }
    };
    // One group unless the rows are large (MariaDB only: see MYSQL_BATCH_BYTES).
    const groups =
      this.#st.dialect === 'mysql'
        ? byteGroups(n, (i) => videoBytes((videos[i] ?? {}) as NewVideo), MYSQL_BATCH_BYTES)
        : [[0, n] as const];
    return this.#q.transaction(
      async (tx) => {
        const s = this.with(tx);
        let inserted = 0;
        for (const [start, end] of groups) {
          inserted += await tx.batchInsert({
            table: 'videos',
            columns: rows.videoColumns,
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
        await s.#cache.invalidate(s.#q, ['videos']);
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
    const now = this.#now();
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
        await s.#cache.invalidate(s.#q, ['videos', ...unique.map((id) => videoKey(id))]);
        return changed;
      },
      this.#txOptions('store.batchUpdateVideoStatus', options.signal),
    );
  }

  /** Counts: videos by status, clips, jobs by status. */
  async stats(options: CallOptions = {}): Promise<StoreStats> {
    return this.#cache.read(this.#q, 'store:stats', ['videos', 'clips', 'jobs'], async () => {
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

  /** The clock's now as the dialect stores it. */
  #now(): Date | number {
    return this.#st.rows.ts(new Date(this.#clock.now()));
  }

  /** A compiled statement with named values. */
  #run(statement: Prepared, values: Readonly<Record<string, unknown>>, signal: AbortSignal | undefined) {
    return this.#send(statement.bind(values), statement, signal);
  }

  /** `query`, bound from `statement`, under the statement's name. */
  #send(query: SqlQuery, statement: Prepared, signal: AbortSignal | undefined): Promise<ExecResult<Row>> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return this.#q.execute<Row>(query, signal ? { name: statement.name, signal } : statement.options);
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

  async #insertClips(rows: unknown[][], signal: AbortSignal | undefined): Promise<void> {
    const groups =
      this.#st.dialect === 'mysql'
        ? byteGroups(rows.length, (i) => rowBytes(rows[i]!), MYSQL_BATCH_BYTES)
        : [[0, rows.length] as const];
    for (const [start, end] of groups) {
      await this.#q.batchInsert({
        table: 'clips',
        columns: this.#st.rows.clipColumns,
        rows: start === 0 && end === rows.length ? rows : rows.slice(start, end),
        ...(signal ? { signal } : {}),
      });
    }
  }
}

/** `new VideoStore(q, options)`. */
export function createVideoStore(q: Queryable<StoreSchema>, options: VideoStoreOptions = {}): VideoStore {
  return new VideoStore(q, options);
}
