import { redisUrlPassword } from '../cache/index.js';

/** The passwords inside connection URLs, for redacting literal copies that a driver may print. */
export function urlPasswords(...urls: Array<string | undefined>): string[] {
  const out: string[] = [];
  for (const url of urls) {
    if (!url) continue;
    // A Redis Cluster URL (several hosts) is not a WHATWG URL: the Redis parser reads it.
    const cluster = redisUrlPassword(url);
    if (cluster) out.push(cluster, encodeURIComponent(cluster));
    try {
      const u = new URL(url);
      if (u.password) out.push(u.password, decodeURIComponent(u.password));
    } catch {
      // A malformed URL is rejected by the configuration before anything connects.
    }
  }
  return out;
}
