/**
 * Read replicas (docs/database.md, "Read replicas"): point selects through createDatabase with the
 * streaming replica on 127.0.0.1:5433 (scripts/start-pg-replica.sh) against the same database with the
 * primary only, measured alternately in the same run.
 *
 * Cases:
 * - `replica-reads`: every read to the replica; and spread over the replica and the primary
 *   (`readFromPrimary`). The baseline is the primary alone.
 * - `replica-reads-after-writes`: one write (an UPDATE of the row) for every nine point selects, with
 *   read-your-writes: the database as the one caller, then a session per row. Reports the share of
 *   reads that fell back to the primary because the replica had not replayed the caller's write yet.
 *
 * The primary and the replica share this machine's CPUs, so a replica cannot add capacity here as it
 * would on a server of its own: the figures show what the routing costs and how it spreads the reads.
 */
import pg from 'pg';
import { createDatabase, type Database, type DatabaseConfig } from '../src/db/index.js';
import { TEST_PG_URL, uniqueName } from '../test/support/env.js';
import { ensurePgReplica, replicaCaughtUp, TEST_PG_REPLICA_URL } from '../test/support/pg-replica.js';
import { type BenchResult, compareLoad, log, result } from './lib/harness.js';

interface Schema {
  items: { id: number; n: number; v: string };
}

const POOL_MAX = 20;
const CONCURRENCY = 64;
const ROWS = 20_000;
/** One write per this many operations in the mixed case. */
const WRITE_EVERY = 10;
const SESSIONS = 64;

const POINT = 'SELECT id, n, v FROM items WHERE id = $1';
const UPDATE = 'UPDATE items SET n = n + 1 WHERE id = $1';

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_PG_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Reads by where they ran and read-your-writes fallbacks, from a database's metrics. */
function routed(db: Database<Schema>): { primary: number; replica: number; fallbacks: number } {
  const r = db.metrics().replicas;
  return {
    primary: r?.reads.primary ?? 0,
    replica: r?.reads.replica ?? 0,
    fallbacks: r?.readYourWritesFallbacks ?? 0,
  };
}

