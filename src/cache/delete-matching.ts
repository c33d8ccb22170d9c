import type { Cluster } from 'ioredis';
import type { CommandGuard } from './command-guard.js';
import { FAILED } from './command-guard.js';
import type { RedisClient } from './redis-client.js';

/**
 * Deletes every key matching `patterns` on every primary (SCAN and UNLINK, 500 at a time), each step
 * guarded like any other command so that a slow Redis cannot hang `clear()`. False when a step failed.
 */
export async function deleteMatching(
  client: RedisClient,
  patterns: readonly string[],
  guard: CommandGuard,
): Promise<boolean> {
  const nodes = isCluster(client) ? client.nodes('master') : [client];
  for (const node of nodes) {
    for (const pattern of patterns) {
      let cursor = '0';
      do {
        const page = await guard.run(node.scan(cursor, 'MATCH', escapeGlob(pattern), 'COUNT', 500), 'clear');
        if (page === FAILED) return false;
        const [next, found] = page;
        cursor = next;
        if (found.length > 0 && (await guard.run(node.unlink(...found), 'clear')) === FAILED) return false;
      } while (cursor !== '0');
    }
  }
  return true;
}

function isCluster(client: RedisClient): client is Cluster {
  return (client as Cluster).isCluster === true;
}

/** Braces in the prefix are literal in SCAN MATCH patterns except `[`, `]`, `?`, `*` and `\`. */
function escapeGlob(pattern: string): string {
  const star = pattern.endsWith('*');
  const body = star ? pattern.slice(0, -1) : pattern;
  return body.replace(/[\\[\]?*]/g, '\\$&') + (star ? '*' : '');
}
