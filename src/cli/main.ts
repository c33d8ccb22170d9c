import { readFileSync } from 'node:fs';
import { format, styleText } from 'node:util';
import { Command, CommanderError, Option } from 'commander';
import { isOpusError } from '../core/errors.js';
import { silentLogger } from '../core/logger.js';
import { redactConnectionUrl, redactSecrets } from '../core/redact.js';
import { VIDEO_STATUSES } from '../store/schema.js';
import { boundedShutdown, DEFAULT_SHUTDOWN_BOUND_MS, EXIT_INTERRUPTED } from './bounded-shutdown.js';
import { CONFIG_VARIABLES, LOG_LEVELS, loadConfig } from './cli-config.js';
import type { CommandContext, Flags } from './command-context.js';
import { UsageError } from './errors.js';
import { hostName, integerIn, nonEmpty, portNumber, rate } from './option-parsers.js';
import { colorsAllowed, type Output, stdio } from './output.js';
import { urlPasswords } from './url-passwords.js';

/** Exit statuses (documented in docs/cli.md). */
export const EXIT = {
  ok: 0,
  /** The command failed, a dependency was unreachable or refused the credentials, nothing to show. */
  failure: 1,
  /** The command line was not understood; a one-line hint says how to get the usage. */
  usage: 2,
  /** SIGINT/SIGTERM stopped the command before it finished (or it was forced out after the bound). */
  interrupted: EXIT_INTERRUPTED,
} as const;

type Run = (ctx: CommandContext) => Promise<number>;

// Each command's code (drivers, BullMQ, Fastify) is loaded only when the command runs, so `--help`,
// `--version` and usage errors answer at once and load nothing they do not need.
const pipelineCommands = () => import('./commands/pipeline-commands.js');
const storeCommands = () => import('./commands/store-commands.js');
const runDemo: Run = async (ctx) => (await pipelineCommands()).runDemo(ctx);
const runProcess: Run = async (ctx) => (await pipelineCommands()).runProcess(ctx);
const runEnqueue: Run = async (ctx) => (await pipelineCommands()).runEnqueue(ctx);
const runJobs: Run = async (ctx) => (await pipelineCommands()).runJobs(ctx);
const runWorker: Run = async (ctx) => (await pipelineCommands()).runWorker(ctx);
const runSandbox: Run = async (ctx) => (await pipelineCommands()).runSandbox(ctx);
const runServe: Run = async (ctx) => (await import('./commands/serve-command.js')).runServe(ctx);
const runSetup: Run = async (ctx) => (await storeCommands()).runSetup(ctx);
const runVideos: Run = async (ctx) => (await storeCommands()).runVideos(ctx);
const runVideo: Run = async (ctx) => (await storeCommands()).runVideo(ctx);
const runStats: Run = async (ctx) => (await storeCommands()).runStats(ctx);

interface CommandSpec {
  name: string;
  args?: string;
  summary: string;
  run: Run;
  options: Option[];
  /** Long-running: writes logs (LOG_LEVEL / --log-level) and says what the first signal does. */
  logs?: { defaultLevel: string; stopping: string };
  after?: string;
}

export interface MainOptions {
  /** How long after the first signal the command may take before main gives up on it (default 10 s). */
  shutdownBoundMs?: number;
}

const opt = {
  databaseUrl: () =>
    new Option('--database-url <url>', 'database: postgres://…, mysql://…, sqlite:<file> (DATABASE_URL)'),
  redisUrl: () =>
    new Option(
      '--redis-url <url>',
      'Redis: redis://host:port/db, or redis+cluster://host:port,host:port (REDIS_URL)',
    ),
  assetsDir: () =>
    new Option('--assets-dir <dir>', 'where thumbnails and narration are written (OPUSCLIP_ASSETS_DIR)'),
  config: () =>
    new Option('--config <file>', 'a JSON file of settings (OPUSCLIP_CONFIG)').argParser(nonEmpty),
  logLevel: () => new Option('--log-level <level>', 'log level, on stderr (LOG_LEVEL)').choices(LOG_LEVELS),
  json: () => new Option('--json', 'print the result as JSON'),
  sandbox: () =>
    new Option('--sandbox', 'use the local API emulator even when keys are set (OPUSCLIP_SANDBOX)'),
  file: () =>
    new Option('--file <file>', 'read URLs from a file, one per line (streamed)').argParser(nonEmpty),
  concurrency: (fallback: number) =>
    new Option('--concurrency <n>', `videos in flight, 1..256 (default ${fallback})`).argParser(
      integerIn(1, 256),
    ),
  noNarration: () => new Option('--no-narration', 'skip the narration stage'),
  noThumbnails: () => new Option('--no-thumbnails', 'skip the thumbnail stage'),
  port: (fallback: number) =>
    new Option('--port <port>', `port to listen on, 0..65535 (default ${fallback}; 0 picks one)`).argParser(
      portNumber,
    ),
  host: () =>
    new Option(
      '--host <host>',
      'interface to listen on (default 127.0.0.1; 0.0.0.0 for every one)',
    ).argParser(hostName),
};

