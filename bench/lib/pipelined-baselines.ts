/**
 * What the point-select case measures the store against besides a pool: raw drivers that pipeline
 * (pg's pipeline mode over a few clients), the fastest of several raw configurations measured in the
 * same run, long runs in fresh processes (throughput over time, p99, peak RSS) and pgbench.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mariadb from 'mariadb';
import mysql from 'mysql2';
import pg from 'pg';
import { type LoadStats, log, median, runJsonChild, runLoad } from './harness.js';

/** One raw way of running the point select, ready to be loaded. */
export interface RawConfig {
  name: string;
  /** How point-select-child opens the same configuration in a fresh process. */
  mode: string;
  /** MySQL: the protocol it uses (binary `execute` or text `query`), which the store then uses too. */
  protocol?: 'execute' | 'query';
  op: (i: number) => Promise<unknown>;
  close(): Promise<void>;
}

/**
 * `count` pg clients in pipeline mode (pg ≥ 8.23: each query written at once, with its own Sync), the
 * statement named (prepared once per client), each query sent to the client with the fewest in flight.
 */
export async function pgPipelinedClients(
  config: pg.ClientConfig,
  count: number,
  sql: string,
  param: (i: number) => unknown,
): Promise<RawConfig> {
  const clients = await Promise.all(
    Array.from({ length: count }, async () => {
      const client = new pg.Client({ ...config, pipeline: true });
      await client.connect();
      return client;
    }),
  );
  return {
    name: `pg pipeline mode, ${count} clients, named prepared statement`,
    mode: `pg-pipelined:${count}`,
    op: leastLoaded(clients, (client, i) =>
      client.query({ name: 'bench_point', text: sql, values: [param(i)] }),
    ),
    async close() {
      await Promise.all(clients.map((c) => c.end()));
    },
  };
}

/** Runs each operation on the item with the fewest operations in flight. */
function leastLoaded<T>(
  items: readonly T[],
  run: (item: T, i: number) => Promise<unknown>,
): (i: number) => Promise<unknown> {
  const inFlight = items.map(() => 0);
  return (i) => {
    let best = 0;
    for (let k = 1; k < inFlight.length; k++) if (inFlight[k]! < inFlight[best]!) best = k;
    inFlight[best]!++;
    return run(items[best]!, i).then(
      (res) => {
        inFlight[best]!--;
        return res;
      },
      (error: unknown) => {
        inFlight[best]!--;
        throw error;
      },
    );
  };
}

/** A pg Pool running the statement named (prepared once per pooled client). */
export function pgPooled(config: pg.PoolConfig, sql: string, param: (i: number) => unknown): RawConfig {
  const pool = new pg.Pool(config);
  return {
    name: `pg Pool(${config.max}), named prepared statement`,
    mode: 'pg-pool',
    op: (i) => pool.query({ name: 'bench_point', text: sql, values: [param(i)] }),
    close: () => pool.end(),
  };
}

/** mysql2 connections held open (its callback API, the fastest), queries spread round-robin. */
export async function mysql2Held(
  url: string,
  count: number,
  kind: 'execute' | 'query',
  sql: string,
  param: (i: number) => unknown,
): Promise<RawConfig> {
  const conns = await Promise.all(
    Array.from({ length: count }, async () => {
      const conn = mysql.createConnection({ uri: url, timezone: 'Z', supportBigNumbers: true });
      await new Promise<void>((resolve, reject) => conn.connect((e) => (e ? reject(e) : resolve())));
      return conn;
    }),
  );
  return {
    name: `mysql2 ${kind}, ${count} held connections`,
    mode: `mysql2-held:${kind}:${count}`,
    protocol: kind,
    op: (i) =>
      new Promise((resolve, reject) => {
        const done = (error: unknown, rows: unknown) => (error ? reject(error) : resolve(rows));
        const conn = conns[i % count]!;
        if (kind === 'execute') conn.execute(sql, [param(i)] as mysql.ExecuteValues, done);
        else conn.query(sql, [param(i)], done);
      }),
    async close() {
      await Promise.all(conns.map((c) => new Promise<void>((r) => c.end(() => r()))));
    },
  };
}

/** A mysql2 pool (`execute`, the binary protocol, with its statement cache). */
export function mysql2Pooled(
  url: string,
  max: number,
  sql: string,
  param: (i: number) => unknown,
): RawConfig {
  const pool = mysql.createPool({ uri: url, connectionLimit: max, timezone: 'Z', supportBigNumbers: true });
  return {
    name: `mysql2 pool(${max}), execute`,
    mode: 'mysql2-pool',
    protocol: 'execute',
    op: (i) =>
      new Promise((resolve, reject) =>
        pool.execute(sql, [param(i)] as mysql.ExecuteValues, (e, rows) => (e ? reject(e) : resolve(rows))),
      ),
    close: () => new Promise<void>((resolve) => pool.end(() => resolve())),
  };
}

/**
 * `count` connections of the `mariadb` connector with `pipelining` (each command written at once),
 * `execute` (binary protocol, prepare cache), each query sent to the connection with the fewest in flight.
 */
export async function mariadbPipelined(
  url: string,
  count: number,
  sql: string,
  param: (i: number) => unknown,
): Promise<RawConfig> {
  const u = new URL(url);
  const conns = await Promise.all(
    Array.from({ length: count }, () =>
      mariadb.createConnection({
        host: u.hostname,
        port: Number(u.port || 3306),
        user: decodeURIComponent(u.username),
        password: decodeURIComponent(u.password),
        database: decodeURIComponent(u.pathname.slice(1)),
        pipelining: true,
        timezone: 'Z',
      }),
    ),
  );
  return {
    name: `mariadb connector, pipelining, ${count} connections, execute`,
    mode: `mariadb-pipelined:${count}`,
    protocol: 'execute',
    op: leastLoaded(conns, (conn, i) => conn.execute(sql, [param(i)])),
    async close() {
      await Promise.all(conns.map((c) => c.end()));
    },
  };
}

