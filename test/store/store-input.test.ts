import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { OpusError } from '../../src/core/index.js';
import { JOB_COLUMNS } from '../../src/store/columns.js';
import {
  type ProcessingJob,
  STORE_LIMITS,
  type StoreSchema,
  type VideoStore,
} from '../../src/store/index.js';
import { rowMappers } from '../../src/store/row-mappers.js';
import { testTargets } from '../support/databases.js';
import { openStore, type StoreFixture } from './helpers.js';

/**
 * Bad input, the same on three dialects. Every case is written through each store method that takes
 * the field, on PostgreSQL, MariaDB and SQLite: either it is refused (ERR_STORE_INVALID_INPUT, or
 * ERR_STORE_INVALID_URL for a URL, with `details.field` naming the field) and no table's row count
 * moves, or it reads back deep-equal to what was written (JSON as JSON.parse(JSON.stringify(value)),
 * -0 as 0). The expectations are the same for the three, so passing here means the dialects agree.
 */

type Expect = { field: string; code?: string } | undefined;

interface Case {
  label: string;
  /** Fields given to the method (merged over its required base). */
  input: Record<string, unknown>;
  /** Refused, naming this field; absent when the input must be stored. */
  refused?: Expect;
  /** Expected read-back for fields that are stored changed by design (a trimmed URL). */
  expect?: Record<string, unknown>;
}

const L = STORE_LIMITS;

/** What a field reads back as when stored: JSON round trip for JSON values, -0 as 0 for numbers. */
function storedForm(key: string, value: unknown): unknown {
  if (key === 'effects' || key === 'result') {
    return value === undefined ? null : JSON.parse(JSON.stringify(value));
  }
  if (Object.is(value, -0)) return 0;
  return value;
}

/** Strings every dialect must keep exactly (within a field's length limit). */
const GOOD_STRINGS: Array<[string, string]> = [
  ['empty', ''],
  ['one space', ' '],
  ['trailing spaces', 'ab   '],
  ['leading spaces', '   ab'],
  ['tab and newlines', 'a\tb\r\nc\n'],
  ['astral (4-byte UTF-8)', 'a😀b 𝄞 👩‍👩‍👧'],
  ['C0/C1 controls and DEL', '\x01\x1f\x7f\u0080\u0085\u009f'],
  ['separators, BOM, noncharacters', '\u2028\u2029\uFEFF\uFFFE\uFFFF'],
  ['combining vs precomposed', 'e\u0301 é'],
  ['case and width variants', 'ǅ Σσς ß İı Ａ'],
  ['escaped NUL and surrogate as text', '\\0 \\u0000 \\ud800'],
  ['SQL and LIKE metacharacters', "'); DROP TABLE videos;-- %_ \\"],
  ['surrogate pair at the end', `x${'😀'}`],
];

/** Strings no dialect may be given. */
const BAD_STRINGS: Array<[string, string]> = [
  ['NUL', 'a\0b'],
  ['only NUL', '\0'],
  ['lone high surrogate', 'a\uD800b'],
  ['lone low surrogate', '\uDC00'],
  ['high surrogate at the end', 'ab\uDBFF'],
  ['reversed pair', '\uDE00\uD83D'],
];

/** Text cases for a field with a length limit (in UTF-16 code units). */
function textCases(field: string, max: number, options: { nonEmpty?: boolean } = {}): Case[] {
  const cases: Case[] = GOOD_STRINGS.map(([label, value]) => ({
    label: `${field}: ${label}`,
    input: { [field]: value },
    ...(options.nonEmpty && value === '' ? { refused: { field } } : {}),
  }));
  cases.push(
    { label: `${field}: at the limit`, input: { [field]: 'x'.repeat(max - 1) + 'y' } },
    { label: `${field}: astral at the limit`, input: { [field]: '😀'.repeat(Math.floor(max / 2)) } },
    // Three UTF-8 bytes per code unit: the most bytes a limit allows (MariaDB's TEXT holds 65,535).
    { label: `${field}: 3-byte characters at the limit`, input: { [field]: '€'.repeat(max) } },
    { label: `${field}: one over`, input: { [field]: 'x'.repeat(max + 1) }, refused: { field } },
    { label: `${field}: a number`, input: { [field]: 42 }, refused: { field } },
  );
  for (const [label, value] of BAD_STRINGS) {
    cases.push({ label: `${field}: ${label}`, input: { [field]: value }, refused: { field } });
  }
  return cases;
}

