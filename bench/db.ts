/**
 * `npm run bench -- db [--quick] [--targets=postgres,mysql,sqlite]`: the store against the raw drivers.
 * Cases: point-select (store.getVideoById vs the fastest raw configuration, plus plain Kysely),
 * batch-insert (store.batchInsertVideos vs COPY / a raw multi-row INSERT loop, each run in a fresh child
 * process so peak RSS compares), transaction (a video, 5 clips, a status update vs the same statements
 * through the raw driver). Everything runs in a dedicated schema/database/file, dropped at the end.
 */
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, MysqlDialect, PostgresDialect, SqliteDialect } from 'kysely';
import mysql from 'mysql2';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { createDatabase, type Database } from '../src/db/index.js';
import { CLIP_COLUMNS, VIDEO_COLUMNS } from '../src/store/columns.js';
import { type NewVideo, type StoreSchema, setupStore, VideoStore } from '../src/store/index.js';
import type { NormalizedVideoUrl } from '../src/store/normalize-video-url.js';
import { RowBuilder, type StoredTime } from '../src/store/row-builder.js';
import { uuidv7 } from '../src/store/uuid-v7.js';
import { TEST_MYSQL_URL, TEST_PG_URL } from '../test/support/env.js';
import { mysqlRawConfigs, pipelinedPointCases, postgresRawConfigs } from './db-pipeline.js';
import { type BenchResult, compareLoad, log, median, result, runJsonChild, runLoad } from './lib/harness.js';
import { type Measured, measureEach, type RawConfig } from './lib/pipelined-baselines.js';
import { sampleVideo } from './lib/sample-video.js';
import type { SuiteOptions } from './main.js';

type Target = 'postgres' | 'mysql' | 'sqlite';

interface Place {
  target: Target;
  /** URL for createDatabase and for the child processes. */
  url: string;
  /** PostgreSQL schema. */
  schema?: string;
  /** SQLite file. */
  file?: string;
  dispose(): Promise<void>;
}

const POOL_MAX = 20;
const POINT_CONCURRENCY = 64;
const TX_CONCURRENCY = 16;
const SEED_ROWS = 20_000;
/** Rounds per case: the 2-vCPU VM's speed moves between rounds; five medians hold steadier than three. */
const ROUNDS = 5;

const VIDEO_COLS: readonly string[] = VIDEO_COLUMNS;
const CLIP_COLS: readonly string[] = CLIP_COLUMNS;

function placeholders(target: Target, count: number, from = 1): string[] {
  return Array.from({ length: count }, (_, i) => (target === 'postgres' ? `$${from + i}` : '?'));
}

/**
 * The raw statements, written by hand per dialect: the same SQL the store sends. Their parameters are
 * the store's rows (RowBuilder): a video row as is; a clip row as is on PostgreSQL, where a parameter
 * can be used twice, and followed by its video id and end time elsewhere.
 */
function rawSql(target: Target) {
  const p = (n: number) => (target === 'postgres' ? `$${n}` : '?');
  const cast = (n: number, type: string) => (target === 'postgres' ? `cast($${n} as ${type})` : '?');
  const q = (name: string) => (target === 'mysql' ? `\`${name}\`` : `"${name}"`);
  const insertVideo =
    `insert ${target === 'mysql' ? 'ignore ' : ''}into ${q('videos')} (${VIDEO_COLS.map(q).join(', ')}) values (${placeholders(target, VIDEO_COLS.length).join(', ')})` +
    (target === 'mysql' ? '' : ` on conflict (${q('url_normalized')}) do nothing`);
  const insertClip =
    target === 'postgres'
      ? `insert into clips (${CLIP_COLS.join(', ')}) select ${cast(1, 'uuid')}, v.id, ${cast(3, 'double precision')}, ${cast(4, 'double precision')}, ${cast(5, 'double precision')}, ${cast(6, 'text')}, ${cast(7, 'text')}, ${cast(8, 'double precision')}, ${cast(9, 'jsonb')}, ${cast(10, 'text')}, ${cast(11, 'text')}, ${cast(12, 'text')}, ${cast(13, 'timestamptz')} from videos v where v.id = ${cast(2, 'uuid')} and (v.duration is null or v.duration >= ${cast(4, 'double precision')})`
      : `insert into clips (${CLIP_COLS.join(', ')}) select ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? from videos v where v.id = ? and (v.duration is null or v.duration >= ?)`;
  return {
    pointSelect: `select ${VIDEO_COLS.map(q).join(', ')} from ${q('videos')} where ${q('id')} = ${p(1)}`,
    insertVideo,
    insertClip,
    updateStatus: `update ${q('videos')} set ${q('status')} = ${p(1)}, ${q('status_reason')} = ${p(2)}, ${q('updated_at')} = ${p(3)} where ${q('id')} = ${p(4)} and ${q('status')} in (${p(5)})`,
  };
}

