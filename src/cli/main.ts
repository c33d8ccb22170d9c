import { parseArgs } from 'node:util';
import { isOpusError } from '../core/errors.js';
import { redactSecrets } from '../core/redact.js';
import { type CliConfig, CONFIG_VARIABLES, loadConfig } from './cli-config.js';
import { runDemo } from './commands/demo-command.js';
import { runSetup, runStats, runVideo, runVideos } from './commands/store-commands.js';
import { type Output, stdio } from './output.js';

export interface CommandContext {
  config: CliConfig;
  args: string[];
  flags: Record<string, string | boolean | undefined>;
  io: Output;
  signal: AbortSignal;
}

type Command = (ctx: CommandContext) => Promise<number>;

const COMMANDS: Record<string, { run: Command; usage: string }> = {
  setup: {
    run: runSetup,
    usage: 'setup                      create or upgrade the tables (migrations, locked)',
  },
  demo: {
    run: runDemo,
    usage: 'demo                       the main job on SQLite with the sandbox, no keys needed',
  },
  videos: { run: runVideos, usage: 'videos [--status S] [--limit N]   list videos' },
  video: { run: runVideo, usage: 'video <id>                 one video with its clips' },
  stats: { run: runStats, usage: 'stats                      counts and status distribution' },
};

const OPTIONS = {
  'database-url': { type: 'string' },
  'redis-url': { type: 'string' },
  'assets-dir': { type: 'string' },
  'log-level': { type: 'string' },
  sandbox: { type: 'boolean' },
  status: { type: 'string' },
  limit: { type: 'string' },
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
  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const flags = parsed.values as Record<string, string | boolean | undefined>;
    const config = loadConfig(flags, env);
    return await command.run({ config, args: parsed.positionals, flags, io, signal: controller.signal });
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