function deep(levels: number): unknown {
  let v: unknown = 'leaf';
  for (let i = 0; i < levels; i++) v = i % 2 === 0 ? [v] : { k: v };
  return v;
}

/** JSON values for a JSON field. */
function jsonCases(field: string): Case[] {
  const good: Array<[string, unknown]> = [
    ['top-level string', 'hello'],
    ['top-level string that is JSON text', '{"a":1}'],
    ['string of digits', '9007199254740993'],
    ['empty string', ''],
    ['zero', 0],
    ['negative zero', -0],
    ['false', false],
    ['empty array', []],
    ['empty object', {}],
    ['numbers at the edges', [1e21, 5e-324, Number.MAX_VALUE, -Number.MAX_VALUE, 2 ** 53 + 2, 0.1 + 0.2]],
    ['integer numeral past 2^53', 1.2345678901234567e19],
    ['JSON semantics: undefined, NaN, Date', { u: undefined, n: Number.NaN, i: -Infinity, d: new Date(0) }],
    [
      '__proto__ and constructor keys',
      JSON.parse('{"__proto__":{"polluted":1},"constructor":{"prototype":{"p":1}}}'),
    ],
    ['key order', { b: 1, a: 2, aa: 3, '10': 4, '9': 5 }],
    ['empty and odd keys', { '': 1, ' ': 2, 'a.b': 3, $x: 4, '😀': 5 }],
    ['strings with every escape', { s: '"\\/\b\f\n\r\t\x01\x1f\u2028\u2029\uFEFF\uFFFF' }],
    ['escaped NUL and surrogate as text', { s: '\\u0000 \\ud800 \\\\u0000' }],
    ['astral in keys and values', { '𝄞': ['😀', { '👩‍👩‍👧': 'é' }] }],
    ['31 levels deep', deep(L.jsonDepth)],
    ['at the byte limit', { s: 'x'.repeat(L.jsonBytes - 8) }],
    ['multi-byte near the byte limit', { s: '€'.repeat(Math.floor((L.jsonBytes - 8) / 3)) }],
  ];
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  const bad: Array<[string, unknown]> = [
    ['NUL in a value', { s: 'a\0b' }],
    ['NUL in a key', { 'k\0': 1 }],
    ['NUL after an escaped backslash', ['\\\0']],
    ['lone surrogate in a value', { s: 'x\uD800' }],
    ['lone surrogate in a key', { 'k\uDC00': 1 }],
    ['lone surrogate at top level', '\uDBFF'],
    ['32 levels deep', deep(L.jsonDepth + 1)],
    ['2,000 levels deep', deep(2000)],
    ['one byte over the limit', { s: 'x'.repeat(L.jsonBytes - 7) }],
    ['multi-byte over the limit', { s: '€'.repeat(Math.ceil(L.jsonBytes / 3)) }],
    ['BigInt', { n: 1n }],
    ['cycle', circular],
    ['function', () => 1],
  ];
  return [
    ...good.map(([label, value]) => ({ label: `${field}: ${label}`, input: { [field]: value } })),
    ...bad.map(([label, value]) => ({
      label: `${field}: ${label}`,
      input: { [field]: value },
      refused: { field },
    })),
  ];
}