// ---- places ------------------------------------------------------------------------------------------

async function openPlace(target: Target): Promise<Place> {
  const tag = `bench_db_${process.pid}_${Date.now().toString(36)}`;
  if (target === 'postgres') {
    const client = new pg.Client({ connectionString: TEST_PG_URL });
    await client.connect();
    await client.query(`CREATE SCHEMA ${tag}`);
    await client.end();
    return {
      target,
      url: TEST_PG_URL,
      schema: tag,
      async dispose() {
        const c = new pg.Client({ connectionString: TEST_PG_URL });
        await c.connect();
        await c.query(`DROP SCHEMA IF EXISTS ${tag} CASCADE`);
        await c.end();
      },
    };
  }
  if (target === 'mysql') {
    const conn = mysql.createConnection({ uri: TEST_MYSQL_URL }).promise();
    await conn.query(`CREATE DATABASE \`${tag}\` CHARACTER SET utf8mb4`);
    await conn.end();
    const url = new URL(TEST_MYSQL_URL);
    url.pathname = `/${tag}`;
    return {
      target,
      url: url.toString(),
      async dispose() {
        const c = mysql.createConnection({ uri: TEST_MYSQL_URL }).promise();
        await c.query(`DROP DATABASE IF EXISTS \`${tag}\``);
        await c.end();
      },
    };
  }
  const file = join(tmpdir(), `${tag}.db`);
  return {
    target,
    url: `sqlite:${file}`,
    file,
    async dispose() {
      for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
    },
  };
}

/** MySQL protocol for the raw baselines and the store alike: whichever the point-select probe found faster. */
type MysqlKind = 'execute' | 'query';

function openDb(place: Place, mysqlKind: MysqlKind = 'execute'): Promise<Database<StoreSchema>> {
  return createDatabase<StoreSchema>({
    url: place.url,
    max: POOL_MAX,
    ...(place.schema ? { schema: place.schema } : {}),
    // The db layer's `preparedStatements: false` is mysql2's text protocol (`query`).
    ...(place.target === 'mysql' ? { preparedStatements: mysqlKind === 'execute' } : {}),
  });
}

function pgConfig(place: Place, max: number): pg.PoolConfig {
  return { connectionString: place.url, max, options: `-c search_path=${place.schema}` };
}

/** One mysql2 connection (callback API, the fastest) in UTC like the store's. */
async function mysqlConnection(place: Place): Promise<mysql.Connection> {
  const conn = mysql.createConnection({ uri: place.url, timezone: 'Z', supportBigNumbers: true });
  await new Promise<void>((resolve, reject) => conn.connect((e) => (e ? reject(e) : resolve())));
  return conn;
}

function mysqlCall(conn: mysql.Connection, kind: 'execute' | 'query', sql: string, values: unknown[]) {
  return new Promise<unknown>((resolve, reject) => {
    const done = (error: unknown, rows: unknown) => (error ? reject(error) : resolve(rows));
    if (kind === 'execute') conn.execute(sql, values as mysql.ExecuteValues, done);
    else conn.query(sql, values, done);
  });
}

