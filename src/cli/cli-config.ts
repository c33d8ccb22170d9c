import { readFileSync } from 'node:fs';
import { parseRedisUrl } from '../cache/index.js';
import { ConfigError } from '../core/errors.js';
import { redactConnectionUrl } from '../core/redact.js';
import { type DatabaseConfig, DEFAULT_DATABASE_URL, parseDatabaseUrl } from '../db/config.js';

/**
 * Everything the CLI and the service take from the environment, in one place (only cli/ and server/
 * read environment variables). Flags win over variables.
 */
export interface CliConfig {
  databaseUrl: string;
  /** OPUSCLIP_DB_PIPELINE: `on` (the database's default), `off`, or `all` (writes pipelined too). */
  databasePipeline: DatabaseConfig['pipeline'];
  /** OPUSCLIP_DB_POOL: `static` turns off createDatabase's `adaptivePool` (on by default). */
  databaseAdaptivePool: boolean;
  /** OPUSCLIP_SLOW_QUERY_MS: `serve`'s slow-query threshold; false when `off`. */
  slowQueryMs: number | false;
  /** OPUSCLIP_CACHE_WARM_MS: how long `serve` warms its cache at start; false when `off`. */
  cacheWarmMs: number | false;
  /** DATABASE_REPLICA_URLS: PostgreSQL read replicas of DATABASE_URL (empty: none). */
  databaseReplicaUrls: string[];
  redisUrl: string | undefined;
  assetsDir: string;
  keys: {
    youtube: string | undefined;
    /** OAuth access token: lets the transcript stage use captions of videos the account owns. */
    youtubeOAuthToken: string | undefined;
    openai: string | undefined;
    stability: string | undefined;
    elevenlabs: string | undefined;
  };
  /** OPENAI_BASE_URLS: OpenAI-compatible base URLs, primary first (the real APIs only, not the sandbox). */
  openaiBaseUrls: string[] | undefined;
  /** Force the local emulator even when keys are set. */
  sandbox: boolean;
  /** A sandbox already running (shared by several workers); otherwise one is started in-process. */
  sandboxUrl: string | undefined;
  logLevel: string;
  /** After the first SIGTERM/SIGINT, how long a command may take to stop before the CLI exits anyway. */
  shutdownTimeoutMs: number;
  /** Whether LOG_LEVEL or --log-level was given (otherwise each command has its own default). */
  logLevelSet: boolean;
  /** The service's own API keys (OPUSCLIP_API_KEYS). */
  serviceApiKeys: string[] | undefined;
  /** OPUSCLIP_GATEWAY=off: `serve` without the vendor gateway. */
  gatewayOff: boolean;
  /** OPUSCLIP_GATEWAY_CALLER_RPM: per-caller limit of the gateway (undefined: its default). */
  gatewayCallerRpm: number | undefined;
  /** OPUSCLIP_STABILITY_CREDITS_PER_MONTH: the Stability account's monthly credits (undefined: not limited). */
  stabilityCreditsPerMonth: number | undefined;
  /** OPUSCLIP_AUTH=off: the service runs without authentication. */
  serviceAuthOff: boolean;
}

/** pino's levels, and `silent`. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

export interface ConfigVariable {
  name: string;
  flag?: string;
  default: string;
  meaning: string;
}

/**
 * Every setting the CLI and the service read; `opusclip --help` lists them from here. docs/configuration.md
 * is written by hand with a row for each, and test/docs/configuration.test.ts fails when the two disagree.
 */
