import { createDatabase, type Database } from '../../db/index.js';
import { type StoreSchema, setupStore, VideoStore } from '../../store/index.js';
import type { CliConfig } from '../cli-config.js';

export interface OpenStore {
  db: Database<StoreSchema>;
  store: VideoStore;
  close(): Promise<void>;
}

/** Opens the configured database, applies migrations (idempotent, locked) and returns the store. */
export async function openStore(config: CliConfig, options: { migrate?: boolean } = {}): Promise<OpenStore> {
  const db = await createDatabase<StoreSchema>({ url: config.databaseUrl });
  try {
    if (options.migrate !== false) await setupStore(db);
    const store = new VideoStore(db);
    return { db, store, close: () => db.close() };
  } catch (error) {
    await db.close();
    throw error;
  }
}