// ---- point-select ------------------------------------------------------------------------------------

async function pointSelect(
  place: Place,
  quick: boolean,
): Promise<{ results: BenchResult[]; mysqlKind: MysqlKind }> {
  const t = place.target;
  const seconds = quick ? 0.5 : 2;
  const rounds = ROUNDS;
  const seedDb = await openDb(place);
  await setupStore(seedDb);
  log(`  ${t}: seeding ${SEED_ROWS} videos`);
  const ids = await new VideoStore(seedDb).batchInsertVideos(
    Array.from({ length: SEED_ROWS }, (_, i) => sampleVideo('seed', i)),
  );
  await seedDb.close();
  const idAt = (i: number): string => ids[(i * 7919) % ids.length]!;
  const sql = rawSql(t).pointSelect;
  let mysqlKind: MysqlKind = 'execute';

  let baseline: (i: number) => Promise<unknown>;
  let baselineName: string;
  let closeBaseline: () => Promise<void>;
  let kysely: Kysely<StoreSchema>;
  // PostgreSQL and MySQL: the baseline is the fastest raw configuration measured here (a pool, or a
  // driver that pipelines).
  let rawSet: { measured: Measured[]; pool: RawConfig } | undefined;
  // The store speaks the fastest raw configuration's protocol (MySQL: binary or text).
  let storeKind: MysqlKind = mysqlKind;
  const fastestRaw = async (raw: { pool: RawConfig; all: RawConfig[] }) => {
    const measured = await measureEach(raw.all, {
      concurrency: POINT_CONCURRENCY,
      seconds: Math.min(1, seconds),
      rounds: 3,
    });
    rawSet = { measured, pool: raw.pool };
    storeKind = measured[0]!.config.protocol ?? storeKind;
    return {
      op: measured[0]!.config.op,
      name: `${measured[0]!.config.name} (fastest raw configuration)`,
      close: async () => {
        await Promise.all(raw.all.map((r) => r.close()));
      },
    };
  };
  if (t === 'postgres') {
    const fastest = await fastestRaw(
      await postgresRawConfigs(pgConfig(place, POOL_MAX), POOL_MAX, sql, idAt),
    );
    baseline = fastest.op;
    baselineName = fastest.name;
    closeBaseline = fastest.close;
    kysely = new Kysely({ dialect: new PostgresDialect({ pool: new pg.Pool(pgConfig(place, POOL_MAX)) }) });
  } else if (t === 'mysql') {
    const conns = await Promise.all(Array.from({ length: POOL_MAX }, () => mysqlConnection(place)));
    const via = (kind: 'execute' | 'query') => (i: number) =>
      mysqlCall(conns[i % POOL_MAX]!, kind, sql, [idAt(i)]);
    // The faster of the binary (execute) and text (query) protocols becomes the baseline.
    const probe = { concurrency: POINT_CONCURRENCY, seconds: Math.min(1, seconds) };
    await runLoad(via('execute'), probe);
    await runLoad(via('query'), probe);
    const ex = (await runLoad(via('execute'), probe)).opsPerSec;
    const qu = (await runLoad(via('query'), probe)).opsPerSec;
    const kind = ex >= qu ? 'execute' : 'query';
    mysqlKind = kind;
    log(`  mysql raw probe: execute ${ex.toFixed(0)}/s, query ${qu.toFixed(0)}/s → ${kind} (store too)`);
    await Promise.all(conns.map((c) => new Promise<void>((r) => c.end(() => r()))));
    const fastest = await fastestRaw(await mysqlRawConfigs(place.url, POOL_MAX, kind, sql, idAt));
    baseline = fastest.op;
    baselineName = fastest.name;
    closeBaseline = fastest.close;
    kysely = new Kysely({
      dialect: new MysqlDialect({
        pool: mysql.createPool({ uri: place.url, connectionLimit: POOL_MAX, timezone: 'Z' }),
      }),
    });
  } else {
    const raw = new BetterSqlite3(place.file!);
    const stmt = raw.prepare(sql);
    baseline = async (i) => stmt.get(idAt(i));
    baselineName = 'better-sqlite3 prepared statement';
    closeBaseline = async () => {
      raw.close();
    };
    kysely = new Kysely({ dialect: new SqliteDialect({ database: new BetterSqlite3(place.file!) }) });
  }
  const db = await openDb(place, storeKind);
  const store = new VideoStore(db);
  const subject = (i: number) => store.getVideoById(idAt(i));
  // Sanity: every path must find the row.
  if ((await subject(1))?.id !== idAt(1)) throw new Error('store.getVideoById did not find a seeded row');
  const viaKysely = (i: number) =>
    kysely.selectFrom('videos').selectAll().where('id', '=', idAt(i)).executeTakeFirst();
  if ((await viaKysely(1))?.id !== idAt(1)) throw new Error('kysely did not find a seeded row');

  const opts = { concurrency: POINT_CONCURRENCY, seconds, rounds };
  const params: Record<string, unknown> = {
    concurrency: POINT_CONCURRENCY,
    poolMax: POOL_MAX,
    rows: SEED_ROWS,
    seconds,
    rounds,
    cache: 'off',
  };
  if (t === 'mysql') params.protocol = storeKind;
  const out: BenchResult[] = [];
  const a = await compareLoad(`point-select ${t} store`, subject, baseline, opts);
  out.push(
    result({
      case: 'point-select',
      target: t,
      subject: 'store.getVideoById',
      baseline: baselineName,
      unit: 'ops/s',
      value: a.subject.opsPerSec,
      baselineValue: a.baseline.opsPerSec,
      p99Ms: a.subject.p99Ms,
      baselineP99Ms: a.baseline.p99Ms,
      params,
    }),
  );
  const k = await compareLoad(`point-select ${t} kysely`, viaKysely, baseline, opts);
  out.push(
    result({
      case: 'point-select',
      target: t,
      subject: 'kysely',
      baseline: baselineName,
      unit: 'ops/s',
      value: k.subject.opsPerSec,
      baselineValue: k.baseline.opsPerSec,
      p99Ms: k.subject.p99Ms,
      baselineP99Ms: k.baseline.p99Ms,
      params,
    }),
  );
  await kysely.destroy();
  if (rawSet && t !== 'sqlite') {
    out.push(
      ...(await pipelinedPointCases({
        target: t,
        url: place.url,
        schema: place.schema,
        quick,
        sql,
        someId: idAt(1),
        subject,
        ...rawSet,
        concurrency: POINT_CONCURRENCY,
        poolMax: POOL_MAX,
        rounds,
        seconds,
        params,
      })),
    );
  }
  await closeBaseline();
  await db.close();
  return { results: out, mysqlKind };
}

