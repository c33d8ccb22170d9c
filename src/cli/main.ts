import { parseArgs } from 'node:util';
import { isOpusError } from '../core/errors.js';
import { redactSecrets } from '../core/redact.js';
import { type CliConfig, CONFIG_VARIABLES, loadConfig } from './cli-config.js';
import {
  runDemo,
  runEnqueue,
  runJobs,
  runProcess,
  runSandbox,
  runWorker,
} from './commands/pipeline-commands.js';
import { runServe } from './commands/serve-command.js';
import { runSetup, runStats, runVideo, runVideos } from './commands/store-commands.js';
import { type Output, stdio } from './output.js';

export interface CommandContext {
  config: CliConfig;
  args: string[];
  flags: Record<string, string | boolean | undefined>;
  io: Output;
  /** First Ctrl-C/SIGTERM: stop taking new work, let running work finish. */
  stopSignal: AbortSignal;
  /** Second Ctrl-C: abort running work (it stays resumable). */
  signal: AbortSignal;
}

type Command = (ctx: CommandContext) => Promise<number>;

const COMMANDS: Record<string, { run: Command; usage: string }> = {
  demo: {
    run: runDemo,
    usage: 'demo                                  the main job on SQLite with the sandbox; no keys needed',
  },
  process: {
    run: runProcess,
    usage: 'process <url...> [--file F] [--concurrency N] [--json] [--no-narration] [--no-thumbnails]',
  },
  setup: {
    run: runSetup,
    usage: 'setup                                 create or upgrade the tables (migrations, locked)',
  },
  videos: { run: runVideos, usage: 'videos [--status S] [--limit N]       list videos' },
  video: { run: runVideo, usage: 'video <id>                            one video with its clips' },
  stats: { run: runStats, usage: 'stats                                 counts and status distribution' },
  enqueue: {
    run: runEnqueue,
    usage: 'enqueue <url...> [--file F]           one BullMQ job per video (needs REDIS_URL)',
  },
  worker: {
    run: runWorker,
    usage: 'worker [--concurrency N] [--metrics-port P]  process queued jobs; SIGTERM drains',
  },
  jobs: { run: runJobs, usage: 'jobs                                  the queue: counts and recent jobs' },
  sandbox: { run: runSandbox, usage: 'sandbox [--port P] [--chaos RATE]     the API emulator on its own' },
  serve: {
    run: runServe,
    usage: 'serve [--port P]                      REST API, /metrics and the dashboard',
  },
};

const OPTIONS = {
  'database-url': { type: 'string' },
  'redis-url': { type: 'string' },
  'assets-dir': { type: 'string' },
  'log-level': { type: 'string' },
  sandbox: { type: 'boolean' },
  status: { type: 'string' },
  limit: { type: 'string' },
  file: { type: 'string' },
  concurrency: { type: 'string' },
  port: { type: 'string' },
  chaos: { type: 'string' },
  'stalled-interval': { type: 'string' },
  'metrics-port': { type: 'string' },
  config: { type: 'string' },
  'no-narration': { type: 'boolean' },
  'no-thumbnails': { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export function usage(): string {
  const lines = Object.values(COMMANDS).map((c) => `  opusclip ${c.usage}`);
  const vars = CONFIG_VARIABLES.map(
    (v) => `  ${v.name.padEnd(20)} ${v.flag ? `${v.flag.padEnd(16)}` : ''.padEnd(16)} ${v.meaning}`,
  );
  return ['Usage:', ...lines, '', 'Configuration (environment variable, flag):', ...vars].join('\n');
}

/** Runs the CLI; returns the exit status. Never throws. */
export async function main(
  argv: string[],
  io: Output = stdio,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    io.out(usage());
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.err(`opusclip: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: rest, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    io.err(`opusclip ${name}: ${(error as Error).message}`);
    return 2;
  }
  const stop = new AbortController();
  const abort = new AbortController();
  const onSignal = (): void => {
    if (stop.signal.aborted) abort.abort();
    else {
      stop.abort();
      io.err('opusclip: stopping after the running work (Ctrl-C again to abort it; it stays resumable)');
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const flags = parsed.values as Record<string, string | boolean | undefined>;
    const config = loadConfig(flags, env);
    return await command.run({
      config,
      args: parsed.positionals,
      flags,
      io,
      stopSignal: stop.signal,
      signal: abort.signal,
    });
  } catch (error) {
    const secrets = Object.values(loadKeys(env)).filter((k): k is string => !!k);
    if (isOpusError(error))
      io.err(`opusclip ${name}: error ${error.code}: ${redactSecrets(error.message, secrets)}`);
    else
      io.err(
        `opusclip ${name}: ${redactSecrets(error instanceof Error ? error.message : String(error), secrets)}`,
      );
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function loadKeys(env: NodeJS.ProcessEnv): Record<string, string | undefined> {
  return {
    y: env.YOUTUBE_API_KEY,
    o: env.OPENAI_API_KEY,
    s: env.STABILITY_API_KEY,
    e: env.ELEVENLABS_API_KEY,
  };
}