function dateCases(field: string): Case[] {
  return [
    { label: `${field}: earliest`, input: { [field]: new Date(L.minDate) } },
    { label: `${field}: latest`, input: { [field]: new Date(L.maxDate) } },
    { label: `${field}: around the epoch`, input: { [field]: new Date(-1) } },
    { label: `${field}: milliseconds`, input: { [field]: new Date(Date.UTC(2024, 1, 29, 23, 59, 59, 999)) } },
    {
      label: `${field}: 1 ms before the earliest`,
      input: { [field]: new Date(L.minDate - 1) },
      refused: { field },
    },
    {
      label: `${field}: 1 ms after the latest`,
      input: { [field]: new Date(L.maxDate + 1) },
      refused: { field },
    },
    { label: `${field}: year 1`, input: { [field]: new Date('0001-01-01T00:00:00Z') }, refused: { field } },
    {
      label: `${field}: year -1`,
      input: { [field]: new Date('-000001-01-01T00:00:00Z') },
      refused: { field },
    },
    { label: `${field}: year 275760`, input: { [field]: new Date(8.64e15) }, refused: { field } },
    { label: `${field}: Invalid Date`, input: { [field]: new Date(Number.NaN) }, refused: { field } },
    { label: `${field}: a string`, input: { [field]: '2024-01-01T00:00:00Z' }, refused: { field } },
  ];
}

function doubleCases(field: string, options: { min0?: boolean } = {}): Case[] {
  const cases: Case[] = [
    { label: `${field}: zero`, input: { [field]: 0 } },
    { label: `${field}: negative zero`, input: { [field]: -0 } },
    { label: `${field}: smallest subnormal`, input: { [field]: Number.MIN_VALUE } },
    { label: `${field}: largest double`, input: { [field]: Number.MAX_VALUE } },
    { label: `${field}: 0.1 + 0.2`, input: { [field]: 0.1 + 0.2 } },
    { label: `${field}: 1/3`, input: { [field]: 1 / 3 } },
    { label: `${field}: 2^60 + 0.5`, input: { [field]: 2 ** 60 + 0.5 } },
    { label: `${field}: NaN`, input: { [field]: Number.NaN }, refused: { field } },
    { label: `${field}: Infinity`, input: { [field]: Number.POSITIVE_INFINITY }, refused: { field } },
    { label: `${field}: -Infinity`, input: { [field]: Number.NEGATIVE_INFINITY }, refused: { field } },
    { label: `${field}: a numeric string`, input: { [field]: '1' }, refused: { field } },
    { label: `${field}: a BigInt`, input: { [field]: 1n }, refused: { field } },
  ];
  if (options.min0)
    cases.push({ label: `${field}: negative`, input: { [field]: -1e-300 }, refused: { field } });
  else cases.push({ label: `${field}: most negative`, input: { [field]: -Number.MAX_VALUE } });
  return cases;
}

function countCases(field: string): Case[] {
  return [
    { label: `${field}: zero`, input: { [field]: 0 } },
    { label: `${field}: negative zero`, input: { [field]: -0 } },
    { label: `${field}: 2^53 - 1`, input: { [field]: Number.MAX_SAFE_INTEGER } },
    { label: `${field}: 2^53`, input: { [field]: 2 ** 53 }, refused: { field } },
    { label: `${field}: 2^63`, input: { [field]: 2 ** 63 }, refused: { field } },
    { label: `${field}: -1`, input: { [field]: -1 }, refused: { field } },
    { label: `${field}: 1.5`, input: { [field]: 1.5 }, refused: { field } },
    { label: `${field}: NaN`, input: { [field]: Number.NaN }, refused: { field } },
    { label: `${field}: Infinity`, input: { [field]: Number.POSITIVE_INFINITY }, refused: { field } },
    { label: `${field}: a BigInt`, input: { [field]: 10n }, refused: { field } },
  ];
}

const VIDEO_CASES: Case[] = [
  ...textCases('title', L.title),
  ...textCases('description', L.description),
  ...textCases('channelId', L.channelId),
  ...textCases('channelTitle', L.channelTitle),
  ...textCases('thumbnailPath', L.path),
  ...dateCases('publishedAt'),
  ...doubleCases('duration', { min0: true }),
  ...countCases('viewCount'),
  ...countCases('likeCount'),
];

