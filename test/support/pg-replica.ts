import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { TEST_PG_URL } from './env.js';

/** The streaming replica of the test PostgreSQL that scripts/start-pg-replica.sh starts. */
export const TEST_PG_REPLICA_URL =
  process.env.TEST_PG_REPLICA_URL ?? 'postgres://postgres@127.0.0.1:5433/test';

let started: Promise<void> | undefined;

/** Starts the replica if it is not running (idempotent; once per process). */
export function ensurePgReplica(): Promise<void> {
  started ??= promisify(execFile)('bash', ['scripts/start-pg-replica.sh'], { timeout: 240_000 }).then(
    () => undefined,
  );
  return started;
}

/** Waits (bounded) until the replica has replayed everything the primary has written so far. */
export async function replicaCaughtUp(timeoutMs = 15_000): Promise<void> {
  const primary = new pg.Client({ connectionString: TEST_PG_URL });
  const replica = new pg.Client({ connectionString: TEST_PG_REPLICA_URL });
  await primary.connect();
  await replica.connect();
  try {
    const { rows } = await primary.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    const target = rows[0]!.lsn;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const r = await replica.query<{ done: boolean }>(
        'SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS done',
        [target],
      );
      if (r.rows[0]!.done) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`the replica did not replay ${target} within ${timeoutMs} ms`);
  } finally {
    await primary.end();
    await replica.end();
  }
}
