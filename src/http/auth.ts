/**
 * How a service wants its credential: YouTube `key=` or `X-Goog-Api-Key`, OpenAI and Stability
 * `Authorization: Bearer`, ElevenLabs `xi-api-key`.
 */
export type HttpAuth =
  | { type: 'none' }
  | { type: 'bearer'; token: string }
  | { type: 'header'; name: string; value: string }
  | { type: 'query'; name?: string; value: string };

/** The secret inside an auth config (for redaction and cache-key fingerprints). */
export function authSecret(auth: HttpAuth | undefined): string | undefined {
  if (!auth) return undefined;
  switch (auth.type) {
    case 'bearer':
      return auth.token;
    case 'header':
    case 'query':
      return auth.value;
    default:
      return undefined;
  }
}