const CLIP_CASES: Case[] = [
  ...textCases('title', L.title),
  ...textCases('caption', L.caption),
  ...textCases('filePath', L.path),
  ...textCases('thumbnailPath', L.path),
  ...textCases('narrationPath', L.path),
  ...doubleCases('score'),
  ...jsonCases('effects'),
  { label: 'times: subnormal clip', input: { startTime: 0, endTime: Number.MIN_VALUE } },
  { label: 'times: -0 start', input: { startTime: -0, endTime: 1 } },
  { label: 'times: adjacent doubles', input: { startTime: 1, endTime: 1 + Number.EPSILON } },
  { label: 'times: huge', input: { startTime: 1e300, endTime: Number.MAX_VALUE } },
  { label: 'times: equal', input: { startTime: 2, endTime: 2 }, refused: { field: 'endTime' } },
  {
    label: 'times: NaN start',
    input: { startTime: Number.NaN, endTime: 1 },
    refused: { field: 'startTime' },
  },
  {
    label: 'times: infinite end',
    input: { startTime: 0, endTime: Number.POSITIVE_INFINITY },
    refused: { field: 'endTime' },
  },
  {
    label: 'times: negative start',
    input: { startTime: -1e-9, endTime: 1 },
    refused: { field: 'startTime' },
  },
];

/**
 * URL cases are templates: `{host}` is a host unique to the write, `{yt}` a YouTube id unique to it,
 * `{pad:N}` pads the path so the normalised URL has N characters.
 */
const URL_CASES: Case[] = [
  {
    label: 'url: surrounding whitespace is trimmed',
    input: { url: '  https://www.youtube.com/watch?v={yt} \n' },
    expect: { url: 'https://www.youtube.com/watch?v={yt}' },
  },
  { label: 'url: astral and spaces in the path', input: { url: 'https://{host}/😀 a/é?q=ü&r=𝄞#frag' } },
  {
    label: 'url: raw length at the limit',
    input: { url: `https://youtu.be/{yt}?x=${'p'.repeat(L.url - 31)}` },
  },
  {
    label: 'url: raw length one over',
    input: { url: `https://youtu.be/{yt}?x=${'p'.repeat(L.url - 30)}` },
    refused: { field: 'url' },
  },
  { label: 'url: normalised at 2,048', input: { url: 'https://{host}/{pad:2048}' } },
  {
    label: 'url: normalised at 2,049',
    input: { url: 'https://{host}/{pad:2049}' },
    refused: { field: 'url', code: 'ERR_STORE_INVALID_URL' },
  },
  { label: 'url: NUL', input: { url: 'https://{host}/a\0b' }, refused: { field: 'url' } },
  { label: 'url: lone surrogate', input: { url: 'https://{host}/a\uD800b' }, refused: { field: 'url' } },
  { label: 'url: not a string', input: { url: 42 }, refused: { field: 'url' } },
  {
    label: 'url: javascript scheme',
    input: { url: 'javascript:alert(1)' },
    refused: { field: 'url', code: 'ERR_STORE_INVALID_URL' },
  },
];

const JOB_CASES: Case[] = [
  ...textCases('jobType', L.jobType, { nonEmpty: true }),
  { label: 'priority: int32 max', input: { priority: L.priority } },
  { label: 'priority: int32 min + 1', input: { priority: -L.priority } },
  { label: 'priority: -0', input: { priority: -0 } },
  { label: 'priority: 2^31', input: { priority: 2 ** 31 }, refused: { field: 'priority' } },
  { label: 'priority: -2^31', input: { priority: -(2 ** 31) }, refused: { field: 'priority' } },
  { label: 'priority: 1.5', input: { priority: 1.5 }, refused: { field: 'priority' } },
  { label: 'priority: NaN', input: { priority: Number.NaN }, refused: { field: 'priority' } },
  ...dateCases('runAfter'),
];

const JOB_UPDATE_CASES: Case[] = [...textCases('error', L.jobError), ...jsonCases('result')];

const STAGE_NAME_CASES: Case[] = textCases('stage', L.stage, { nonEmpty: true });
const STAGE_RESULT_CASES: Case[] = jsonCases('result');
const REASON_CASES: Case[] = textCases('reason', L.statusReason);
const WORKER_CASES: Case[] = textCases('workerId', L.workerId, { nonEmpty: true });

type Counts = Record<keyof StoreSchema, number>;

