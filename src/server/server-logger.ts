import pino, { type Logger as PinoLogger } from 'pino';
import pretty from 'pino-pretty';
import { type Logger, redactSecrets } from '../core/index.js';

export interface ServerLoggerOptions {
  /** pino level (default 'info'); 'silent' writes nothing. */
  level?: string;
  /** Human-readable lines (pino-pretty) instead of JSON; default: JSON. */
  pretty?: boolean;
  /** Literal secrets (configured API keys) to blank out of every message. */
  secrets?: readonly string[];
  /** Where lines go (default stdout); tests pass a collecting stream. */
  destination?: NodeJS.WritableStream;
}

/** Header and field paths pino replaces with "[Redacted]" wherever they appear in a log object. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers["xi-api-key"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-api-key"]',
  'headers["xi-api-key"]',
  'authorization',
  'password',
  'apiKey',
  'apiKeys',
  '*.password',
  '*.apiKey',
  '*.authorization',
  '*["x-api-key"]',
  '*["xi-api-key"]',
];

/**
 * The service's pino logger: JSON by default, pino-pretty on request. Field paths are redacted by pino;
 * free text (messages, request URLs) goes through core's redactSecrets so URL passwords, `?key=` query
 * parameters, bearer tokens and the configured keys never reach the output.
 */
export function createServerLogger(options: ServerLoggerOptions = {}): PinoLogger {
  const secrets = options.secrets ?? [];
  const scrub = (text: string): string => redactSecrets(text, secrets);
  const stream = options.pretty
    ? pretty({
        colorize: false,
        translateTime: 'SYS:HH:MM:ss.l',
        destination: options.destination ?? 1,
        sync: true,
      })
    : options.destination;
  const config: pino.LoggerOptions = {
    level: options.level ?? 'info',
    base: { service: 'opusclip' },
    redact: { paths: REDACT_PATHS, censor: '[Redacted]' },
    serializers: {
      req: (req: { method?: string; url?: string; id?: unknown; ip?: string }) => ({
        id: req.id,
        method: req.method,
        url: req.url === undefined ? undefined : scrub(req.url),
        ip: req.ip,
      }),
      err: (err: unknown) => {
        const base = pino.stdSerializers.err(err as Error);
        return {
          ...base,
          message: scrub(String(base.message ?? '')),
          stack: scrub(String(base.stack ?? '')),
        };
      },
    },
    hooks: {
      logMethod(args, method) {
        const scrubbed = args.map((a) => (typeof a === 'string' ? scrub(a) : a)) as Parameters<typeof method>;
        method.apply(this, scrubbed);
      },
    },
  };
  return stream ? pino(config, stream as pino.DestinationStream) : pino(config);
}

/** Adapts the service's pino logger to core's Logger (for the db, cache and HTTP layers). */
export function asCoreLogger(logger: PinoLogger): Logger {
  return {
    debug: (obj, msg) => logger.debug(obj, msg),
    info: (obj, msg) => logger.info(obj, msg),
    warn: (obj, msg) => logger.warn(obj, msg),
    error: (obj, msg) => logger.error(obj, msg),
  };
}
