import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import { ConfigError } from '../core/errors.js';
import { redactConnectionUrl } from '../core/redact.js';

/** One Redis node: a host and a port. */
export interface RedisNodeAddress {
  host: string;
  port: number;
}

/** What a REDIS_URL names: one server (`redis://`, `rediss://`) or a cluster's seed nodes. */
export type RedisTarget =
  | { kind: 'single'; url: string; node: RedisNodeAddress }
  | {
      kind: 'cluster';
      nodes: RedisNodeAddress[];
      username: string | undefined;
      password: string | undefined;
      tls: boolean;
    };

const CLUSTER_SCHEME = /^(rediss?)\+cluster:\/\/(.*)$/i;

/**
 * Reads a Redis URL: `redis://[user:password@]host:port[/db]`, `rediss://…` (TLS), or
 * `redis+cluster://[user:password@]host:port[,host:port…]` (`rediss+cluster://` for TLS), whose hosts are
 * seed nodes of a Redis Cluster (any of them will do; the client discovers the rest). Undefined when
 * the text is none of these.
 */
export function parseRedisUrl(url: string): RedisTarget | undefined {
  const cluster = CLUSTER_SCHEME.exec(url);
  if (!cluster) {
    try {
      const u = new URL(url);
      if ((u.protocol !== 'redis:' && u.protocol !== 'rediss:') || u.hostname === '') return undefined;
      return { kind: 'single', url, node: { host: u.hostname, port: u.port ? Number(u.port) : 6379 } };
    } catch {
      return undefined;
    }
  }
  const rest = cluster[2] ?? '';
  // The user info is everything before the last '@', so a password may hold '@', ':' or '/'.
  const at = rest.lastIndexOf('@');
  const userinfo = at >= 0 ? rest.slice(0, at) : '';
  const hostsPart = (at >= 0 ? rest.slice(at + 1) : rest).replace(/\/$/, '');
  const colon = userinfo.indexOf(':');
  const rawUser = colon >= 0 ? userinfo.slice(0, colon) : userinfo;
  const rawPassword = colon >= 0 ? userinfo.slice(colon + 1) : '';
  const nodes: RedisNodeAddress[] = [];
  for (const part of hostsPart.split(',')) {
    const node = parseHostPort(part.trim());
    if (!node) return undefined;
    nodes.push(node);
  }
  if (nodes.length === 0) return undefined;
  return {
    kind: 'cluster',
    nodes,
    username: rawUser ? safeDecode(rawUser) : undefined,
    password: rawPassword ? safeDecode(rawPassword) : undefined,
    tls: cluster[1]?.toLowerCase() === 'rediss',
  };
}

function parseHostPort(text: string): RedisNodeAddress | undefined {
  // [::1]:7000, host:7000, host (port 6379)
  const m = /^(\[[^\]]+\]|[^:/?#[\]\s]+)(?::(\d{1,5}))?$/.exec(text);
  if (!m?.[1]) return undefined;
  const port = m[2] === undefined ? 6379 : Number(m[2]);
  if (port < 1 || port > 65_535) return undefined;
  return { host: m[1].replace(/^\[|\]$/g, ''), port };
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** `host:port` (or `host:port,host:port…` for a cluster) of a Redis URL, for messages: never a password. */
export function redisEndpoints(url: string): string {
  const target = parseRedisUrl(url);
  if (!target) return redactConnectionUrl(url);
  const nodes = target.kind === 'single' ? [target.node] : target.nodes;
  return nodes.map((n) => `${n.host.includes(':') ? `[${n.host}]` : n.host}:${n.port}`).join(',');
}

/** The password of a Redis URL of either form (for redacting literal copies a driver may print). */
export function redisUrlPassword(url: string): string | undefined {
  const target = parseRedisUrl(url);
  if (target?.kind === 'cluster') return target.password;
  if (!target) return undefined;
  const raw = new URL(target.url).password;
  return raw ? safeDecode(raw) : undefined;
}

/** True for a Redis Cluster client (ioredis `Cluster`), false for a single server's. */
export function isClusterClient(client: Redis | Cluster): client is Cluster {
  return (client as Cluster).isCluster === true;
}

/**
 * The ioredis client for a Redis URL: a `Redis` for `redis://` and `rediss://`, a `Cluster` seeded with
 * the listed nodes for `redis+cluster://`. `options` are per-connection options (a Cluster applies them
 * to every node connection); those a Cluster also knows at its own level (`enableOfflineQueue`,
 * `lazyConnect`, `retryStrategy` as the cluster's reconnection strategy) are given to it there as well.
 * `cluster` adds Cluster-only options. Throws a ConfigError, password hidden, for any other text.
 */
export function createRedisClient(
  url: string,
  options: RedisOptions = {},
  cluster: Omit<ClusterOptions, 'redisOptions'> = {},
): Redis | Cluster {
  const target = parseRedisUrl(url);
  if (!target) {
    throw new ConfigError(
      `Invalid Redis URL "${redactConnectionUrl(url)}": expected redis://host:port[/db] or redis+cluster://host:port[,host:port…]`,
    );
  }
  if (target.kind === 'single') return new Redis(url, options);
  const { retryStrategy, enableOfflineQueue, lazyConnect, ...perNode } = options;
  const redisOptions: RedisOptions = {
    ...perNode,
    ...(target.username ? { username: target.username } : {}),
    ...(target.password ? { password: target.password } : {}),
    ...(target.tls ? { tls: {} } : {}),
    ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
  };
  return new Cluster(target.nodes, {
    // A failover takes the cluster node timeout plus an election: keep redirecting and retrying
    // commands that can wait (offline queue on) instead of failing them at the first CLUSTERDOWN.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    retryDelayOnTryAgain: 200,
    slotsRefreshTimeout: 2_000,
    ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
    ...(lazyConnect === undefined ? {} : { lazyConnect }),
    ...(retryStrategy ? { clusterRetryStrategy: (times: number) => retryStrategy(times) ?? null } : {}),
    ...cluster,
    redisOptions,
  });
}
