import type { FastifyRequest } from 'fastify';
import type { Clock, Logger } from '../core/index.js';
import type { SandboxConfig, SandboxKeys, Vendor } from './config.js';
import { hashId } from './random.js';

/** Counters and windows; reset() replaces this whole object. */
export interface SandboxState {
  seq: number;
  youtube: { day: string; unitsUsed: number; searchCalls: number };
  openai: { windowStart: number; requests: number; tokens: number; totalTokens: number };
  stability: { windowStart: number; requests: number; blockedUntil: number; creditsUsed: number };
  elevenlabs: { inFlight: number; charactersUsed: number };
}

export function freshState(): SandboxState {
  return {
    seq: 0,
    youtube: { day: '', unitsUsed: 0, searchCalls: 0 },
    openai: { windowStart: Number.NEGATIVE_INFINITY, requests: 0, tokens: 0, totalTokens: 0 },
    stability: { windowStart: Number.NEGATIVE_INFINITY, requests: 0, blockedUntil: 0, creditsUsed: 0 },
    elevenlabs: { inFlight: 0, charactersUsed: 0 },
  };
}

export interface SandboxContext {
  readonly config: SandboxConfig;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly keys: SandboxKeys;
  state: SandboxState;
  /** A request id unique within this sandbox run and reproducible across runs. */
  requestId(request: FastifyRequest): string;
}

export function makeRequestId(vendor: Vendor, seq: number): string {
  return `${vendor.slice(0, 2)}_${hashId(`request:${vendor}:${seq}`, 20)}`;
}

/** Reads a header as one string (first value when repeated). */
export function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

export function bearerToken(request: FastifyRequest): string | undefined {
  const auth = header(request, 'authorization');
  if (!auth) return undefined;
  const match = /^Bearer\s+(.+)$/i.exec(auth.trim());
  return match ? match[1]!.trim() : undefined;
}

/** Valid when non-empty and, if a key list was configured, on it. */
export function keyAccepted(key: string | undefined, allowed: string[] | undefined): boolean {
  if (!key) return false;
  return allowed === undefined || allowed.includes(key);
}

/** Query values as a flat list: accepts both repeated keys and comma-separated values. */
export function queryList(query: unknown, name: string): string[] {
  const raw = (query as Record<string, unknown>)[name];
  const values = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  return values
    .flatMap((v) => String(v).split(','))
    .map((v) => v.trim())
    .filter((v) => v.length > 0);
}

export function queryOne(query: unknown, name: string): string | undefined {
  const raw = (query as Record<string, unknown>)[name];
  const value = Array.isArray(raw) ? raw[0] : raw;
  return value === undefined ? undefined : String(value);
}
