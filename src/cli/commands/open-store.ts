import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Database, parseDatabaseUrl } from '../../db/index.js';
import {
  STORE_MIGRATION_TABLE,
  type StoreSchema,
  setupStore,
  storeMigrations,
  VideoStore,
} from '../../store/index.js';
import type { CliConfig } from '../cli-config.js';
import { connectDatabase } from '../dependency-check.js';
import { CliError, CliErrorCode } from '../errors.js';

export interface OpenStore {
  db: Database<StoreSchema>;
  store: VideoStore;
  close(): Promise<void>;
}

const MIGRATION_TABLE = STORE_MIGRATION_TABLE;

/**
 * Opens the configured database and returns the store. With `migrate` (for the commands that write),
 * pending migrations are applied (idempotent, locked). Without it (the read commands), nothing is
 * created: a SQLite file that does not exist is not opened, and a database whose tables are missing or
 * behind is reported with ERR_CLI_NOT_SET_UP ("run opusclip setup").
 */
export async function openStore(config: CliConfig, options: { migrate?: boolean } = {}): Promise<OpenStore> {
  const parsed = parseDatabaseUrl(config.databaseUrl);
  if (!options.migrate && parsed.dialect === 'sqlite' && parsed.filename !== ':memory:') {
    if (!existsSync(resolve(parsed.filename!))) throw notSetUp(parsed.redacted, 'the file does not exist');
  }
  const db = await connectDatabase<StoreSchema>(config);
  try {
    if (options.migrate) await setupStore(db);
    else await assertSetUp(db);
    const store = new VideoStore(db);
    return { db, store, close: () => db.close() };
  } catch (error) {
    await db.close();
    throw error;
  }
}

function notSetUp(redactedUrl: string, why: string): CliError {
  return new CliError(
    CliErrorCode.NotSetUp,
    `the database ${redactedUrl} is not set up (${why}): run \`opusclip setup\` first`,
    { details: { url: redactedUrl } },
  );
}

/** Every store migration is recorded as applied; reads only (information schema, migration table). */
async function assertSetUp(db: Database<StoreSchema>): Promise<void> {
  const exists =
    db.dialect === 'sqlite'
      ? `SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = '${MIGRATION_TABLE}'`
      : db.dialect === 'mysql'
        ? `SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = '${MIGRATION_TABLE}'`
        : `SELECT CASE WHEN to_regclass('${MIGRATION_TABLE}') IS NULL THEN 0 ELSE 1 END AS n`;
  const found = await db.execute<{ n: number | string | bigint }>({ sql: exists, parameters: [] });
  if (Number(found.rows[0]?.n ?? 0) === 0) throw notSetUp(db.redactedUrl, 'it has no tables');
  const applied = await db.execute<{ name: string }>({
    sql: `SELECT name FROM ${MIGRATION_TABLE}`,
    parameters: [],
  });
  const done = new Set(applied.rows.map((r) => r.name));
  const pending = Object.keys(storeMigrations(db.dialect)).filter((name) => !done.has(name));
  if (pending.length > 0) {
    throw notSetUp(db.redactedUrl, `${pending.length} migration(s) not applied: ${pending.join(', ')}`);
  }
}