// ---- transaction -------------------------------------------------------------------------------------

async function transaction(place: Place, quick: boolean, mysqlKind: MysqlKind): Promise<BenchResult[]> {
  const t = place.target;
  const seconds = quick ? 0.5 : 2;
  const db = await openDb(place, mysqlKind);
  await setupStore(db);
  const store = new VideoStore(db);
  const s = rawSql(t);
  const run = `${Date.now().toString(36)}`;
  const caption = 'A caption line for the clip, as the pipeline writes it.';
  const effects = JSON.stringify({ zoom: 1.2, captions: true });

  // Each run of runLoad restarts its counter; the URLs (unique in the table) must not repeat.
  let seq = 0;
  const subject = () =>
    store.transaction(async (tx) => {
      const id = await tx.createVideoRecord({
        url: `https://tx.example.com/${run}/s/${seq++}`,
        title: 'tx',
        duration: 600,
      });
      for (let c = 0; c < 5; c++) {
        await tx.createClipRecord(id, {
          startTime: c * 10,
          endTime: c * 10 + 5,
          caption,
          effects: { zoom: 1.2, captions: true },
        });
      }
      await tx.updateVideoStatus(id, 'downloading');
    });

  const rows = new RowBuilder(t);
  const videoParams = (_i: number, id: string, now: StoredTime): unknown[] => {
    const n = seq++;
    const url = `https://tx.example.com/${run}/b/${n}`;
    return rows.video(id, { url, title: `tx ${n}`, duration: 600 }, canonicalUrl(url), now);
  };
  const clipParams = (videoId: string, c: number, now: StoredTime): unknown[] => {
    const start = c * 10;
    const row = rows.clip(uuidv7(), videoId, { startTime: start, endTime: start + 5, caption }, effects, now);
    return t === 'postgres' ? row : [...row, videoId, start + 5];
  };
  const statusParams = (id: string, now: Date | number): unknown[] => [
    'downloading',
    null,
    now,
    id,
    'pending',
  ];

  let baseline: (i: number) => Promise<unknown>;
  let baselineName: string;
  let closeBaseline: () => Promise<void>;
  if (t === 'postgres') {
    const pool = new pg.Pool(pgConfig(place, POOL_MAX));
    baselineName = 'pg Pool client, named prepared statements';
    baseline = async (i) => {
      const client = await pool.connect();
      try {
        const now = new Date();
        const id = uuidv7();
        await client.query('BEGIN');
        await client.query({ name: 'tx_video', text: s.insertVideo, values: videoParams(i, id, now) });
        for (let c = 0; c < 5; c++) {
          await client.query({ name: 'tx_clip', text: s.insertClip, values: clipParams(id, c, now) });
        }
        await client.query({ name: 'tx_status', text: s.updateStatus, values: statusParams(id, now) });
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      } finally {
        client.release();
      }
    };
    closeBaseline = () => pool.end();
  } else if (t === 'mysql') {
    const free = await Promise.all(Array.from({ length: POOL_MAX }, () => mysqlConnection(place)));
    const all = [...free];
    baselineName = `mysql2 ${mysqlKind}, ${POOL_MAX} held connections`;
    baseline = async (i) => {
      const conn = free.pop()!;
      try {
        const now = new Date();
        const id = uuidv7();
        await mysqlCall(conn, 'query', 'START TRANSACTION', []);
        await mysqlCall(conn, mysqlKind, s.insertVideo, videoParams(i, id, now));
        for (let c = 0; c < 5; c++) await mysqlCall(conn, mysqlKind, s.insertClip, clipParams(id, c, now));
        await mysqlCall(conn, mysqlKind, s.updateStatus, statusParams(id, now));
        await mysqlCall(conn, 'query', 'COMMIT', []);
      } finally {
        free.push(conn);
      }
    };
    closeBaseline = async () => {
      await Promise.all(all.map((c) => new Promise<void>((r) => c.end(() => r()))));
    };
  } else {
    const raw = new BetterSqlite3(place.file!);
    raw.pragma('busy_timeout = 5000');
    const insertVideo = raw.prepare(s.insertVideo);
    const insertClip = raw.prepare(s.insertClip);
    const update = raw.prepare(s.updateStatus);
    const tx = raw.transaction((i: number) => {
      const now = rows.ts(new Date());
      const id = uuidv7();
      insertVideo.run(videoParams(i, id, now));
      for (let c = 0; c < 5; c++) insertClip.run(clipParams(id, c, now));
      update.run(statusParams(id, now));
    });
    baselineName = 'better-sqlite3 prepared statements in db.transaction()';
    baseline = async (i) => tx(i);
    closeBaseline = async () => {
      raw.close();
    };
  }
  const r = await compareLoad(`transaction ${t}`, subject, baseline, {
    concurrency: TX_CONCURRENCY,
    seconds,
    rounds: ROUNDS,
  });
  await closeBaseline();
  await db.close();
  return [
    result({
      case: 'transaction',
      target: t,
      subject: 'store.transaction (video + 5 clips + status)',
      baseline: baselineName,
      unit: 'tx/s',
      value: r.subject.opsPerSec,
      baselineValue: r.baseline.opsPerSec,
      p99Ms: r.subject.p99Ms,
      baselineP99Ms: r.baseline.p99Ms,
      params: {
        concurrency: TX_CONCURRENCY,
        poolMax: POOL_MAX,
        seconds,
        rounds: ROUNDS,
        statements: 9,
        ...(t === 'mysql' ? { protocol: mysqlKind } : {}),
      },
    }),
  ];
}