export const CONFIG_VARIABLES: ConfigVariable[] = [
  {
    name: 'DATABASE_URL',
    flag: '--database-url',
    default: DEFAULT_DATABASE_URL,
    meaning: 'postgres://…, mysql://… (MariaDB too), sqlite:<file> or sqlite::memory:',
  },
  {
    name: 'DATABASE_REPLICA_URLS',
    default: '(none)',
    meaning: 'PostgreSQL read replicas of DATABASE_URL, comma-separated postgres:// URLs',
  },
  {
    name: 'OPUSCLIP_DB_PIPELINE',
    default: 'on',
    meaning: '`off` gives every statement a connection of its own; `all` pipelines writes too',
  },
  {
    name: 'OPUSCLIP_DB_POOL',
    default: 'adaptive',
    meaning:
      "`static` opens up to the pool's max whenever callers wait instead of sizing it by measured throughput",
  },
  {
    name: 'OPUSCLIP_SLOW_QUERY_MS',
    default: '200',
    meaning: '`serve` captures statements at least this slow, with their plan (`off`: none)',
  },
  {
    name: 'OPUSCLIP_CACHE_WARM_MS',
    default: '3000',
    meaning:
      '`serve` warms its cache at start for at most this long, from hot keys in Redis (`off`: no warming)',
  },
  {
    name: 'REDIS_URL',
    flag: '--redis-url',
    default: '(none: in-process cache only)',
    meaning: 'redis://host:port/db, or redis+cluster://host:port[,host:port…] for a Redis Cluster',
  },
  {
    name: 'OPUSCLIP_ASSETS_DIR',
    flag: '--assets-dir',
    default: './assets',
    meaning: 'where thumbnails and narration are written',
  },
  { name: 'YOUTUBE_API_KEY', default: '(none: sandbox)', meaning: 'YouTube Data API v3 key' },
  {
    name: 'YOUTUBE_OAUTH_TOKEN',
    default: '(none)',
    meaning: 'OAuth token: captions as transcripts (own videos)',
  },
  { name: 'OPENAI_API_KEY', default: '(none: sandbox)', meaning: 'OpenAI API key' },
  { name: 'STABILITY_API_KEY', default: '(none: sandbox)', meaning: 'Stability AI key' },
  { name: 'ELEVENLABS_API_KEY', default: '(none: sandbox)', meaning: 'ElevenLabs key' },
  {
    name: 'OPENAI_BASE_URLS',
    default: '(none: api.openai.com)',
    meaning: 'OpenAI-compatible base URLs, comma-separated, primary first',
  },
  {
    name: 'OPUSCLIP_SANDBOX',
    flag: '--sandbox',
    default: 'false',
    meaning: 'use the local emulator even when keys are set',
  },
  {
    name: 'OPUSCLIP_SANDBOX_URL',
    default: '(none: started in-process)',
    meaning: 'a running `opusclip sandbox` to use instead of starting one',
  },
  {
    name: 'OPUSCLIP_API_KEYS',
    default: '(required by serve)',
    meaning: "the service's own API keys, comma-separated",
  },
  { name: 'OPUSCLIP_AUTH', default: 'on', meaning: '`off` runs `serve` without authentication' },
  {
    name: 'OPUSCLIP_GATEWAY',
    default: 'on (with keys or the sandbox)',
    meaning: '`off` leaves the vendor gateway (`/gateway/<vendor>/…`) out of `serve`',
  },
  {
    name: 'OPUSCLIP_GATEWAY_CALLER_RPM',
    default: '600',
    meaning: 'gateway requests per minute each service key may make (0: no limit)',
  },
  {
    name: 'OPUSCLIP_STABILITY_CREDITS_PER_MONTH',
    default: '(counted, not limited)',
    meaning:
      "the Stability account's credits per UTC month, shared by every worker and the gateway through Redis",
  },
  {
    name: 'OPUSCLIP_CONFIG',
    flag: '--config',
    default: '(none)',
    meaning: 'a JSON file of these settings (variables and flags win over it)',
  },
  {
    name: 'LOG_LEVEL',
    flag: '--log-level',
    default: 'info (process, demo: warn)',
    meaning: 'pino level: trace … fatal, or silent',
  },
  {
    name: 'OPUSCLIP_SHUTDOWN_TIMEOUT_MS',
    default: '10000',
    meaning: 'after SIGTERM/Ctrl-C, how long a command may take to stop before it is forced out',
  },
];

/**
 * The optional config file (`--config FILE` or OPUSCLIP_CONFIG): a JSON object whose keys are the
 * variable names of the table above. Environment variables win over the file, flags over both.
 */