const COMMANDS: CommandSpec[] = [
  {
    name: 'demo',
    summary: 'the whole pipeline on six sample videos: SQLite, in-memory cache, sandbox APIs; no keys',
    run: runDemo,
    options: [
      opt.databaseUrl(),
      opt.assetsDir(),
      opt.concurrency(4),
      opt.json(),
      opt.noNarration(),
      opt.noThumbnails(),
      opt.logLevel(),
      opt.config(),
    ],
    logs: { defaultLevel: 'warn', stopping: 'stopping after the running work' },
  },
  {
    name: 'process',
    args: '[url...]',
    summary: 'process YouTube videos in this process and print a summary',
    run: runProcess,
    options: [
      opt.file(),
      opt.concurrency(4),
      opt.json(),
      opt.noNarration(),
      opt.noThumbnails(),
      opt.sandbox(),
      opt.databaseUrl(),
      opt.redisUrl(),
      opt.assetsDir(),
      opt.logLevel(),
      opt.config(),
    ],
    logs: { defaultLevel: 'warn', stopping: 'stopping after the running work' },
    after: 'Give URLs as arguments, with --file, or both.',
  },
  {
    name: 'setup',
    summary: 'create or upgrade the tables (migrations, locked)',
    run: runSetup,
    options: [opt.databaseUrl(), opt.json(), opt.config()],
  },
  {
    name: 'videos',
    summary: 'list videos, newest first',
    run: runVideos,
    options: [
      new Option('--status <status>', 'only videos in this status').choices(VIDEO_STATUSES),
      new Option('--limit <n>', 'at most this many, 1..1000 (default 50)').argParser(integerIn(1, 1000)),
      opt.json(),
      opt.databaseUrl(),
      opt.config(),
    ],
  },
  {
    name: 'video',
    args: '<id>',
    summary: 'one video with its clips',
    run: runVideo,
    options: [opt.json(), opt.databaseUrl(), opt.config()],
  },
  {
    name: 'stats',
    summary: 'counts and status distribution',
    run: runStats,
    options: [opt.json(), opt.databaseUrl(), opt.config()],
  },
  {
    name: 'enqueue',
    args: '[url...]',
    summary: 'add one BullMQ job per video (needs REDIS_URL)',
    run: runEnqueue,
    options: [opt.file(), opt.json(), opt.redisUrl(), opt.config()],
    after: 'Give URLs as arguments, with --file, or both.',
  },
  {
    name: 'worker',
    summary: 'process queued jobs until SIGTERM or Ctrl-C, which drains (needs REDIS_URL)',
    run: runWorker,
    options: [
      opt.concurrency(2),
      new Option(
        '--stalled-interval <ms>',
        'job lock duration and stalled-job check interval, 100..86400000 ms (default 30000)',
      ).argParser(integerIn(100, 86_400_000, 'milliseconds')),
      new Option('--metrics-port <port>', 'expose Prometheus metrics on this port, 0..65535').argParser(
        portNumber,
      ),
      opt.noNarration(),
      opt.noThumbnails(),
      opt.sandbox(),
      opt.databaseUrl(),
      opt.redisUrl(),
      opt.assetsDir(),
      opt.logLevel(),
      opt.config(),
    ],
    logs: { defaultLevel: 'info', stopping: 'draining: no new jobs, waiting for the running ones' },
  },
  {
    name: 'jobs',
    summary: 'the queue: counts per state and up to 50 jobs (needs REDIS_URL)',
    run: runJobs,
    options: [opt.json(), opt.redisUrl(), opt.config()],
  },
  {
    name: 'sandbox',
    summary: 'the API emulator on its own, for workers to share',
    run: runSandbox,
    options: [
      opt.port(8787),
      opt.host(),
      new Option('--chaos <rate>', 'share of requests that fail on purpose, 0..1 (default 0)').argParser(
        rate,
      ),
      opt.logLevel(),
      opt.config(),
    ],
    logs: { defaultLevel: 'info', stopping: 'stopping the sandbox' },
  },
  {
    name: 'serve',
    summary: 'the REST API, /metrics and the dashboard (queue routes need REDIS_URL)',
    run: runServe,
    options: [
      opt.port(8080),
      opt.host(),
      opt.databaseUrl(),
      opt.redisUrl(),
      opt.assetsDir(),
      opt.sandbox(),
      opt.logLevel(),
      opt.config(),
    ],
    logs: { defaultLevel: 'info', stopping: 'closing the service' },
  },
];

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

