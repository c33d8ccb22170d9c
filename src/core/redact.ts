import { createHash } from 'node:crypto';

const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)([^@/?#\s]+)(@)/gi;
const KEY_PARAM = /([?&](?:key|api_key|apikey|access_token|token|password|secret)=)[^&#\s]+/gi;
const BEARER = /(\bBearer\s+)[A-Za-z0-9._~+/=-]+/g;

/** Replaces a password inside any URL-looking text (`postgres://u:secret@h` → `postgres://u:***@h`). */
export function redactUrl(text: string): string {
  return text.replace(URL_PASSWORD, '$1***$3').replace(KEY_PARAM, '$1***');
}

/**
 * Removes known secrets and secret-shaped fragments from a string: URL passwords, key query parameters,
 * bearer tokens and every literal in `secrets` (API keys the caller configured).
 */
export function redactSecrets(text: string, secrets: Iterable<string> = []): string {
  let out = redactUrl(text).replace(BEARER, '$1***');
  for (const secret of secrets) {
    if (secret && secret.length >= 4) out = out.split(secret).join('***');
  }
  return out;
}

/** A short, one-way fingerprint of a credential: safe in cache keys and logs, never reversible. */
export function fingerprint(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url').slice(0, 12);
}
