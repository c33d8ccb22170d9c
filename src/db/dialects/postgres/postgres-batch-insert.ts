import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { checkRowWidth, chunkRows, quoteIdent, toJsonText } from '../../dialect-driver.js';
import type { BatchInsertSpec, ColumnType } from '../../types.js';

/** What the batch insert needs of a PostgreSQL connection (PostgresConnection provides it). */
export interface PostgresBatchConnection {
  readonly client: pg.Client;
  /** Sends a deferred BEGIN, so statements sent to `client` directly run inside the transaction. */
  beginNow(): Promise<void>;
}

/** Below this many rows UNNEST (one statement) wins; above it COPY's streaming is faster. */
const COPY_THRESHOLD = 2000;
const CHUNK = 5000;

const ARRAY_TYPE: Record<ColumnType, string> = {
  text: 'text[]',
  uuid: 'uuid[]',
  integer: 'int4[]',
  bigint: 'int8[]',
  double: 'float8[]',
  boolean: 'bool[]',
  timestamp: 'timestamptz[]',
  json: 'jsonb[]',
};

/**
 * PostgreSQL batch insert: a single `INSERT … SELECT FROM unnest($1::t[], …)` per chunk for small
 * batches or when conflicts are ignored, and COPY FROM STDIN (text format) for large ones.
 */
export async function postgresBatchInsert(
  conn: PostgresBatchConnection,
  spec: BatchInsertSpec,
): Promise<number> {
  const cols = spec.columns;
  const table = spec.table
    .split('.')
    .map((p) => quoteIdent(p, '"'))
    .join('.');
  const colList = cols.map((c) => quoteIdent(c.name, '"')).join(', ');
  // The statements below go to `conn.client` directly, so the transaction's BEGIN must be out first.
  await conn.beginNow();
  let total = 0;
  let copyStream: ReturnType<typeof copyFrom> | undefined;
  let copyDone: Promise<void> | undefined;
  try {
    for await (const chunk of chunkRows(spec.rows, CHUNK)) {
      spec.signal?.throwIfAborted();
      for (const row of chunk) checkRowWidth(row, cols.length, spec.table);
      const useCopy =
        spec.onConflict !== 'ignore' && (copyStream !== undefined || chunk.length >= COPY_THRESHOLD);
      if (!useCopy) {
        const arrays = cols.map((c, j) => chunk.map((row) => toArrayElement(row[j], c.type)));
        const casts = cols.map((c, j) => `$${j + 1}::${ARRAY_TYPE[c.type]}`).join(', ');
        const conflict = spec.onConflict === 'ignore' ? ' ON CONFLICT DO NOTHING' : '';
        const res = await conn.client.query(
          `INSERT INTO ${table} (${colList}) SELECT * FROM unnest(${casts})${conflict}`,
          arrays,
        );
        total += res.rowCount ?? 0;
        continue;
      }
      if (!copyStream) {
        copyStream = conn.client.query(copyFrom(`COPY ${table} (${colList}) FROM STDIN`));
        copyDone = finished(copyStream);
        // Surface the error through copyDone only; an unhandled 'error' event would crash the process.
        copyDone.catch(() => {});
      }
      const text = copyText(chunk, cols);
      total += chunk.length;
      // Wait for the socket to drain so memory holds one chunk, not the whole batch.
      if (!copyStream.write(text)) await Promise.race([once(copyStream, 'drain'), copyDone]);
    }
  } catch (error) {
    // The rows (or a check) failed while a COPY was open: the connection stays in COPY mode, and every
    // later statement (the ROLLBACK too) would wait behind it forever, until CopyFail ends it.
    if (copyStream && copyDone && !copyStream.writableFinished) {
      copyStream.destroy(error instanceof Error ? error : new Error(String(error)));
      await copyDone.catch(() => {});
    }
    throw error;
  }
  if (copyStream && copyDone) {
    copyStream.end();
    await copyDone;
  }
  return total;
}

function toArrayElement(value: unknown, type: ColumnType): unknown {
  if (value === undefined || value === null) return null;
  if (type === 'json') return toJsonText(value);
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/**
 * The chunk as COPY text. Strings, numbers and dates (nearly every value) take a branch of their own, and
 * a row's repeated timestamp (created_at = updated_at) is formatted once: this loop is the client's
 * share of a COPY, which the raw baseline spends nothing else on.
 */
function copyText(chunk: ReadonlyArray<readonly unknown[]>, cols: BatchInsertSpec['columns']): string {
  const json = cols.map((c) => c.type === 'json');
  let text = '';
  let lastDate: Date | undefined;
  let lastIso = '';
  for (const row of chunk) {
    for (let j = 0; j < row.length; j++) {
      if (j > 0) text += '\t';
      const value = row[j];
      if (typeof value === 'string' && !json[j]) text += escapeCopy(value);
      else if (typeof value === 'number') text += String(value);
      else if (value instanceof Date) {
        if (value !== lastDate) {
          lastDate = value;
          lastIso = value.toISOString();
        }
        text += lastIso;
      } else text += copyValue(value, cols[j]!.type);
    }
    text += '\n';
  }
  return text;
}

function copyValue(value: unknown, type: ColumnType): string {
  if (value === null || value === undefined) return '\\N';
  let text: string;
  if (type === 'json') text = toJsonText(value)!;
  else if (value instanceof Date) text = value.toISOString();
  else if (typeof value === 'boolean') text = value ? 't' : 'f';
  else text = String(value);
  return escapeCopy(text);
}

const NEEDS_ESCAPE = /[\\\n\r\t]/;

function escapeCopy(text: string): string {
  if (!NEEDS_ESCAPE.test(text)) return text;
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t');
}