const EXIT_CODES_HELP = `Exit status:
  0    success (worker, serve, sandbox: also a clean stop on SIGTERM or Ctrl-C)
  1    failure: the command failed, a database or Redis is unreachable or refused the credentials
  2    usage: unknown command or flag, missing argument, bad value
  130  stopped by SIGINT or SIGTERM before the end (or forced out ${DEFAULT_SHUTDOWN_BOUND_MS / 1000} s after the first signal)`;

function configHelp(): string {
  const nameWidth = Math.max(...CONFIG_VARIABLES.map((v) => v.name.length));
  const flagWidth = Math.max(...CONFIG_VARIABLES.map((v) => (v.flag ?? '').length));
  const vars = CONFIG_VARIABLES.map(
    (v) => `  ${v.name.padEnd(nameWidth)}  ${(v.flag ?? '').padEnd(flagWidth)}  ${v.meaning}`,
  );
  return ['Configuration (environment variable, flag; flags win):', ...vars].join('\n');
}

/** The flags as a record keyed by the long flag name (`database-url`, `no-narration`). */
function flagsOf(cmd: Command): Flags {
  const flags: Flags = {};
  for (const option of cmd.options) {
    const key = option.long?.replace(/^--/, '');
    if (!key) continue;
    const value = cmd.getOptionValue(option.attributeName()) as string | number | boolean | undefined;
    if (option.negate) flags[key] = value === false ? true : undefined;
    else flags[key] = value;
  }
  return flags;
}

function keysOf(env: NodeJS.ProcessEnv): string[] {
  return [
    env.YOUTUBE_API_KEY,
    env.YOUTUBE_OAUTH_TOKEN,
    env.OPENAI_API_KEY,
    env.STABILITY_API_KEY,
    env.ELEVENLABS_API_KEY,
    ...(env.OPUSCLIP_API_KEYS ?? '').split(','),
    ...urlPasswords(
      env.DATABASE_URL,
      env.REDIS_URL,
      ...(env.DATABASE_REPLICA_URLS ?? '').split(','),
      ...(env.OPENAI_BASE_URLS ?? '').split(','),
    ),
  ]
    .map((k) => k?.trim())
    .filter((k): k is string => !!k);
}

/** One line, secrets removed: what the user sees of an error. */
function oneLine(text: string, secrets: readonly string[]): string {
  return redactSecrets(text, secrets)
    .replace(/\s*\n\s*/g, ' ')
    .trim();
}

async function execute(
  spec: CommandSpec,
  cmd: Command,
  io: Output,
  env: NodeJS.ProcessEnv,
  options: MainOptions,
): Promise<number> {
  const flags = flagsOf(cmd);
  const shutdown = boundedShutdown({
    notice: (line) => io.err(line),
    ...(options.shutdownBoundMs !== undefined ? { boundMs: options.shutdownBoundMs } : {}),
    ...(spec.logs ? { stopping: spec.logs.stopping } : {}),
  });
  let secrets = keysOf(env);
  const work = (async (): Promise<number> => {
    const config = loadConfig(flags, env);
    if (options.shutdownBoundMs === undefined) shutdown.setBound(config.shutdownTimeoutMs);
    secrets = [
      ...secrets,
      ...urlPasswords(config.databaseUrl, config.redisUrl, ...config.databaseReplicaUrls),
      ...(config.serviceApiKeys ?? []),
    ];
    const explicitLevel = typeof flags['log-level'] === 'string' || config.logLevelSet;
    const logger = spec.logs
      ? (await import('./cli-logger.js')).createCliLogger({
          level: explicitLevel ? config.logLevel : spec.logs.defaultLevel,
          secrets,
        })
      : silentLogger;
    logger.debug(
      {
        command: spec.name,
        version: packageVersion(),
        // The sandbox uses neither.
        database: spec.name === 'sandbox' ? undefined : redactConnectionUrl(config.databaseUrl),
        redis: config.redisUrl && spec.name !== 'sandbox' ? redactConnectionUrl(config.redisUrl) : undefined,
        sandbox: config.sandbox || undefined,
        pid: process.pid,
      },
      `opusclip ${spec.name} starting`,
    );
    return spec.run({
      name: spec.name,
      config,
      args: cmd.args,
      flags,
      io,
      env,
      logger,
      stopSignal: shutdown.stopSignal,
      signal: shutdown.signal,
    });
  })().catch((error: unknown): number => {
    const message = oneLine(error instanceof Error ? error.message : String(error), secrets);
    if (error instanceof UsageError) {
      io.err(`opusclip ${spec.name}: ${message} (see \`opusclip ${spec.name} --help\`)`);
      return EXIT.usage;
    }
    if (shutdown.signalled) {
      io.err(`opusclip ${spec.name}: stopped: ${message}`);
      return EXIT.interrupted;
    }
    if (isOpusError(error)) io.err(`opusclip ${spec.name}: error ${error.code}: ${message}`);
    else io.err(`opusclip ${spec.name}: ${message}`);
    return EXIT.failure;
  });
  try {
    return await Promise.race([work, shutdown.forced]);
  } finally {
    shutdown.dispose();
  }
}