// ---- batch-insert ------------------------------------------------------------------------------------

interface ChildSpec {
  target: Target;
  mode: 'subject' | 'baseline';
  rows: number;
  url: string;
  schema?: string;
  file?: string;
  tag: string;
}

interface ChildResult {
  seconds: number;
  rows: number;
  peakRssMb: number;
  inputRssMb: number;
}

async function truncate(place: Place): Promise<void> {
  if (place.target === 'postgres') {
    const c = new pg.Client(pgConfig(place, 1));
    await c.connect();
    await c.query('TRUNCATE videos, clips, processing_jobs, video_stages');
    await c.end();
  } else if (place.target === 'mysql') {
    const conn = await mysqlConnection(place);
    for (const q of [
      'SET FOREIGN_KEY_CHECKS = 0',
      'TRUNCATE TABLE clips',
      'TRUNCATE TABLE processing_jobs',
      'TRUNCATE TABLE video_stages',
      'TRUNCATE TABLE videos',
      'SET FOREIGN_KEY_CHECKS = 1',
    ]) {
      await mysqlCall(conn, 'query', q, []);
    }
    await new Promise<void>((r) => conn.end(() => r()));
  } else {
    const raw = new BetterSqlite3(place.file!);
    raw.pragma('busy_timeout = 5000');
    raw.exec('DELETE FROM clips; DELETE FROM processing_jobs; DELETE FROM video_stages; DELETE FROM videos;');
    raw.close();
  }
}