/** Row counts of the store's four tables, in one statement. */
async function counts(f: StoreFixture): Promise<Counts> {
  const tables = ['videos', 'clips', 'processing_jobs', 'video_stages'] as const;
  const selects = tables.map((t) => sql`(select count(*) from ${sql.table(t)}) as ${sql.ref(t)}`);
  const { rows } = await sql<Record<string, unknown>>`select ${sql.join(selects)}`.execute(f.db.kysely);
  return Object.fromEntries(tables.map((t) => [t, Number(rows[0]?.[t])])) as Counts;
}

/** A job as the store maps it, read straight from the table (the store has no getJob). */
async function readJob(f: StoreFixture, id: string): Promise<ProcessingJob> {
  const mysql = f.db.dialect === 'mysql';
  const row = await f.db.kysely
    .selectFrom('processing_jobs')
    .select(JOB_COLUMNS.filter((c) => c !== 'result'))
    .select(mysql ? sql<string>`cast(result as char)`.as('result') : sql<unknown>`result`.as('result'))
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
  return rowMappers(f.db.dialect).job(row as Record<string, unknown>);
}

/**
 * Runs one case through `write` (which stores `input` and returns a function reading the stored fields
 * back) and checks the outcome against the case.
 */
async function check(
  f: StoreFixture,
  path: string,
  c: Case,
  write: () => Promise<() => Promise<Record<string, unknown>>>,
): Promise<void> {
  const where = `${path} / ${c.label}`;
  const before = await counts(f);
  let read: (() => Promise<Record<string, unknown>>) | undefined;
  let failure: unknown;
  try {
    read = await write();
  } catch (error) {
    failure = error;
  }
  if (c.refused) {
    assert.ok(failure !== undefined, `${where}: stored, expected a refusal naming ${c.refused.field}`);
    assert.ok(failure instanceof OpusError, `${where}: ${String(failure)}`);
    assert.equal(failure.code, c.refused.code ?? 'ERR_STORE_INVALID_INPUT', `${where}: ${failure.message}`);
    assert.equal(failure.details.field, c.refused.field, `${where}: ${failure.message}`);
    assert.deepEqual(await counts(f), before, `${where}: a refused write changed the row counts`);
    return;
  }
  assert.equal(failure, undefined, `${where}: refused: ${(failure as Error | undefined)?.message}`);
  const stored = await read!();
  for (const [key, value] of Object.entries(c.input)) {
    const expected = c.expect && key in c.expect ? c.expect[key] : storedForm(key, value);
    assert.deepStrictEqual(stored[key], expected, `${where}: ${key} read back differently`);
  }
}

let urlCounter = 0;

