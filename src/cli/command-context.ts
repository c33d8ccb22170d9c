import type { Logger } from '../core/logger.js';
import type { CliConfig } from './cli-config.js';
import type { Output } from './output.js';

/** The flags a command was given, by their camelCase names. */
export type Flags = Record<string, string | number | boolean | undefined>;

/** What every command receives: its configuration, arguments, output and the stop signals. */
export interface CommandContext {
  /** The command's name (`process`, `serve`, ...). */
  name: string;
  config: CliConfig;
  args: string[];
  flags: Flags;
  io: Output;
  env: NodeJS.ProcessEnv;
  /** Logs of the long-running commands (stderr, redacted); silent for the others. */
  logger: Logger;
  /** First Ctrl-C/SIGTERM: stop taking new work, let running work finish. */
  stopSignal: AbortSignal;
  /** Second Ctrl-C: abort running work (it stays resumable). */
  signal: AbortSignal;
}
