import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createDatabase, type Database } from '../../src/db/index.js';
import { createGateway, createServer } from '../../src/server/index.js';
import { type StoreSchema, setupStore } from '../../src/store/index.js';

const REDOCLY = fileURLToPath(new URL('../../node_modules/@redocly/cli/bin/cli.js', import.meta.url));
const CONFIG = fileURLToPath(new URL('./redocly.yaml', import.meta.url));
const PUBLIC_OPERATIONS = ['getHealth', 'getReadiness'];

type Operation = {
  operationId?: string;
  summary?: string;
  security?: unknown[];
  responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }>;
};
type OpenApi = {
  servers?: Array<{ url: string }>;
  security?: unknown[];
  paths: Record<string, Record<string, Operation>>;
};

/** Runs Redocly CLI offline on `file` with the project's lint config; resolves with its exit code and output. */
function redoclyLint(file: string, home: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [REDOCLY, 'lint', file, '--config', CONFIG, '--format=stylish'], {
      cwd: home,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: home,
        REDOCLY_TELEMETRY: 'off',
        REDOCLY_SUPPRESS_NOTIFICATIONS: 'true',
        REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true',
        NO_COLOR: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => {
      output += String(d);
    });
    child.stderr.on('data', (d) => {
      output += String(d);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('OpenAPI document', () => {
  let db: Database<StoreSchema>;
  let dir: string;

  before(async () => {
    db = await createDatabase<StoreSchema>({ url: 'sqlite::memory:' });
    await setupStore(db);
    dir = await mkdtemp(join(tmpdir(), 'opus-openapi-'));
  });

  after(async () => {
    await db?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const documentOf = async (options: {
    auth: boolean;
    publicMetrics?: boolean;
    gateway?: boolean;
  }): Promise<OpenApi> => {
    // The vendor gateway's routes are documented too (nothing is sent: the document only).
    const gateway = options.gateway
      ? createGateway({ vendors: { openai: { apiKey: 'lint-vendor-key' } } })
      : undefined;
    const server = await createServer({
      db,
      auth: options.auth ? { apiKeys: ['lint-key'] } : false,
      ...(options.publicMetrics ? { publicMetrics: true } : {}),
      ...(gateway ? { gateway } : {}),
      logger: { level: 'silent' },
    });
    try {
      const res = await server.app.inject({ method: 'GET', url: '/docs/json' });
      assert.equal(res.statusCode, 200);
      return res.json() as OpenApi;
    } finally {
      await server.close();
      await gateway?.close();
    }
  };

  it('names, summarises and secures every operation, and answers every error with the Error schema', async () => {
    const doc = await documentOf({ auth: true, gateway: true });
    assert.ok((doc.servers ?? []).length > 0, 'servers present');
    assert.deepEqual(doc.security, [{ apiKey: [] }, { bearer: [] }]);
    const ids = new Set<string>();
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        const what = `${method.toUpperCase()} ${path}`;
        assert.ok(op.operationId, `${what} has an operationId`);
        assert.ok(op.summary, `${what} has a summary`);
        ids.add(op.operationId);
        if (PUBLIC_OPERATIONS.includes(op.operationId))
          assert.deepEqual(op.security, [], `${what} is public`);
        else {
          assert.equal(op.security, undefined, `${what} needs the key`);
          assert.ok(op.responses['401'], `${what} documents 401`);
        }
        for (const [status, response] of Object.entries(op.responses)) {
          if (Number(status) < 400 || (op.operationId === 'getReadiness' && status === '503')) continue;
          assert.equal(
            response.content?.['application/json']?.schema?.$ref,
            '#/components/schemas/Error',
            `${what} ${status} uses the Error schema`,
          );
        }
      }
    }
    // 12 routes of the service and the gateway's 5 methods.
    assert.equal(ids.size, 17);
    assert.ok(ids.has('gatewayPost'));
    const open = await documentOf({ auth: true, publicMetrics: true });
    assert.deepEqual(open.paths['/metrics']?.get?.security, []);
  });

  for (const auth of [true, false]) {
    it(`passes Redocly CLI's lint with no error or warning (auth ${auth ? 'on' : 'off'})`, async () => {
      const file = join(dir, `openapi-${auth}.json`);
      await writeFile(file, JSON.stringify(await documentOf({ auth, gateway: true }), null, 2));
      const { code, output } = await redoclyLint(file, dir);
      assert.equal(code, 0, output);
      assert.match(output, /Your API description is valid/, output);
      assert.doesNotMatch(output, /\b(?:warning|error)s?\b.*\b(?:found|failed)\b/i, output);
    });
  }

  it('fails the lint when an operation loses its operationId (the lint is real)', async () => {
    const doc = await documentOf({ auth: true });
    const op = doc.paths['/api/stats']?.get;
    assert.ok(op);
    delete op.operationId;
    const file = join(dir, 'openapi-broken.json');
    await writeFile(file, JSON.stringify(doc));
    const { code, output } = await redoclyLint(file, dir);
    assert.notEqual(code, 0);
    assert.match(output, /operation-operationId/);
  });
});
