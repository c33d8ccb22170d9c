import type { Logger } from '../core/logger.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** One call of a RecordingLogger, as it was made. */
export interface LogRecord {
  level: LogLevel;
  msg: string | undefined;
  obj: Record<string, unknown>;
}

/** A Logger that keeps every call, for tests that check what a component logs (or that a secret never is). */
export interface RecordingLogger extends Logger {
  readonly records: LogRecord[];
  /** The messages logged at `level`, in order. */
  messages(level: LogLevel): string[];
}

/** A fresh RecordingLogger; pass it as the `logger` option of any layer. */
export function recordingLogger(): RecordingLogger {
  const records: LogRecord[] = [];
  const at =
    (level: LogLevel) =>
    (obj: Record<string, unknown>, msg?: string): void => {
      records.push({ level, msg, obj });
    };
  return {
    records,
    messages: (level) => records.filter((r) => r.level === level).map((r) => r.msg ?? ''),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
  };
}
