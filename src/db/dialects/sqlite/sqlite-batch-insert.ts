import type Sqlite from 'better-sqlite3';
import { chunkRows, flattenRows, quoteIdent } from '../../dialect-driver.js';
import type { BatchInsertSpec } from '../../types.js';
import { normalizeParams } from './sqlite-params.js';

/** What the batch insert needs of a SQLite connection (SqliteConnection provides it). */
export interface SqliteBatchConnection {
  statement(sql: string): Sqlite.Statement;
}

/** SQLite's default variable limit is 32,766 (since 3.32). */
const MAX_VARIABLES = 32_000;
const MAX_ROWS = 500;

/**
 * Multi-row INSERT per chunk on the (already open) transaction. better-sqlite3 is synchronous, so
 * between chunks control goes back to the event loop: a 100,000-row batch never blocks it for more
 * than one chunk (a few milliseconds).
 */
export async function sqliteBatchInsert(conn: SqliteBatchConnection, spec: BatchInsertSpec): Promise<number> {
  const cols = spec.columns;
  const rowsPerChunk = Math.max(1, Math.min(MAX_ROWS, Math.floor(MAX_VARIABLES / cols.length)));
  const table = quoteIdent(spec.table, '"');
  const colList = cols.map((c) => quoteIdent(c.name, '"')).join(', ');
  const tuple = `(${cols.map(() => '?').join(', ')})`;
  const verb = spec.onConflict === 'ignore' ? 'INSERT OR IGNORE' : 'INSERT';
  let total = 0;
  for await (const chunk of chunkRows(spec.rows, rowsPerChunk)) {
    spec.signal?.throwIfAborted();
    const values = flattenRows(chunk, cols.length, spec.table);
    const stmt = conn.statement(
      `${verb} INTO ${table} (${colList}) VALUES ${Array(chunk.length).fill(tuple).join(', ')}`,
    );
    total += stmt.run(normalizeParams(values)).changes;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return total;
}
