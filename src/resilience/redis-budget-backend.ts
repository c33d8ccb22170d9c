import type { Cluster, Redis } from 'ioredis';
import {
  type BudgetBackend,
  type TryResult,
  type WindowSpec,
  type WindowUsage,
  windowKind,
} from './budget-backend.js';

/*
 * One sorted set per window: member `<reservation id>:<cost>`, score = expiry (ms, Redis clock), plus a
 * running sum per window so a grant is O(expired entries), not O(window). Everything happens inside one
 * script, so processes sharing the keys can never over-grant together. Time is Redis's own TIME: every
 * process agrees on it, whatever their local clocks say.
 */
const PRUNE = `
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function costOf(member)
  return tonumber(string.match(member, ':(%d+)$')) or 0
end
local function prune(key, sumKey, now)
  local gone = redis.call('ZRANGEBYSCORE', key, '-inf', now)
  if #gone > 0 then
    local freed = 0
    for _, m in ipairs(gone) do freed = freed + costOf(m) end
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
    redis.call('DECRBY', sumKey, freed)
  end
  return tonumber(redis.call('GET', sumKey) or '0')
end
`;

// KEYS: pauseKey, then per window: zset, sum. ARGV: id, n, then per window: kind, limit, cost, span.
// span: sliding = windowMs, calendar = ms until the reset (client computed), concurrent = lease ms.
const RESERVE = `${PRUNE}
local now = nowMs()
local pttl = redis.call('PTTL', KEYS[1])
if pttl > 0 then return {0, pttl, -1, 0, redis.call('GET', KEYS[1]) or ''} end
local id = ARGV[1]
local n = tonumber(ARGV[2])
for i = 1, n do
  local base = 2 + (i - 1) * 4
  local limit = tonumber(ARGV[base + 2])
  local cost = tonumber(ARGV[base + 3])
  if cost > 0 then
    if cost > limit then return {0, -1, i - 1, 1, ''} end
    local key = KEYS[2 + (i - 1) * 2]
    local used = prune(key, KEYS[3 + (i - 1) * 2], now)
    if used + cost > limit then
      local entries = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
      local freed = 0
      local wait = -1
      for j = 1, #entries, 2 do
        freed = freed + costOf(entries[j])
        if used - freed + cost <= limit then
          wait = math.max(1, tonumber(entries[j + 1]) - now)
          break
        end
      end
      return {0, wait, i - 1, 0, ''}
    end
  end
end
for i = 1, n do
  local base = 2 + (i - 1) * 4
  local cost = tonumber(ARGV[base + 3])
  if cost > 0 then
    local key = KEYS[2 + (i - 1) * 2]
    local sumKey = KEYS[3 + (i - 1) * 2]
    local exp = now + tonumber(ARGV[base + 4])
    redis.call('ZADD', key, exp, id .. ':' .. cost)
    redis.call('INCRBY', sumKey, cost)
    local ttl = tonumber(ARGV[base + 4]) + 60000
    if redis.call('PTTL', key) < ttl then
      redis.call('PEXPIRE', key, ttl)
      redis.call('PEXPIRE', sumKey, ttl)
    end
  end
end
return {1, now, 0, 0, ''}
`;

// KEYS: per window zset, sum. ARGV: id, n, then per window: kind, reserved, actual.
const SETTLE = `
local id = ARGV[1]
local n = tonumber(ARGV[2])
for i = 1, n do
  local base = 2 + (i - 1) * 3
  local kind = ARGV[base + 1]
  local reserved = tonumber(ARGV[base + 2])
  local actual = tonumber(ARGV[base + 3])
  if kind == 'concurrent' then actual = 0 end
  local key = KEYS[1 + (i - 1) * 2]
  local sumKey = KEYS[2 + (i - 1) * 2]
  local old = id .. ':' .. reserved
  local score = redis.call('ZSCORE', key, old)
  if score then
    redis.call('ZREM', key, old)
    redis.call('DECRBY', sumKey, reserved)
    if actual > 0 then
      redis.call('ZADD', key, score, id .. ':' .. actual)
      redis.call('INCRBY', sumKey, actual)
    end
  end
end
return 1
`;

// KEYS: per window zset, sum. ARGV: id, n, ms until expiry, then per window: cost.
const ADD_USAGE = `
local id = ARGV[1]
local n = tonumber(ARGV[2])
local t = redis.call('TIME')
local exp = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[3])
for i = 1, n do
  local cost = tonumber(ARGV[3 + i])
  if cost > 0 then
    redis.call('ZADD', KEYS[1 + (i - 1) * 2], exp, id .. ':' .. cost)
    redis.call('INCRBY', KEYS[2 + (i - 1) * 2], cost)
  end
end
return 1
`;

// KEYS: per window zset, sum. Returns the sums after pruning.
const USAGE = `${PRUNE}
local now = nowMs()
local out = {}
for i = 1, #KEYS / 2 do
  out[i] = prune(KEYS[1 + (i - 1) * 2], KEYS[2 + (i - 1) * 2], now)
end
return out
`;

