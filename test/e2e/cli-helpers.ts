import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdir, readdir, rmdir, stat } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/** The repository root (the package users install). */
export const ROOT = new URL('../../', import.meta.url).pathname;
const BIN = join(ROOT, 'bin/opusclip.js');

async function newestMtime(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, await newestMtime(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, (await stat(path)).mtimeMs);
  }
  return newest;
}

async function isBuilt(): Promise<boolean> {
  try {
    const built = (await stat(join(ROOT, 'dist/cli/main.js'))).mtimeMs;
    return built >= (await newestMtime(join(ROOT, 'src')));
  } catch {
    return false;
  }
}

/**
 * Runs `npm run build` unless dist/ is newer than every source file. Test files running in parallel
 * take a directory lock, so only one of them builds.
 */
export async function ensureBuilt(): Promise<void> {
  const lock = join(tmpdir(), `opusclip-e2e-build-${Buffer.from(ROOT).toString('base64url').slice(-40)}`);
  const deadline = Date.now() + 300_000;
  for (;;) {
    if (await isBuilt()) return;
    try {
      await mkdir(lock);
    } catch {
      if (Date.now() > deadline) throw new Error('timed out waiting for another build');
      await new Promise((r) => setTimeout(r, 500));
      continue;
    }
    try {
      if (await isBuilt()) return;
      await new Promise<void>((resolve, reject) =>
        execFile('npm', ['run', 'build'], { cwd: ROOT, timeout: 300_000 }, (error, _out, err) =>
          error ? reject(new Error(`npm run build failed: ${err}`)) : resolve(),
        ),
      );
      return;
    } finally {
      await rmdir(lock).catch(() => {});
    }
  }
}

/** A clean environment: nothing of the test runner's configuration leaks into the child. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), ...extra };
}

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface CliProcess {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves once stderr or stdout matches. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  exited: Promise<CliRun>;
}

/** Starts `node bin/opusclip.js ...args` as a user would. */
export function startCli(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): CliProcess {
  const started = Date.now();
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? ROOT,
    env: cleanEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters: Array<() => void> = [];
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
    for (const w of waiters) w();
  });
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    for (const w of waiters) w();
  });
  const exited = new Promise<CliRun>((resolve) =>
    child.on('exit', (code, signal) => {
      // 'exit' can come before the pipes are drained; 'close' follows once they are.
      child.once('close', () => resolve({ code, signal, stdout, stderr, ms: Date.now() - started }));
    }),
  );
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    waitFor(pattern, timeoutMs = 60_000) {
      return new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (pattern.test(stderr) || pattern.test(stdout)) {
            clearTimeout(timer);
            resolve();
          }
        };
        const timer = setTimeout(
          () => reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${stdout}\n${stderr}`)),
          timeoutMs,
        );
        waiters.push(check);
        check();
        void exited.then(() => {
          check();
          reject(new Error(`exited before ${pattern}:\n${stdout}\n${stderr}`));
        });
      });
    },
  };
}

/** Runs the CLI to its end; a run that takes longer than `killAfterMs` is killed (and fails its test). */
export async function runCli(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string; killAfterMs?: number } = {},
): Promise<CliRun> {
  const p = startCli(args, options);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), options.killAfterMs ?? 60_000);
  try {
    return await p.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `fn` over `items`, `limit` at a time (the machine is shared). */
export async function eachLimited<T>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** A free TCP port on 127.0.0.1 (nothing listens on it once this resolves). */
export { sparePort as freePort } from '../cache/helpers.js';

/**
 * A TCP server that accepts connections and never answers: a dependency that is "up" but stuck.
 * `connections` counts how many clients connected.
 */
export async function stuckServer(): Promise<{
  port: number;
  connections: () => number;
  close(): Promise<void>;
}> {
  const sockets = new Set<Socket>();
  let count = 0;
  const server: Server = createServer((socket) => {
    count++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    connections: () => count,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A throwaway redis-server that requires `password`, resolved once it answers. */
export async function startRedisWithPassword(port: number, password: string): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--requirepass',
      password,
    ],
    { stdio: 'ignore' },
  );
  const deadline = Date.now() + 10_000;
  for (;;) {
    const probe = new Redis({
      port,
      password,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    probe.on('error', () => {});
    try {
      await probe.connect();
      await probe.ping();
      probe.disconnect();
      return child;
    } catch {
      probe.disconnect();
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error('redis-server did not start');
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await exited;
}

/** Lines of stderr that look like a stack trace or a driver's unhandled-error dump. */
export function stackLines(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => /^\s+at\s|Unhandled error event|^\s*\{$|^\s*errno:|node:internal/.test(l));
}
