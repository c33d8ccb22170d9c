/** better-sqlite3 binds numbers, strings, bigints, buffers and null only. */
export function normalizeParams(params: readonly unknown[]): unknown[] {
  let out: unknown[] | undefined;
  for (let i = 0; i < params.length; i++) {
    const v = params[i];
    let mapped: unknown = v;
    if (v === undefined) mapped = null;
    else if (typeof v === 'boolean') mapped = v ? 1 : 0;
    else if (v instanceof Date) mapped = v.toISOString();
    else if (v !== null && typeof v === 'object' && !Buffer.isBuffer(v) && !(v instanceof Uint8Array))
      mapped = JSON.stringify(v);
    if (mapped !== v) {
      out ??= params.slice();
      out[i] = mapped;
    }
  }
  return out ?? (params as unknown[]);
}