export async function replicaCases(options: { quick: boolean }): Promise<BenchResult[]> {
  await ensurePgReplica();
  const seconds = options.quick ? 0.5 : 2;
  const rounds = options.quick ? 3 : 5;
  const schema = uniqueName('bench_replicas').toLowerCase();
  await admin(`CREATE SCHEMA ${schema}`);
  const opened: Database<Schema>[] = [];
  try {
    await admin(
      `CREATE TABLE ${schema}.items (id INT PRIMARY KEY, n INT NOT NULL, v TEXT NOT NULL);
       INSERT INTO ${schema}.items SELECT g, 0, md5(g::text) FROM generate_series(1, ${ROWS}) g;
       ANALYZE ${schema}.items;`,
    );
    await replicaCaughtUp(60_000);
    const open = async (extra: Omit<DatabaseConfig, 'url'>): Promise<Database<Schema>> => {
      const db = await createDatabase<Schema>({ url: TEST_PG_URL, schema, max: POOL_MAX, ...extra });
      opened.push(db);
      return db;
    };
    const primaryOnly = await open({});
    const oneReplica = await open({ replicas: [TEST_PG_REPLICA_URL] });
    const spread = await open({ replicas: [TEST_PG_REPLICA_URL], readFromPrimary: true });
    const idAt = (i: number): number => ((i * 7919) % ROWS) + 1;
    const point = (db: Database<Schema>) => (i: number) =>
      db.executeQuery(POINT, [idAt(i)], { name: 'bench.point' });
    // Sanity: every path finds the row, and the replica databases really read the replica.
    for (const db of [primaryOnly, oneReplica, spread]) {
      const rows = await point(db)(1);
      if (rows.length !== 1) throw new Error('a point select did not find its row');
    }
    if (routed(oneReplica).replica !== 1) throw new Error('the replica database did not read the replica');

    const opts = { concurrency: CONCURRENCY, seconds, rounds };
    const params = { concurrency: CONCURRENCY, poolMax: POOL_MAX, rows: ROWS, seconds, rounds, replicas: 1 };
    const results: BenchResult[] = [];
    const measure = async (
      caseName: string,
      subjectName: string,
      baselineName: string,
      db: Database<Schema>,
      subject: (i: number) => Promise<unknown>,
      baseline: (i: number) => Promise<unknown>,
      extraParams: Record<string, unknown> = {},
    ): Promise<void> => {
      const before = routed(db);
      const { subject: s, baseline: b } = await compareLoad(subjectName, subject, baseline, opts);
      const after = routed(db);
      const reads = after.primary + after.replica - before.primary - before.replica;
      const replicaShare = reads > 0 ? (after.replica - before.replica) / reads : 0;
      const fallbackShare = reads > 0 ? (after.fallbacks - before.fallbacks) / reads : 0;
      log(
        `  ${subjectName}: ${s.opsPerSec.toFixed(0)}/s vs ${b.opsPerSec.toFixed(0)}/s; replica share ${(replicaShare * 100).toFixed(1)} %, read-your-writes fallbacks ${(fallbackShare * 100).toFixed(1)} %`,
      );
      results.push(
        result({
          case: caseName,
          target: 'postgres',
          subject: subjectName,
          baseline: baselineName,
          unit: 'ops/s',
          value: s.opsPerSec,
          baselineValue: b.opsPerSec,
          p99Ms: s.p99Ms,
          baselineP99Ms: b.p99Ms,
          params: { ...params, ...extraParams },
          extra: {
            replicaShare: Math.round(replicaShare * 1000) / 1000,
            readYourWritesFallbackShare: Math.round(fallbackShare * 1000) / 1000,
          },
        }),
      );
    };

    log('  replica-reads: point selects, one replica vs the primary alone');
    await measure(
      'replica-reads',
      'createDatabase, reads to one replica',
      'createDatabase, primary only',
      oneReplica,
      point(oneReplica),
      point(primaryOnly),
    );
    await measure(
      'replica-reads',
      'createDatabase, reads spread over the replica and the primary',
      'createDatabase, primary only',
      spread,
      point(spread),
      point(primaryOnly),
      { readFromPrimary: true },
    );

    // One UPDATE per WRITE_EVERY operations, the reads after it read-your-writes.
    const mixed =
      (run: (i: number, sql: string, params: unknown[]) => Promise<unknown>) =>
      (i: number): Promise<unknown> =>
        i % WRITE_EVERY === 0 ? run(i, UPDATE, [idAt(i)]) : run(i, POINT, [idAt(i)]);
    const onDb = (db: Database<Schema>) => (_i: number, sql: string, p: unknown[]) =>
      db.executeQuery(sql, p, { name: sql === POINT ? 'bench.point' : 'bench.update' });
    const sessions = Array.from({ length: SESSIONS }, () => oneReplica.session());
    const onSession = (i: number, sql: string, p: unknown[]) =>
      sessions[i % SESSIONS]!.executeQuery(sql, p, { name: sql === POINT ? 'bench.point' : 'bench.update' });
    log(`  replica-reads-after-writes: 1 write per ${WRITE_EVERY} operations`);
    await measure(
      'replica-reads-after-writes',
      'one replica, read-your-writes, the database as the caller',
      'createDatabase, primary only, same mix',
      oneReplica,
      mixed(onDb(oneReplica)),
      mixed(onDb(primaryOnly)),
      { writeEvery: WRITE_EVERY, caller: 'database' },
    );
    await measure(
      'replica-reads-after-writes',
      `one replica, read-your-writes, ${SESSIONS} sessions`,
      'createDatabase, primary only, same mix',
      oneReplica,
      mixed(onSession),
      mixed(onDb(primaryOnly)),
      { writeEvery: WRITE_EVERY, caller: `${SESSIONS} sessions` },
    );
    return results;
  } finally {
    for (const db of opened) await db.close();
    await admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  }
}