function runChild(spec: ChildSpec): Promise<ChildResult> {
  return runJsonChild<ChildResult>(
    fileURLToPath(import.meta.url),
    ['--db-child', JSON.stringify(spec)],
    `batch-insert child (${spec.target} ${spec.mode})`,
  );
}

async function batchInsert(place: Place, quick: boolean): Promise<BenchResult[]> {
  const t = place.target;
  const rows = quick ? 20_000 : 100_000;
  const db = await openDb(place);
  await setupStore(db);
  await db.close();
  const subject: ChildResult[] = [];
  const baseline: ChildResult[] = [];
  const base = {
    target: t,
    rows,
    url: place.url,
    ...(place.schema ? { schema: place.schema } : {}),
    ...(place.file ? { file: place.file } : {}),
  };
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which goes first, like compareLoad.
    const order: Array<'subject' | 'baseline'> =
      round % 2 === 0 ? ['baseline', 'subject'] : ['subject', 'baseline'];
    for (const mode of order) {
      await truncate(place);
      const r = await runChild({ ...base, mode, tag: `r${round}${mode[0]}` });
      (mode === 'subject' ? subject : baseline).push(r);
      log(
        `  batch-insert ${t} ${mode} round ${round + 1}/${ROUNDS}: ${(r.rows / r.seconds).toFixed(0)} rows/s, peak RSS ${r.peakRssMb} MB`,
      );
    }
  }
  await truncate(place);
  const rate = (xs: ChildResult[]) => median(xs.map((x) => x.rows / x.seconds));
  const peak = (xs: ChildResult[]) => median(xs.map((x) => x.peakRssMb));
  const subjectPeak = peak(subject);
  const baselinePeak = peak(baseline);
  return [
    result({
      case: 'batch-insert',
      target: t,
      subject: 'store.batchInsertVideos',
      baseline:
        t === 'postgres'
          ? 'pg COPY FROM STDIN (pg-copy-streams)'
          : t === 'mysql'
            ? 'mysql2 multi-row INSERT loop'
            : 'better-sqlite3 multi-row INSERT loop',
      unit: 'rows/s',
      value: rate(subject),
      baselineValue: rate(baseline),
      peakRssMb: subjectPeak,
      params: { rows, rounds: ROUNDS, columns: VIDEO_COLS.length, process: 'fresh child per run' },
      extra: {
        baselinePeakRssMb: baselinePeak,
        peakRssRatio: Math.round((subjectPeak / baselinePeak) * 1000) / 1000,
        inputRssMb: median(subject.map((x) => x.inputRssMb)),
      },
    }),
  ];
}