function readConfigFile(path: string): Record<string, string> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(`Cannot read the config file ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`The config file ${path} must hold a JSON object of variable names to values`);
  }
  const known = new Set(CONFIG_VARIABLES.map((v) => v.name));
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (!known.has(key)) {
      throw new ConfigError(`Unknown setting "${key}" in ${path}; known: ${[...known].join(', ')}`, {
        details: { key },
      });
    }
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new ConfigError(`Setting "${key}" in ${path} must be a string, number or boolean`, {
        details: { key },
      });
    }
    out[key] = String(value);
  }
  return out;
}

/** OPUSCLIP_DB_PIPELINE's values, as createDatabase's `pipeline` (`on` leaves the dialect's default). */
const DB_PIPELINE_VALUES: Record<string, DatabaseConfig['pipeline']> = {
  on: undefined,
  off: false,
  all: { statements: 'all' },
};

/** DATABASE_REPLICA_URLS, split and checked (a bad one is named with its password hidden). */
function replicaUrls(raw: string | undefined, databaseUrl: string): string[] {
  const urls = (raw ?? '')
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u !== '');
  if (urls.length === 0) return [];
  for (const url of urls) {
    let dialect: string;
    try {
      dialect = parseDatabaseUrl(url).dialect;
    } catch (error) {
      throw new ConfigError(`Invalid DATABASE_REPLICA_URLS: ${(error as Error).message}`, { cause: error });
    }
    if (dialect !== 'postgres') {
      throw new ConfigError(
        `Invalid DATABASE_REPLICA_URLS "${redactConnectionUrl(url)}": read replicas are postgres:// URLs`,
      );
    }
  }
  if (parseDatabaseUrl(databaseUrl).dialect !== 'postgres') {
    throw new ConfigError(
      'DATABASE_REPLICA_URLS needs a postgres:// DATABASE_URL (replicas are PostgreSQL only)',
    );
  }
  return urls;
}

