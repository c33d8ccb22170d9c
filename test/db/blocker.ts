import mysql from 'mysql2/promise';
import pg from 'pg';
import { OpusError } from '../../src/core/index.js';
import type { TestTarget } from '../support/databases.js';
import { TEST_PG_URL } from '../support/env.js';

/**
 * A second session, straight on the driver, that holds row locks inside its own transaction: the other
 * side of the deadlocks and lock waits the tests provoke.
 */
export interface Blocker {
  query(sql: string): Promise<void>;
  end(): Promise<void>;
}

export async function openBlocker(target: TestTarget): Promise<Blocker> {
  if (target.name === 'postgres') {
    const client = new pg.Client({
      connectionString: TEST_PG_URL,
      options: `-c search_path=${target.schema}`,
    });
    await client.connect();
    client.on('error', () => {});
    return {
      async query(sql) {
        await client.query(sql);
      },
      async end() {
        await client.end();
      },
    };
  }
  const conn = await mysql.createConnection({ uri: await target.url() });
  conn.on('error', () => {});
  return {
    async query(sql) {
      await conn.query(sql);
    },
    async end() {
      await conn.end();
    },
  };
}

/** Runs one statement on a fresh admin connection (to kill another session). */
export async function adminQuery(target: TestTarget, sql: string, params: unknown[] = []): Promise<void> {
  if (target.name === 'postgres') {
    const client = new pg.Client({ connectionString: TEST_PG_URL });
    await client.connect();
    try {
      await client.query(sql, params);
    } finally {
      await client.end();
    }
    return;
  }
  const conn = await mysql.createConnection({ uri: await target.url() });
  try {
    await conn.query(sql, params);
  } finally {
    await conn.end();
  }
}

/** The code of what a promise rejected with, or 'resolved'. */
export async function outcome(promise: Promise<unknown> | undefined): Promise<string> {
  try {
    await promise;
    return 'resolved';
  } catch (error) {
    return error instanceof OpusError ? error.code : `not an OpusError: ${String(error)}`;
  }
}