/** Runs in a fresh process: builds the same input either way, then inserts it and reports. */
async function childMain(spec: ChildSpec): Promise<void> {
  const input = Array.from({ length: spec.rows }, (_, i) => sampleVideo(spec.tag, i));
  const inputRssMb = Math.round(process.memoryUsage().rss / 1024 / 1024);
  let seconds: number;
  if (spec.mode === 'subject') {
    const db = await createDatabase<StoreSchema>({
      url: spec.url,
      max: 2,
      ...(spec.schema ? { schema: spec.schema } : {}),
    });
    const store = new VideoStore(db);
    const t0 = performance.now();
    const ids = await store.batchInsertVideos(input);
    seconds = (performance.now() - t0) / 1000;
    if (ids.length !== spec.rows) throw new Error('wrong id count');
    await db.close();
  } else {
    seconds = await rawBatchInsert(spec, input);
  }
  const peakRssMb = Math.round((process.resourceUsage().maxRSS / 1024) * 10) / 10;
  process.stdout.write(
    `${JSON.stringify({ seconds, rows: spec.rows, peakRssMb, inputRssMb } satisfies ChildResult)}\n`,
  );
}

/** An input URL taken as canonical: the raw baselines skip the store's URL normalisation. */
function canonicalUrl(url: string): NormalizedVideoUrl {
  return { url, source: 'url', sourceVideoId: null };
}

/** The row a raw application would write for one input video (the input URLs are already canonical). */
function rawRow(rows: RowBuilder, v: NewVideo, now: StoredTime): unknown[] {
  return rows.video(uuidv7(), v, canonicalUrl(v.url), now);
}

function copyText(value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  const s = value instanceof Date ? value.toISOString() : String(value);
  return /[\\\n\r\t]/.test(s)
    ? s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t')
    : s;
}

