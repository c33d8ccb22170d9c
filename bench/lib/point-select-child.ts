/**
 * One long point-select run in a fresh process (see runSteadyChild): the store, or a raw configuration,
 * loaded at a fixed concurrency; prints the operations of each second, p99 and the peak RSS as JSON.
 * Modes: `store`, `pg-pool`, `pg-pipelined:<clients>`, `mysql2-held:<kind>:<connections>`,
 * `mysql2-pool`, `mariadb-pipelined:<connections>`.
 */
import mysql from 'mysql2/promise';
import pg from 'pg';
import { createDatabase } from '../../src/db/index.js';
import { VIDEO_COLUMNS } from '../../src/store/columns.js';
import { type StoreSchema, VideoStore } from '../../src/store/index.js';
import { peakRssMb } from './harness.js';
import {
  mariadbPipelined,
  mysql2Held,
  mysql2Pooled,
  pgPipelinedClients,
  pgPooled,
  type RawConfig,
  type SteadyResult,
  type SteadySpec,
} from './pipelined-baselines.js';

const spec = JSON.parse(process.argv.at(-1)!) as SteadySpec;
const config: pg.ClientConfig = {
  connectionString: spec.url,
  ...(spec.schema ? { options: `-c search_path=${spec.schema}` } : {}),
};
const onMysql = spec.url.startsWith('mysql');
const sql = onMysql
  ? `select ${VIDEO_COLUMNS.map((c) => `\`${c}\``).join(', ')} from \`videos\` where \`id\` = ?`
  : `select ${VIDEO_COLUMNS.map((c) => `"${c}"`).join(', ')} from "videos" where "id" = $1`;

let ids: string[];
if (onMysql) {
  const reader = await mysql.createConnection({ uri: spec.url });
  ids = ((await reader.query('SELECT id FROM videos ORDER BY id'))[0] as Array<{ id: string }>).map(
    (r) => r.id,
  );
  await reader.end();
} else {
  const reader = new pg.Client(config);
  await reader.connect();
  ids = (await reader.query<{ id: string }>('SELECT id FROM videos ORDER BY id')).rows.map((r) => r.id);
  await reader.end();
}
const idAt = (i: number): string => ids[(i * 7919) % ids.length]!;

let op: (i: number) => Promise<unknown>;
let close: () => Promise<void>;
if (spec.mode === 'store') {
  const db = await createDatabase<StoreSchema>({
    url: spec.url,
    max: spec.poolMax,
    ...(spec.schema ? { schema: spec.schema } : {}),
    ...(spec.protocol ? { preparedStatements: spec.protocol === 'execute' } : {}),
  });
  const store = new VideoStore(db);
  op = (i) => store.getVideoById(idAt(i));
  close = () => db.close();
} else {
  const [kind, a, b] = spec.mode.split(':');
  let raw: RawConfig;
  if (kind === 'pg-pool') raw = pgPooled({ ...config, max: spec.poolMax }, sql, idAt);
  else if (kind === 'pg-pipelined') raw = await pgPipelinedClients(config, Number(a), sql, idAt);
  else if (kind === 'mysql2-held')
    raw = await mysql2Held(spec.url, Number(b), a as 'execute' | 'query', sql, idAt);
  else if (kind === 'mysql2-pool') raw = mysql2Pooled(spec.url, spec.poolMax, sql, idAt);
  else if (kind === 'mariadb-pipelined') raw = await mariadbPipelined(spec.url, Number(a), sql, idAt);
  else throw new Error(`unknown mode ${spec.mode}`);
  op = raw.op;
  close = raw.close;
}

// A second of warm-up, then the measured run, counted per second.
const warmUntil = performance.now() + 1000;
let counter = 0;
await Promise.all(
  Array.from({ length: spec.concurrency }, async () => {
    while (performance.now() < warmUntil) await op(counter++);
  }),
);
const perSecond = new Array<number>(spec.seconds).fill(0);
const samples: number[] = [];
let ops = 0;
const start = performance.now();
const end = start + spec.seconds * 1000;
await Promise.all(
  Array.from({ length: spec.concurrency }, async () => {
    for (;;) {
      const t0 = performance.now();
      if (t0 >= end) return;
      await op(counter++);
      const t1 = performance.now();
      const second = Math.floor((t1 - start) / 1000);
      if (second < spec.seconds) perSecond[second]!++;
      ops++;
      if ((ops & 7) === 0) samples.push(t1 - t0);
    }
  }),
);
const elapsed = (performance.now() - start) / 1000;
samples.sort((a, b) => a - b);
await close();
const result: SteadyResult = {
  perSecond,
  opsPerSec: ops / elapsed,
  p99Ms: samples[Math.min(samples.length - 1, Math.floor(0.99 * samples.length))] ?? 0,
  peakRssMb: peakRssMb(),
};
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
