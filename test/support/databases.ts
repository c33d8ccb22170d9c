import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { createDatabase, type Database, type DatabaseConfig } from '../../src/db/index.js';
import { TEST_MYSQL_URL, TEST_PG_URL, uniqueName } from './env.js';

export type TargetName = 'postgres' | 'mysql' | 'sqlite-file' | 'sqlite-memory';

export interface TestTarget {
  name: TargetName;
  /** Opens a Database on this target's own schema/database/file (created on first call). */
  open<DB>(options?: Omit<DatabaseConfig, 'url' | 'schema'>): Promise<Database<DB>>;
  /** The URL open() uses (for child processes); for PostgreSQL pair it with `schema`. */
  url(): Promise<string>;
  schema: string | undefined;
  /** Drops what open() created. */
  dispose(): Promise<void>;
}

/** One isolated place per target, so test files running in parallel never see each other's rows. */
export function testTargets(only?: readonly TargetName[]): TestTarget[] {
  const all: TestTarget[] = [postgresTarget(), mysqlTarget(), sqliteFileTarget(), sqliteMemoryTarget()];
  return only ? all.filter((t) => only.includes(t.name)) : all;
}

export function postgresTarget(): TestTarget {
  const schema = uniqueName('t').toLowerCase();
  let created = false;
  const ensure = async (): Promise<void> => {
    if (created) return;
    const client = new pg.Client({ connectionString: TEST_PG_URL });
    await client.connect();
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.end();
    created = true;
  };
  return {
    name: 'postgres',
    schema,
    async url() {
      await ensure();
      return TEST_PG_URL;
    },
    async open<DB>(options: Omit<DatabaseConfig, 'url' | 'schema'> = {}) {
      await ensure();
      return createDatabase<DB>({ ...options, url: TEST_PG_URL, schema });
    },
    async dispose() {
      if (!created) return;
      const client = new pg.Client({ connectionString: TEST_PG_URL });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    },
  };
}

export function mysqlTarget(): TestTarget {
  const database = uniqueName('t').toLowerCase();
  const base = new URL(TEST_MYSQL_URL);
  const url = new URL(TEST_MYSQL_URL);
  url.pathname = `/${database}`;
  let created = false;
  const ensure = async (): Promise<void> => {
    if (created) return;
    const conn = await mysql.createConnection({ uri: base.toString() });
    await conn.query(
      `CREATE DATABASE IF NOT EXISTS \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
    );
    await conn.end();
    created = true;
  };
  return {
    name: 'mysql',
    schema: undefined,
    async url() {
      await ensure();
      return url.toString();
    },
    async open<DB>(options: Omit<DatabaseConfig, 'url' | 'schema'> = {}) {
      await ensure();
      return createDatabase<DB>({ ...options, url: url.toString() });
    },
    async dispose() {
      if (!created) return;
      const conn = await mysql.createConnection({ uri: base.toString() });
      await conn.query(`DROP DATABASE IF EXISTS \`${database}\``);
      await conn.end();
    },
  };
}

function sqliteFileTarget(): TestTarget {
  const file = join(tmpdir(), `${uniqueName('opusclip')}.db`);
  return {
    name: 'sqlite-file',
    schema: undefined,
    async url() {
      return `sqlite:${file}`;
    },
    open<DB>(options: Omit<DatabaseConfig, 'url' | 'schema'> = {}) {
      return createDatabase<DB>({ ...options, url: `sqlite:${file}` });
    },
    async dispose() {
      await Promise.all(['', '-wal', '-shm'].map((s) => rm(file + s, { force: true })));
    },
  };
}

function sqliteMemoryTarget(): TestTarget {
  return {
    name: 'sqlite-memory',
    schema: undefined,
    async url() {
      return 'sqlite::memory:';
    },
    open<DB>(options: Omit<DatabaseConfig, 'url' | 'schema'> = {}) {
      return createDatabase<DB>({ ...options, url: 'sqlite::memory:' });
    },
    async dispose() {},
  };
}