async function rawBatchInsert(spec: ChildSpec, input: NewVideo[]): Promise<number> {
  const rows = new RowBuilder(spec.target);
  if (spec.target === 'postgres') {
    const client = new pg.Client({ connectionString: spec.url, options: `-c search_path=${spec.schema}` });
    await client.connect();
    const t0 = performance.now();
    const now = new Date();
    const stream = client.query(copyFrom(`COPY videos (${VIDEO_COLS.join(', ')}) FROM STDIN`));
    const done = finished(stream);
    done.catch(() => {});
    for (let i = 0; i < input.length; i += 5000) {
      let text = '';
      for (const v of input.slice(i, i + 5000)) text += `${rawRow(rows, v, now).map(copyText).join('\t')}\n`;
      if (!stream.write(text)) await Promise.race([once(stream, 'drain'), done]);
    }
    stream.end();
    await done;
    const seconds = (performance.now() - t0) / 1000;
    await client.end();
    return seconds;
  }
  if (spec.target === 'mysql') {
    const conn = mysql.createConnection({ uri: spec.url, timezone: 'Z' });
    await new Promise<void>((resolve, reject) => conn.connect((e) => (e ? reject(e) : resolve())));
    const t0 = performance.now();
    const now = new Date();
    // The store's chunk size: 2,000 rows per statement was slower and peaked higher for both.
    const chunk = 500;
    const tuple = `(${VIDEO_COLS.map(() => '?').join(', ')})`;
    await mysqlCall(conn, 'query', 'START TRANSACTION', []);
    for (let i = 0; i < input.length; i += chunk) {
      const part = input.slice(i, i + chunk);
      const values = part.flatMap((v) => rawRow(rows, v, now));
      const sql = `INSERT INTO videos (${VIDEO_COLS.join(', ')}) VALUES ${Array(part.length).fill(tuple).join(', ')}`;
      await mysqlCall(conn, 'execute', sql, values);
    }
    await mysqlCall(conn, 'query', 'COMMIT', []);
    const seconds = (performance.now() - t0) / 1000;
    await new Promise<void>((r) => conn.end(() => r()));
    return seconds;
  }
  const raw = new BetterSqlite3(spec.file!);
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = NORMAL');
  raw.pragma('busy_timeout = 5000');
  const t0 = performance.now();
  const now = Date.now();
  const chunk = 500;
  const tuple = `(${VIDEO_COLS.map(() => '?').join(', ')})`;
  const full = raw.prepare(
    `INSERT INTO videos (${VIDEO_COLS.join(', ')}) VALUES ${Array(chunk).fill(tuple).join(', ')}`,
  );
  raw.exec('BEGIN');
  for (let i = 0; i < input.length; i += chunk) {
    const part = input.slice(i, i + chunk);
    const values = part.flatMap((v) => rawRow(rows, v, now));
    const stmt =
      part.length === chunk
        ? full
        : raw.prepare(
            `INSERT INTO videos (${VIDEO_COLS.join(', ')}) VALUES ${Array(part.length).fill(tuple).join(', ')}`,
          );
    stmt.run(values);
  }
  raw.exec('COMMIT');
  const seconds = (performance.now() - t0) / 1000;
  raw.close();
  return seconds;
}

// ---- suite -------------------------------------------------------------------------------------------

export async function run(options: SuiteOptions): Promise<BenchResult[]> {
  const flag = options.args.find((a) => a.startsWith('--targets='));
  const targets: Target[] = flag
    ? (flag.slice('--targets='.length).split(',') as Target[])
    : ['postgres', 'mysql', 'sqlite'];
  const casesFlag = options.args.find((a) => a.startsWith('--cases='));
  const cases = new Set(
    casesFlag
      ? casesFlag.slice('--cases='.length).split(',')
      : ['point-select', 'transaction', 'batch-insert'],
  );
  const results: BenchResult[] = [];
  for (const target of targets) {
    const place = await openPlace(target);
    try {
      // The point-select probe picks mysql2's faster protocol for the other MySQL cases; without it they
      // use the binary protocol (\`execute\`).
      let mysqlKind: MysqlKind = 'execute';
      if (cases.has('point-select')) {
        log(`db ${target}: point-select`);
        const point = await pointSelect(place, options.quick);
        results.push(...point.results);
        mysqlKind = point.mysqlKind;
      }
      if (cases.has('transaction')) {
        log(`db ${target}: transaction`);
        results.push(...(await transaction(place, options.quick, mysqlKind)));
      }
      if (cases.has('batch-insert')) {
        log(`db ${target}: batch-insert`);
        results.push(...(await batchInsert(place, options.quick)));
      }
    } finally {
      await place.dispose();
    }
  }
  return results;
}

const childIndex = process.argv.indexOf('--db-child');
if (childIndex !== -1) {
  await childMain(JSON.parse(process.argv[childIndex + 1]!) as ChildSpec);
  process.exit(0);
}
