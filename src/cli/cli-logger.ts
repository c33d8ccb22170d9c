import pino from 'pino';
import pretty from 'pino-pretty';
import type { Logger } from '../core/logger.js';
import { redactSecrets } from '../core/redact.js';
import { REDACT_PATHS } from '../server/server-logger.js';
import { colorsAllowed } from './output.js';

export { LOG_LEVELS } from './cli-config.js';

/**
 * The logger of the long-running commands: to stderr (stdout stays for results), human-readable
 * lines on a terminal (coloured unless NO_COLOR), JSON lines otherwise. Every message and error text
 * goes through redactSecrets with the configured secrets, and credential fields are replaced by pino.
 */
export function createCliLogger(options: {
  level: string;
  secrets: readonly string[];
  destination?: NodeJS.WritableStream;
}): Logger & { level: string } {
  const scrub = (text: string): string => redactSecrets(text, options.secrets);
  const scrubValue = (value: unknown, depth = 0): unknown => {
    if (typeof value === 'string') return scrub(value);
    if (depth > 4 || value === null || typeof value !== 'object') return value;
    if (value instanceof Error) return { type: value.name, message: scrub(value.message) };
    if (Array.isArray(value)) return value.map((v) => scrubValue(v, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = scrubValue(v, depth + 1);
    return out;
  };
  const destination = options.destination ?? process.stderr;
  const tty = (destination as { isTTY?: boolean }).isTTY === true;
  const stream = tty
    ? pretty({
        colorize: colorsAllowed(destination as { isTTY?: boolean }),
        translateTime: 'SYS:HH:MM:ss.l',
        ignore: 'pid,hostname',
        destination: 2,
        sync: true,
      })
    : destination;
  const logger = pino(
    {
      level: options.level,
      base: null,
      redact: { paths: REDACT_PATHS, censor: '[Redacted]' },
      hooks: {
        logMethod(args, method) {
          method.apply(this, args.map((a) => scrubValue(a)) as Parameters<typeof method>);
        },
      },
    },
    stream as pino.DestinationStream,
  );
  return logger;
}
