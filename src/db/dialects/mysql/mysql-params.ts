/** mysql2 refuses `undefined` and cannot bind bigint or plain objects in `execute`. */
export function normalizeParams(params: readonly unknown[]): unknown[] {
  // The usual case (strings, numbers, null, dates) is passed as it is: no copy per query.
  let plain = true;
  for (let i = 0; i < params.length && plain; i++) {
    const v = params[i];
    const t = typeof v;
    plain = t === 'string' || t === 'number' || v === null || v instanceof Date;
  }
  if (plain) return params as unknown[];
  const out = new Array<unknown>(params.length);
  for (let i = 0; i < params.length; i++) {
    const v = params[i];
    if (v === undefined) out[i] = null;
    else if (typeof v === 'bigint') out[i] = v.toString();
    else if (typeof v === 'boolean') out[i] = v ? 1 : 0;
    else if (v !== null && typeof v === 'object' && !(v instanceof Date) && !Buffer.isBuffer(v))
      out[i] = JSON.stringify(v);
    else out[i] = v;
  }
  return out;
}
