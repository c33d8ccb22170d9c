import { defineErrorCodes } from '../core/error-codes.js';
import { OpusError, type OpusErrorOptions } from '../core/errors.js';

/** Codes the CLI raises itself; every other error reaches the user with its own layer's code. */
export const CliErrorCode = defineErrorCodes('cli', {
  Usage: {
    code: 'ERR_CLI_USAGE',
    class: 'permanent',
    meaning:
      'The command line was not understood: an unknown command or flag, a missing argument or a bad value.',
    action: 'Run `opusclip <command> --help` and correct the command line (exit status 2).',
  },
  Unreachable: {
    code: 'ERR_CLI_UNREACHABLE',
    class: 'transient',
    meaning: 'The database or Redis did not answer (connection refused, unknown host, or no answer in time).',
    action: 'Check the host and port in DATABASE_URL / REDIS_URL and that the service runs; then run again.',
  },
  AuthFailed: {
    code: 'ERR_CLI_AUTH_FAILED',
    class: 'permanent',
    meaning: 'Redis refused the credentials of REDIS_URL (wrong password or user).',
    action: 'Correct the user or password in REDIS_URL.',
  },
  NotSetUp: {
    code: 'ERR_CLI_NOT_SET_UP',
    class: 'permanent',
    meaning: 'The database has no tables yet, or older ones: a read command never creates or migrates them.',
    action: 'Run `opusclip setup` once against this database.',
  },
});

export type CliErrorCodeValue = (typeof CliErrorCode)[keyof typeof CliErrorCode];

export class CliError extends OpusError {
  constructor(code: CliErrorCodeValue, message: string, options: OpusErrorOptions = {}) {
    super(code, message, options);
  }
}

/** A command line that cannot run; the CLI exits 2. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(CliErrorCode.Usage, message);
  }
}
