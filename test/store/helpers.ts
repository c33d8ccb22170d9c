import assert from 'node:assert/strict';
import { OpusError } from '../../src/core/index.js';
import type { Database, DatabaseConfig } from '../../src/db/index.js';
import { type StoreSchema, setupStore, VideoStore } from '../../src/store/index.js';
import { FakeClock } from '../../src/testing/index.js';
import type { TestTarget } from '../support/databases.js';

export interface StoreFixture {
  db: Database<StoreSchema>;
  store: VideoStore;
  clock: FakeClock;
  /** A prefix unique to this fixture, for URLs that never collide with another test's. */
  host(label: string): string;
}

let counter = 0;

export async function openStore(
  target: TestTarget,
  options: Omit<DatabaseConfig, 'url' | 'schema'> = {},
): Promise<StoreFixture> {
  const db = await target.open<StoreSchema>({ max: 8, ...options });
  await setupStore(db);
  const clock = new FakeClock(Date.UTC(2026, 10, 28, 12, 0, 0, 123));
  const store = new VideoStore(db, { clock });
  return {
    db,
    store,
    clock,
    host: (label) => `https://${label}-${process.pid}-${++counter}.example.com`,
  };
}

/** Asserts the promise rejects with an OpusError carrying `code`; returns the error. */
export async function rejectsWith(
  promise: Promise<unknown>,
  code: string,
  message?: RegExp,
): Promise<OpusError> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  assert.ok(caught !== undefined, `expected a rejection with ${code}`);
  assert.ok(caught instanceof OpusError, `expected an OpusError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (message) assert.match(caught.message, message);
  return caught;
}

/** Row count of a table, read straight through Kysely (not through the store under test). */
export async function countRows(
  db: Database<StoreSchema>,
  table: keyof StoreSchema,
  where?: { column: string; value: unknown },
): Promise<number> {
  let query = db.kysely.selectFrom(table).select((eb) => eb.fn.countAll().as('n'));
  if (where) query = query.where(where.column as never, '=', where.value as never);
  const row = await query.executeTakeFirstOrThrow();
  return Number(row.n);
}