for (const target of testTargets(['postgres', 'mysql', 'sqlite-memory'])) {
  describe(`store input on ${target.name}: stored alike or refused alike`, () => {
    let f: StoreFixture;
    let s: VideoStore;
    const url = (label: string) => `${f.host(label)}/v${++urlCounter}`;
    /** A URL case with its placeholders filled, afresh for each write (see URL_CASES). */
    const fillUrls = (c: Case): Case => {
      const host = new URL(f.host('u')).host;
      const yt = `y${String(++urlCounter).padStart(10, '0')}`;
      const fill = (raw: unknown): unknown => {
        if (typeof raw !== 'string') return raw;
        let out = raw.replace('{host}', host).replace('{yt}', yt);
        const pad = /\{pad:(\d+)\}/.exec(out);
        if (pad) out = out.replace(pad[0], 'p'.repeat(Number(pad[1]) - `https://${host}/`.length));
        return out;
      };
      return {
        ...c,
        input: { ...c.input, url: fill(c.input.url) },
        ...(c.expect ? { expect: { url: fill(c.expect.url) } } : {}),
      };
    };

    before(async () => {
      f = await openStore(target);
      s = f.store;
    });
    after(async () => {
      await f?.db.close();
      await target.dispose();
    });

    it('videos: createVideo, batchInsertVideos and updateVideo', async () => {
      for (const c of VIDEO_CASES) {
        const readVideo = (id: string) => async () =>
          (await s.getVideoById(id)) as unknown as Record<string, unknown>;
        await check(f, 'createVideo', c, async () => {
          const { id } = await s.createVideo({ url: url('c'), ...c.input } as never);
          return readVideo(id);
        });
        await check(f, 'batchInsertVideos', c, async () => {
          const [id] = await s.batchInsertVideos([{ url: url('b'), ...c.input } as never]);
          return readVideo(id!);
        });
        const id = await s.createVideoRecord({ url: url('u'), title: 'before' });
        const previous = await s.getVideoById(id);
        await check(f, 'updateVideo', c, async () => {
          await s.updateVideo(id, c.input as never);
          return readVideo(id);
        });
        if (c.refused)
          assert.deepEqual(await s.getVideoById(id), previous, `updateVideo / ${c.label}: row changed`);
      }
    });

    it('video URLs: createVideo and batchInsertVideos', async () => {
      assert.equal(`https://youtu.be/${'x'.repeat(11)}?x=`.length, 31);
      for (const c of URL_CASES) {
        for (const path of ['createVideo', 'batchInsertVideos'] as const) {
          const filled = fillUrls(c);
          const readVideo = (id: string) => async () =>
            (await s.getVideoById(id)) as unknown as Record<string, unknown>;
          await check(f, path, filled, async () => {
            if (path === 'createVideo') return readVideo((await s.createVideo(filled.input as never)).id);
            const [id] = await s.batchInsertVideos([filled.input as never]);
            return readVideo(id!);
          });
        }
      }
    });

    it('clips: createClipRecord, replaceClips, batchInsertClips and updateClipAssets', async () => {
      const other = await s.createVideoRecord({ url: url('replace') });
      await s.replaceClips(other, [{ startTime: 0, endTime: 1, title: 'kept' }]);
      for (const c of CLIP_CASES) {
        // A video per case, so reading its clips back never drags along earlier (large) ones.
        const videoId = await s.createVideoRecord({ url: url('clips') });
        const clip = { startTime: 0, endTime: 1, ...c.input };
        const readClip = (id: string) => async () => {
          const clips = await s.getClipsByVideoId(videoId);
          return clips.find((x) => x.id === id) as unknown as Record<string, unknown>;
        };
        await check(f, 'createClipRecord', c, async () =>
          readClip(await s.createClipRecord(videoId, clip as never)),
        );
        const kept = (await s.getClipsByVideoId(other)).map((x) => x.id);
        await check(f, 'replaceClips', c, async () => {
          const [id] = await s.replaceClips(other, [clip as never]);
          return async () => {
            const clips = await s.getClipsByVideoId(other);
            return clips.find((x) => x.id === id) as unknown as Record<string, unknown>;
          };
        });
        if (c.refused) {
          const left = await s.getClipsByVideoId(other);
          assert.deepEqual(
            left.map((x) => x.id),
            kept,
            `replaceClips / ${c.label}: the old clips are gone`,
          );
        }
        await check(f, 'batchInsertClips', c, async () => {
          const [id] = await s.batchInsertClips([{ videoId, ...clip } as never]);
          return readClip(id!);
        });
        const pathFields = ['filePath', 'thumbnailPath', 'narrationPath'];
        if (Object.keys(c.input).every((k) => pathFields.includes(k))) {
          const id = await s.createClipRecord(videoId, { startTime: 0, endTime: 1 });
          await check(f, 'updateClipAssets', c, async () => {
            await s.updateClipAssets(id, c.input as never);
            return readClip(id);
          });
        }
      }
    });

    it('jobs: createProcessingJob and updateJobStatus', async () => {
      const videoId = await s.createVideoRecord({ url: url('jobs') });
      for (const c of JOB_CASES) {
        await check(f, 'createProcessingJob', c, async () => {
          const id = await s.createProcessingJob({ videoId, jobType: 'render', ...c.input } as never);
          return async () => (await readJob(f, id)) as unknown as Record<string, unknown>;
        });
      }
      for (const c of JOB_UPDATE_CASES) {
        const id = await s.createProcessingJob({ videoId, jobType: 'render' });
        await check(f, 'updateJobStatus', c, async () => {
          await s.updateJobStatus(id, 'failed', c.input as never);
          return async () => (await readJob(f, id)) as unknown as Record<string, unknown>;
        });
        if (c.refused) assert.equal((await readJob(f, id)).status, 'pending', `${c.label}: status changed`);
      }
      for (const c of dateCases('runAfter')) {
        const id = await s.createProcessingJob({ videoId, jobType: 'retry' });
        await s.updateJobStatus(id, 'failed');
        await check(f, 'updateJobStatus(pending, runAfter)', c, async () => {
          await s.updateJobStatus(id, 'pending', c.input as never);
          return async () => (await readJob(f, id)) as unknown as Record<string, unknown>;
        });
      }
    });

    it('worker ids: claimJobs', async () => {
      const videoId = await s.createVideoRecord({ url: url('workers') });
      for (const c of WORKER_CASES) {
        // Only this case's job is pending when it claims.
        await s.claimJobs('drain', 10_000);
        const id = await s.createProcessingJob({ videoId, jobType: 'claim' });
        await check(f, 'claimJobs', c, async () => {
          const claimed = await s.claimJobs(c.input.workerId as string, 1);
          assert.deepEqual(
            claimed.map((j) => j.id),
            [id],
          );
          return async () => ({ workerId: (await readJob(f, id)).lockedBy });
        });
      }
    });

    it('stages: recordStage names and results', async () => {
      const videoId = await s.createVideoRecord({ url: url('stages') });
      for (const c of STAGE_NAME_CASES) {
        await check(f, 'recordStage(name)', c, async () => {
          await s.recordStage(videoId, c.input.stage as string, { n: 1 });
          const name = c.input.stage as string;
          return async () => ({ stage: (await s.getStages(videoId)).get(name)?.stage });
        });
      }
      for (const [i, c] of STAGE_RESULT_CASES.entries()) {
        await check(f, 'recordStage(result)', c, async () => {
          await s.recordStage(videoId, `r${i}`, c.input.result);
          return async () => ({ result: (await s.getStages(videoId)).get(`r${i}`)?.result });
        });
      }
    });

    it('status reasons: updateVideoStatus and batchUpdateVideoStatus', async () => {
      for (const c of REASON_CASES) {
        const id = await s.createVideoRecord({ url: url('reason') });
        await check(f, 'updateVideoStatus', c, async () => {
          await s.updateVideoStatus(id, 'failed', c.input as never);
          return async () => ({ reason: (await s.getVideoById(id))?.statusReason });
        });
        if (c.refused)
          assert.equal((await s.getVideoById(id))?.status, 'pending', `${c.label}: status changed`);
        const other = await s.createVideoRecord({ url: url('reason-batch') });
        await check(f, 'batchUpdateVideoStatus', c, async () => {
          await s.batchUpdateVideoStatus([other], 'failed', c.input as never);
          return async () => ({ reason: (await s.getVideoById(other))?.statusReason });
        });
      }
    });

    it('batches of rows at the limits are stored whole (more than a MariaDB packet in all)', async () => {
      const description = '€'.repeat(L.description);
      const base = f.host('big');
      const before = await counts(f);
      const ids = await s.batchInsertVideos(
        Array.from({ length: 60 }, (_, i) => ({ url: `${base}/${i}`, description })),
      );
      assert.equal((await counts(f)).videos, before.videos + 60);
      for (const id of [ids[0]!, ids[59]!])
        assert.equal((await s.getVideoById(id))?.description, description);
      const effects = { s: 'x'.repeat(L.jsonBytes - 16) };
      const clips = Array.from({ length: 5 }, (_, i) => ({ startTime: i, endTime: i + 1, effects }));
      const videoId = await s.createVideoRecord({ url: `${base}/clips` });
      const replaced = await s.replaceClips(videoId, clips);
      const added = await s.batchInsertClips(clips.map((c) => ({ ...c, videoId })));
      const stored = await s.getClipsByVideoId(videoId);
      assert.deepEqual(stored.map((c) => c.id).sort(), [...replaced, ...added].sort());
      for (const c of stored) assert.deepEqual(c.effects, effects);
    });

    it('JSON read back never pollutes prototypes', () => {
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
      assert.equal(({} as Record<string, unknown>).p, undefined);
    });
  });
}
