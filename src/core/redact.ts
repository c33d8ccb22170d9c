import { createHash } from 'node:crypto';

/**
 * A `user:password@` run in free text, whatever comes before it: `postgres://u:pw@h`, but also the
 * malformed `postgres//u:pw@h` and `mysql:u:pw@h` (there the whole `u:pw` is hidden).
 */
const USERINFO_PASSWORD = /([^\s:/?#@'"<>]*:)([^\s@/?#'"<>]+)(@)/g;
const KEY_PARAM = /([?&](?:key|api_key|apikey|access_token|token|password|secret)=)[^&#\s]+/gi;
const BEARER = /(\bBearer\s+)[A-Za-z0-9._~+/=-]+/g;
const SCHEME = /^[a-z][a-z0-9+.-]*:/i;

/**
 * Replaces a password inside any URL-looking text (`postgres://u:secret@h` → `postgres://u:***@h`) and
 * the value of key-like query parameters. For a value known to be one connection string, prefer
 * `redactConnectionUrl`, which also copes with passwords holding `/` or `@`.
 */
export function redactUrl(text: string): string {
  return text.replace(USERINFO_PASSWORD, '$1***$3').replace(KEY_PARAM, '$1***');
}

/**
 * Hides the password of one connection string (DATABASE_URL, REDIS_URL) whatever its shape: well
 * formed (`redis://:pw@h:6379`), malformed (`postgres//u:pw@h/db`, `mysql:u:pw@h`), or with unencoded
 * `@`, `/` or `:` in the password. The user info is everything before the last `@`; its user (up to the
 * first `:`) is kept when the string has a `//`, the rest is replaced by `***`. Without `//` nothing of
 * the user info is trusted to be a user name unless a `:` separates it from a password. Key-like query
 * parameters are hidden too.
 */
export function redactConnectionUrl(value: string): string {
  const at = value.lastIndexOf('@');
  if (at < 0) return value.replace(KEY_PARAM, '$1***');
  const head = value.slice(0, at);
  const slashes = head.indexOf('//');
  const start = slashes >= 0 ? slashes + 2 : (SCHEME.exec(head)?.[0].length ?? 0);
  const userinfo = head.slice(start);
  const colon = userinfo.indexOf(':');
  let shown: string;
  if (colon >= 0) shown = `${userinfo.slice(0, colon)}:***`;
  else if (slashes >= 0 || userinfo === '') shown = userinfo;
  else shown = '***';
  return `${head.slice(0, start)}${shown}${value.slice(at).replace(KEY_PARAM, '$1***')}`;
}

/**
 * Removes known secrets and secret-shaped fragments from a string: URL passwords, key query parameters,
 * bearer tokens and every literal in `secrets` (API keys the caller configured), as is and URL-encoded
 * (the form it takes in a request path or query).
 */
export function redactSecrets(text: string, secrets: Iterable<string> = []): string {
  let out = redactUrl(text).replace(BEARER, '$1***');
  for (const secret of secrets) {
    if (!secret || secret.length < 4) continue;
    out = out.split(secret).join('***');
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret) out = out.split(encoded).join('***');
  }
  return out;
}

/** A short, one-way fingerprint of a credential: safe in cache keys and logs, never reversible. */
export function fingerprint(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url').slice(0, 12);
}
