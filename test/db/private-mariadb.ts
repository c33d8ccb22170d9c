import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';

/**
 * A throwaway MariaDB server with its own data directory and port, for server options the shared test
 * server cannot have (they are not settable at runtime, like innodb_rollback_on_timeout).
 */
export interface PrivateMariadb {
  /** mysql://root@127.0.0.1:<port>/test */
  readonly url: string;
  stop(): Promise<void>;
}

const SMALL = ['--innodb-log-file-size=4M', '--innodb-buffer-pool-size=16M'];

function binary(names: string[]): string {
  for (const name of names) {
    for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/usr/bin'])) {
      const path = join(dir, name);
      if (existsSync(path)) return path;
    }
  }
  throw new Error(`none of ${names.join(', ')} found on PATH or in /usr/sbin`);
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function startPrivateMariadb(serverOptions: string[]): Promise<PrivateMariadb> {
  const dir = await mkdtemp(join(tmpdir(), 'opus-mariadb-'));
  const user = `--user=${userInfo().username}`;
  const data = `--datadir=${join(dir, 'data')}`;
  await promisify(execFile)(binary(['mariadb-install-db', 'mysql_install_db']), [
    '--no-defaults',
    data,
    '--auth-root-authentication-method=normal',
    '--skip-test-db',
    user,
    ...SMALL,
  ]);
  const port = await freePort();
  const child: ChildProcess = spawn(
    binary(['mariadbd', 'mysqld']),
    [
      '--no-defaults',
      data,
      user,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      `--socket=${join(dir, 'mysqld.sock')}`,
      `--pid-file=${join(dir, 'mysqld.pid')}`,
      ...SMALL,
      ...serverOptions,
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  const base = `mysql://root@127.0.0.1:${port}/`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const conn = await mysql.createConnection({ uri: base });
      await conn.query('CREATE DATABASE IF NOT EXISTS test');
      await conn.end();
      break;
    } catch (error) {
      if (Date.now() > deadline || child.exitCode !== null) {
        await stop();
        throw error;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { url: `${base}test`, stop };
}