export function loadConfig(
  flags: Record<string, string | number | boolean | undefined>,
  processEnv: NodeJS.ProcessEnv,
): CliConfig {
  const file = typeof flags.config === 'string' ? flags.config : processEnv.OPUSCLIP_CONFIG || undefined;
  const env: NodeJS.ProcessEnv = file ? { ...readConfigFile(file), ...processEnv } : processEnv;
  const str = (flag: string, name: string): string | undefined => {
    const v = flags[flag];
    if (typeof v === 'string' && v !== '') return v;
    const e = env[name];
    return e === undefined || e === '' ? undefined : e;
  };
  const databaseUrl = str('database-url', 'DATABASE_URL') ?? DEFAULT_DATABASE_URL;
  // Validates now, so a bad URL is reported before any work starts (with the password hidden).
  parseDatabaseUrl(databaseUrl);
  const pipelineRaw = env.OPUSCLIP_DB_PIPELINE;
  const pipelineSetting = pipelineRaw === undefined || pipelineRaw === '' ? 'on' : pipelineRaw;
  if (!Object.hasOwn(DB_PIPELINE_VALUES, pipelineSetting)) {
    throw new ConfigError(`Invalid OPUSCLIP_DB_PIPELINE "${pipelineRaw}": expected on, off or all`, {
      details: { databasePipeline: pipelineRaw },
    });
  }
  const databasePipeline = DB_PIPELINE_VALUES[pipelineSetting];
  const poolRaw = env.OPUSCLIP_DB_POOL;
  if (poolRaw !== undefined && poolRaw !== '' && poolRaw !== 'static' && poolRaw !== 'adaptive') {
    throw new ConfigError(`Invalid OPUSCLIP_DB_POOL "${poolRaw}": expected static or adaptive`, {
      details: { databaseAdaptivePool: poolRaw },
    });
  }
  const databaseAdaptivePool = poolRaw !== 'static';
  const slowRaw = env.OPUSCLIP_SLOW_QUERY_MS;
  const slowQueryMs =
    slowRaw === undefined || slowRaw === '' ? 200 : slowRaw === 'off' ? false : Number(slowRaw);
  if (slowQueryMs !== false && !(Number.isInteger(slowQueryMs) && slowQueryMs >= 0)) {
    throw new ConfigError(`Invalid OPUSCLIP_SLOW_QUERY_MS "${slowRaw}": expected whole milliseconds or off`, {
      details: { slowQueryMs: slowRaw },
    });
  }
  const warmRaw = env.OPUSCLIP_CACHE_WARM_MS;
  const cacheWarmMs =
    warmRaw === undefined || warmRaw === '' ? 3_000 : warmRaw === 'off' ? false : Number(warmRaw);
  if (
    cacheWarmMs !== false &&
    !(Number.isInteger(cacheWarmMs) && cacheWarmMs >= 0 && cacheWarmMs <= 600_000)
  ) {
    throw new ConfigError(
      `Invalid OPUSCLIP_CACHE_WARM_MS "${warmRaw}": expected whole milliseconds from 0 to 600000, or off`,
      { details: { cacheWarmMs: warmRaw } },
    );
  }
  const databaseReplicaUrls = replicaUrls(env.DATABASE_REPLICA_URLS, databaseUrl);
  const openaiBaseUrls = baseUrlList('OPENAI_BASE_URLS', env.OPENAI_BASE_URLS);
  const redisUrl = str('redis-url', 'REDIS_URL');
  if (redisUrl !== undefined) {
    if (parseRedisUrl(redisUrl) === undefined) {
      throw new ConfigError(
        `Invalid REDIS_URL "${redactConnectionUrl(redisUrl)}": expected redis://host:port[/db] or redis+cluster://host:port[,host:port…]`,
        { details: { redisUrl: redactConnectionUrl(redisUrl) } },
      );
    }
  }
  const logLevel = str('log-level', 'LOG_LEVEL');
  if (logLevel !== undefined && !(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError(`Invalid LOG_LEVEL "${logLevel}": expected one of ${LOG_LEVELS.join(', ')}`, {
      details: { logLevel },
    });
  }
  const shutdownRaw = env.OPUSCLIP_SHUTDOWN_TIMEOUT_MS;
  const shutdownTimeoutMs = shutdownRaw === undefined || shutdownRaw === '' ? 10_000 : Number(shutdownRaw);
  if (!Number.isInteger(shutdownTimeoutMs) || shutdownTimeoutMs < 100 || shutdownTimeoutMs > 600_000) {
    throw new ConfigError(
      `Invalid OPUSCLIP_SHUTDOWN_TIMEOUT_MS "${shutdownRaw}": expected whole milliseconds from 100 to 600000`,
      { details: { shutdownTimeoutMs: shutdownRaw } },
    );
  }
  const sandboxFlag =
    flags.sandbox === true || env.OPUSCLIP_SANDBOX === 'true' || env.OPUSCLIP_SANDBOX === '1';
  return {
    databaseUrl,
    databasePipeline,
    databaseAdaptivePool,
    slowQueryMs,
    cacheWarmMs,
    databaseReplicaUrls,
    redisUrl,
    assetsDir: str('assets-dir', 'OPUSCLIP_ASSETS_DIR') ?? './assets',
    keys: {
      youtube: env.YOUTUBE_API_KEY || undefined,
      youtubeOAuthToken: env.YOUTUBE_OAUTH_TOKEN || undefined,
      openai: env.OPENAI_API_KEY || undefined,
      stability: env.STABILITY_API_KEY || undefined,
      elevenlabs: env.ELEVENLABS_API_KEY || undefined,
    },
    openaiBaseUrls,
    sandbox: sandboxFlag,
    sandboxUrl: env.OPUSCLIP_SANDBOX_URL || undefined,
    logLevel: logLevel ?? 'info',
    logLevelSet: logLevel !== undefined,
    shutdownTimeoutMs,
    serviceApiKeys: env.OPUSCLIP_API_KEYS ? env.OPUSCLIP_API_KEYS.split(',').map((k) => k.trim()) : undefined,
    serviceAuthOff: env.OPUSCLIP_AUTH === 'off',
    gatewayOff: env.OPUSCLIP_GATEWAY === 'off',
    gatewayCallerRpm: callerRpm(env.OPUSCLIP_GATEWAY_CALLER_RPM),
    stabilityCreditsPerMonth: creditsPerMonth(env.OPUSCLIP_STABILITY_CREDITS_PER_MONTH),
  };
}

/** OPUSCLIP_STABILITY_CREDITS_PER_MONTH: a positive number of credits. */
function creditsPerMonth(raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    throw new ConfigError(
      `Invalid OPUSCLIP_STABILITY_CREDITS_PER_MONTH "${raw}": expected a positive number of credits`,
      { details: { stabilityCreditsPerMonth: raw } },
    );
  }
  return value;
}

/** OPUSCLIP_GATEWAY_CALLER_RPM: a whole number from 0 (no limit) up. */
function callerRpm(raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    throw new ConfigError(
      `Invalid OPUSCLIP_GATEWAY_CALLER_RPM "${raw}": expected a whole number, 0 for no limit`,
      {
        details: { gatewayCallerRpm: raw },
      },
    );
  }
  return value;
}

/** A comma-separated list of http(s) base URLs; ConfigError naming the variable (never the URL: it may hold a key). */
function baseUrlList(name: string, value: string | undefined): string[] | undefined {
  const urls = (value ?? '')
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean);
  if (urls.length === 0) return undefined;
  urls.forEach((url, i) => {
    let protocol = '';
    try {
      protocol = new URL(url).protocol;
    } catch {
      // reported below
    }
    if (protocol !== 'http:' && protocol !== 'https:') {
      throw new ConfigError(`Invalid ${name}: entry ${i + 1} is not an http(s) URL`, {
        details: { variable: name },
      });
    }
  });
  return urls;
}
