import type { RedisClient } from './redis-client.js';

// Every key of a script is in the namespace's hash slot (see RedisKeys), so the scripts run on Cluster too.

// KEYS[1] the entry, KEYS[2..n+1] its generations, then its tag sets. ARGV: value, px, n, the n snapshot
// values. Stores only if every generation still equals its snapshot; returns 1 stored, 0 refused.
const SET_IF_GENERATIONS = `
local n = tonumber(ARGV[3])
for i = 1, n do
  local g = redis.call('GET', KEYS[1 + i]) or '0'
  if g ~= ARGV[3 + i] then return 0 end
end
local px = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', px)
for i = 2 + n, #KEYS do
  redis.call('SADD', KEYS[i], KEYS[1])
  if redis.call('PTTL', KEYS[i]) < px then redis.call('PEXPIRE', KEYS[i], px) end
end
return 1`;

// The body of an invalidation, shared by INVALIDATE and INVALIDATE_AND_SET. From KEYS[b + 1]: ng
// generation keys to bump (PEXPIRE gttl), ne entry keys to delete, ns tag sets whose members are deleted
// with them. Leaves b past them.
const INVALIDATE_STEPS = `
for i = b + 1, b + ng do
  redis.call('INCR', KEYS[i])
  redis.call('PEXPIRE', KEYS[i], gttl)
end
b = b + ng
for i = b + 1, b + ne do redis.call('DEL', KEYS[i]) end
b = b + ne
for i = b + 1, b + ns do
  local members = redis.call('SMEMBERS', KEYS[i])
  for j = 1, #members, 500 do
    redis.call('DEL', unpack(members, j, math.min(j + 499, #members)))
  end
  redis.call('DEL', KEYS[i])
end
b = b + ns`;

// KEYS: generation keys to bump, then entry keys to delete, then tag sets whose members are deleted.
const INVALIDATE = `
local ng = tonumber(ARGV[1])
local ne = tonumber(ARGV[2])
local ns = #KEYS - ng - ne
local gttl = ARGV[3]
local b = 0
${INVALIDATE_STEPS}
return 1`;

// KEYS[1] entry, KEYS[2] its key generation, KEYS[3..] tag sets. An explicit set bumps the key's
// generation so that a load already running for that key cannot overwrite it with older data.
const PUT = `
local px = tonumber(ARGV[2])
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('SET', KEYS[1], ARGV[1], 'PX', px)
for i = 3, #KEYS do
  redis.call('SADD', KEYS[i], KEYS[1])
  if redis.call('PTTL', KEYS[i]) < px then redis.call('PEXPIRE', KEYS[i], px) end
end
return 1`;

// INVALIDATE followed by a SET_IF_GENERATIONS of the replacement, in one step, with the check made
// against the generations as they were before this invalidation's own bumps. KEYS: the entry, its n
// generation keys to check, then as INVALIDATE (ng generation keys, ne entries, ns tag sets to empty),
// then the entry's tag sets. ARGV: value, px, n, the n snapshot values, ng, ne, ns, generation ttl.
// Returns 1 when it stored the entry, 0 when a generation had moved (invalidated only).
const INVALIDATE_AND_SET = `
local n = tonumber(ARGV[3])
local unchanged = true
for i = 1, n do
  local g = redis.call('GET', KEYS[1 + i]) or '0'
  if g ~= ARGV[3 + i] then
    unchanged = false
    break
  end
end
local ng = tonumber(ARGV[4 + n])
local ne = tonumber(ARGV[5 + n])
local ns = tonumber(ARGV[6 + n])
local gttl = ARGV[7 + n]
local b = 1 + n
${INVALIDATE_STEPS}
if not unchanged then return 0 end
local px = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', px)
for i = b + 1, #KEYS do
  redis.call('SADD', KEYS[i], KEYS[1])
  if redis.call('PTTL', KEYS[i]) < px then redis.call('PEXPIRE', KEYS[i], px) end
end
return 1`;

// Deletes the lease KEYS[1] only while its holder is ARGV[1], so a lease that expired and went to
// another process is left alone.
const RELEASE_LEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** The client with the scripts defined as commands (EVALSHA, falling back to EVAL). */
export interface ScriptClient {
  opusCacheSetIfGen(...args: Array<string | number | Buffer>): Promise<number>;
  opusCacheInvalidate(...args: Array<string | number>): Promise<number>;
  opusCachePut(...args: Array<string | number | Buffer>): Promise<number>;
  opusCacheInvalidateSet(...args: Array<string | number | Buffer>): Promise<number>;
  opusCacheRelease(key: string, owner: string): Promise<number>;
}

/** `client` with the cache's scripts defined on it; defining them again on a shared client is harmless. */
export function withScripts(client: RedisClient): ScriptClient {
  const c = client as RedisClient & Partial<ScriptClient>;
  if (c.opusCacheSetIfGen === undefined) c.defineCommand('opusCacheSetIfGen', { lua: SET_IF_GENERATIONS });
  if (c.opusCacheInvalidate === undefined) c.defineCommand('opusCacheInvalidate', { lua: INVALIDATE });
  if (c.opusCachePut === undefined) c.defineCommand('opusCachePut', { lua: PUT });
  if (c.opusCacheInvalidateSet === undefined)
    c.defineCommand('opusCacheInvalidateSet', { lua: INVALIDATE_AND_SET });
  if (c.opusCacheRelease === undefined)
    c.defineCommand('opusCacheRelease', { lua: RELEASE_LEASE, numberOfKeys: 1 });
  return c as unknown as ScriptClient;
}