export interface Measured {
  config: RawConfig;
  stats: LoadStats;
}

/**
 * Loads each configuration in turn, `rounds` times (the order rotating, so none always runs first
 * after another), after a warm-up of each; returns each one's median round, fastest first.
 */
export async function measureEach(
  configs: readonly RawConfig[],
  opts: { concurrency: number; seconds: number; rounds: number },
): Promise<Measured[]> {
  for (const c of configs)
    await runLoad(c.op, { concurrency: opts.concurrency, seconds: Math.min(1, opts.seconds) });
  const rounds: LoadStats[][] = configs.map(() => []);
  for (let r = 0; r < opts.rounds; r++) {
    for (let k = 0; k < configs.length; k++) {
      const j = (k + r) % configs.length;
      rounds[j]!.push(await runLoad(configs[j]!.op, opts));
    }
    log(
      `  raw configurations round ${r + 1}/${opts.rounds}: ${configs
        .map((c, j) => `${c.name} ${rounds[j]!.at(-1)!.opsPerSec.toFixed(0)}/s`)
        .join(', ')}`,
    );
  }
  const out = configs.map((config, j) => {
    const xs = rounds[j]!;
    return {
      config,
      stats: {
        opsPerSec: median(xs.map((x) => x.opsPerSec)),
        ops: median(xs.map((x) => x.ops)),
        p99Ms: median(xs.map((x) => x.p99Ms)),
        p50Ms: median(xs.map((x) => x.p50Ms)),
        cpuUsPerOp: median(xs.map((x) => x.cpuUsPerOp)),
      },
    };
  });
  return out.sort((a, b) => b.stats.opsPerSec - a.stats.opsPerSec);
}

// ---- long runs in fresh processes ---------------------------------------------------------------------

export interface SteadySpec {
  /** `store` (the store through createDatabase) or the name of a raw configuration (see point-select-child). */
  mode: string;
  url: string;
  schema?: string;
  seconds: number;
  concurrency: number;
  poolMax: number;
  /** MySQL: the store's protocol (`preparedStatements`), that of the raw configuration it is compared with. */
  protocol?: 'execute' | 'query';
}

export interface SteadyResult {
  /** Operations completed in each second of the run. */
  perSecond: number[];
  opsPerSec: number;
  p99Ms: number;
  peakRssMb: number;
}

/** Runs one long closed-loop load in a fresh process (so its peak RSS is its own). */
export function runSteadyChild(spec: SteadySpec): Promise<SteadyResult> {
  const child = fileURLToPath(new URL('./point-select-child.ts', import.meta.url));
  return runJsonChild<SteadyResult>(child, [JSON.stringify(spec)], `point-select child (${spec.mode})`);
}

/** Throughput of the last `window` seconds over the first `window` (1 = no decay). */
export function steadiness(perSecond: readonly number[], window = 5): number {
  const w = Math.min(window, Math.floor(perSecond.length / 2));
  if (w === 0) return 1;
  const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
  return sum(perSecond.slice(-w)) / sum(perSecond.slice(0, w));
}

// ---- pgbench ------------------------------------------------------------------------------------------

const PGBENCH = '/usr/lib/postgresql/15/bin/pgbench';

export interface PgbenchRun {
  clients: number;
  tps: number;
}

/**
 * pgbench -M prepared running `sql` with its one parameter `$1` bound to `value` (pgbench variables
 * cannot hold a list of ids, so every query reads the same row; the table is in memory, so which row
 * costs the same). Undefined when pgbench is not installed.
 */
export function pgbench(options: {
  url: string;
  schema?: string | undefined;
  sql: string;
  value: string;
  clients: number;
  seconds: number;
}): PgbenchRun | undefined {
  const probe = spawnSync(PGBENCH, ['--version'], { encoding: 'utf8' });
  if (probe.status !== 0) return undefined;
  const url = new URL(options.url);
  const dir = mkdtempSync(join(tmpdir(), 'pgbench-'));
  try {
    const script = join(dir, 'point.sql');
    writeFileSync(script, `${options.sql.replace('$1', ':vid')};\n`);
    const run = spawnSync(
      PGBENCH,
      [
        '-n',
        '-M',
        'prepared',
        '-f',
        script,
        '-D',
        `vid=${options.value}`,
        '-c',
        String(options.clients),
        '-j',
        '2',
        '-T',
        String(options.seconds),
        '-h',
        url.hostname,
        '-p',
        url.port || '5432',
        '-U',
        decodeURIComponent(url.username) || 'postgres',
        decodeURIComponent(url.pathname.slice(1)),
      ],
      {
        encoding: 'utf8',
        env: {
          ...process.env,
          ...(options.schema ? { PGOPTIONS: `-c search_path=${options.schema}` } : {}),
          ...(url.password ? { PGPASSWORD: decodeURIComponent(url.password) } : {}),
        },
      },
    );
    const tps = /tps = ([\d.]+)/.exec(run.stdout ?? '')?.[1];
    if (run.status !== 0 || tps === undefined) {
      throw new Error(`pgbench failed (${run.status}): ${run.stderr}`);
    }
    return { clients: options.clients, tps: Number(tps) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