function buildProgram(
  io: Output,
  env: NodeJS.ProcessEnv,
  options: MainOptions,
  onExit: (code: number) => void,
): Command {
  const colors = {
    out: () => colorsAllowed(process.stdout, env),
    err: () => colorsAllowed(process.stderr, env),
  };
  const output = (name: string) => ({
    writeOut: (s: string) => io.out(s.replace(/\n$/, '')),
    writeErr: (s: string) => io.err(s.replace(/\n$/, '')),
    getOutHasColors: colors.out,
    getErrHasColors: colors.err,
    outputError: (s: string, write: (s: string) => void) =>
      write(
        `opusclip${name ? ` ${name}` : ''}: ${s.trim().replace(/^error: /, '')} (see \`opusclip ${name ? `${name} ` : ''}--help\`)\n`,
      ),
  });
  const help = {
    styleTitle: (s: string) => styleText('bold', s),
    styleCommandText: (s: string) => styleText('bold', s),
  };
  const program = new Command('opusclip')
    .description(
      'The video-opusclip CLI: process YouTube videos into clips, inspect the store and the queue, run workers, the sandbox and the service.',
    )
    .version(packageVersion(), '-V, --version', 'print the version and exit')
    .helpOption('-h, --help', 'print this help and exit')
    .configureHelp(help)
    .configureOutput(output(''))
    .exitOverride()
    .addHelpText('after', `\n${EXIT_CODES_HELP}\n\nRun \`opusclip <command> --help\` for a command's flags.`);
  for (const spec of COMMANDS) {
    const cmd = program
      .command(`${spec.name}${spec.args ? ` ${spec.args}` : ''}`)
      .description(spec.summary)
      .helpOption('-h, --help', 'print this help and exit')
      .configureHelp(help)
      .configureOutput(output(spec.name))
      .exitOverride();
    for (const option of spec.options) cmd.addOption(option);
    const after = [spec.after, configHelp(), EXIT_CODES_HELP].filter(Boolean).join('\n\n');
    cmd.addHelpText('after', `\n${after}`);
    cmd.action(async (...actionArgs: unknown[]) => {
      const self = actionArgs[actionArgs.length - 1] as Command;
      onExit(await execute(spec, self, io, env, options));
    });
  }
  return program;
}

/**
 * Runs the CLI on `argv` (without the node and script paths); returns the exit status and never
 * throws. `--help`, `-h` and `--version` print and return 0 before anything is opened or read.
 */
export async function main(
  argv: string[],
  io: Output = stdio,
  env: NodeJS.ProcessEnv = process.env,
  options: MainOptions = {},
): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram(io, env, options, (c) => {
    code = c;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    io.err(`opusclip: ${oneLine(error instanceof Error ? error.message : String(error), keysOf(env))}`);
    return EXIT.failure;
  }
}

/**
 * The entry point of bin/opusclip.js: main() plus what only a whole process may do. Anything a
 * dependency throws or prints outside a command's own error handling becomes one redacted line (no
 * stack trace); once main() has returned, a handle a driver left open cannot keep the process alive.
 */
export async function runCli(argv: string[] = process.argv.slice(2)): Promise<void> {
  const secrets = keysOf(process.env);
  const line = (args: unknown[]): string => {
    const first = args[0] instanceof Error ? (args[0] as Error).message : format(...args);
    return oneLine(first.split('\n')[0] ?? '', secrets);
  };
  console.error = (...args: unknown[]) => void process.stderr.write(`opusclip: ${line(args)}\n`);
  console.warn = console.error;
  const fatal = (error: unknown): void => {
    process.stderr.write(`opusclip: unexpected error: ${line([error])}\n`);
    process.exit(EXIT.failure);
  };
  // A reader that went away (`opusclip jobs | head`) ends the output, not in an error.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
    });
  }
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
  const code = await main(argv);
  process.exitCode = code;
  setTimeout(() => process.exit(code), 250).unref();
}