const PAUSE = `
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return 1
`;

type Reply = [number, number, number, number, string];

export interface RedisBudgetBackendOptions {
  /** A single Redis, or a Redis Cluster (then every key of the budget is in the hash slot of `{key}`). */
  redis: Redis | Cluster;
  /**
   * Key prefix shared by every process that must share this budget, e.g. `opusclip:budget:openai`. On
   * a Cluster a prefix without a `{…}` hash tag is used as `{prefix}`, so the budget's scripts, which
   * touch all its keys at once, run on one node.
   */
  key: string;
  windows: readonly WindowSpec[];
}

/** A budget shared by every process using the same Redis and key: atomic Lua, Redis's clock. */
export class RedisBudgetBackend implements BudgetBackend {
  readonly sync = false;
  readonly #redis: Redis | Cluster;
  readonly #windows: readonly WindowSpec[];
  readonly #pauseKey: string;
  readonly #windowKeys: string[];

  constructor(options: RedisBudgetBackendOptions) {
    this.#redis = options.redis;
    this.#windows = options.windows;
    const onCluster = (options.redis as Cluster).isCluster === true;
    const key = onCluster && !/\{[^}]+\}/.test(options.key) ? `{${options.key}}` : options.key;
    this.#pauseKey = `${key}:pause`;
    this.#windowKeys = options.windows.flatMap((w) => [`${key}:w:${w.name}`, `${key}:w:${w.name}:sum`]);
  }

  async tryReserve(id: string, costs: readonly number[], now: number): Promise<TryResult> {
    const args: Array<string | number> = [id, this.#windows.length];
    this.#windows.forEach((w, i) => {
      const span =
        w.kind === 'calendar'
          ? Math.max(1, w.nextReset(now) - now)
          : w.kind === 'concurrent'
            ? (w.leaseMs ?? 600_000)
            : w.windowMs;
      args.push(windowKind(w), w.limit, Math.ceil(costs[i] ?? 0), span);
    });
    const reply = (await this.#redis.eval(
      RESERVE,
      1 + this.#windowKeys.length,
      this.#pauseKey,
      ...this.#windowKeys,
      ...args,
    )) as Reply;
    if (reply[0] === 1) return { ok: true, id, at: Number(reply[1]) };
    const window = Number(reply[2]);
    let waitMs = Number(reply[1]);
    // Another process may release a concurrency slot at any time; look again soon rather than never.
    if (waitMs < 0 && window >= 0 && this.#windows[window]?.kind === 'concurrent') waitMs = 50;
    return {
      ok: false,
      waitMs,
      window,
      never: reply[3] === 1,
      ...(window === -1 ? { pauseReason: String(reply[4]) } : {}),
    };
  }

  async commit(id: string, reserved: readonly number[], actual: readonly number[]): Promise<void> {
    await this.#settle(id, reserved, actual);
  }

  async refund(id: string, reserved: readonly number[]): Promise<void> {
    await this.#settle(
      id,
      reserved,
      reserved.map(() => 0),
    );
  }

  async #settle(id: string, reserved: readonly number[], actual: readonly number[]): Promise<void> {
    const args: Array<string | number> = [id, this.#windows.length];
    this.#windows.forEach((w, i) => {
      args.push(windowKind(w), Math.ceil(reserved[i] ?? 0), Math.ceil(actual[i] ?? reserved[i] ?? 0));
    });
    await this.#redis.eval(SETTLE, this.#windowKeys.length, ...this.#windowKeys, ...args);
  }

  async pause(untilMs: number, reason: string, now: number): Promise<void> {
    const ms = Math.ceil(untilMs - now);
    if (ms <= 0) return;
    // Only ever lengthens a pause: a shorter Retry-After from one process must not cut another's.
    await this.#redis.eval(PAUSE, 1, this.#pauseKey, reason, ms);
  }

  async addUsage(costs: readonly number[], expiresAt: number, now: number): Promise<void> {
    const ms = Math.max(1, Math.ceil(expiresAt - now));
    const id = `adj${now.toString(36)}${Math.random().toString(36).slice(2, 8)}`;
    const args = [
      id,
      this.#windows.length,
      ms,
      ...this.#windows.map((w, i) => (w.kind === 'concurrent' ? 0 : Math.ceil(costs[i] ?? 0))),
    ];
    await this.#redis.eval(ADD_USAGE, this.#windowKeys.length, ...this.#windowKeys, ...args);
  }

  async usage(): Promise<WindowUsage[]> {
    const sums = (await this.#redis.eval(USAGE, this.#windowKeys.length, ...this.#windowKeys)) as number[];
    return this.#windows.map((w, i) => {
      const used = Number(sums[i] ?? 0);
      return {
        name: w.name,
        kind: windowKind(w),
        limit: w.limit,
        used,
        remaining: Math.max(0, w.limit - used),
      };
    });
  }
}
