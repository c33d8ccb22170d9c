import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { TEST_MYSQL_URL, TEST_PG_URL, uniqueName } from '../support/env.js';

// The package as a user gets it: `npm pack` of a staged copy (the `files` of package.json plus a fresh
// build, so the repository's own dist/ is never touched), installed into a scratch project, a consumer
// type-checked under `module: nodenext` and run, the installed binary, and are-the-types-wrong.

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
const tsc = join(root, 'node_modules/typescript/bin/tsc');
const attw = join(root, 'node_modules/@arethetypeswrong/cli/dist/index.js');

interface PackageJson {
  name: string;
  version: string;
  license: string;
  files: string[];
  bin: Record<string, string>;
  engines: Record<string, string>;
  exports: Record<string, string>;
  dependencies: Record<string, string>;
}

interface PackResult {
  filename: string;
  integrity: string;
  files: Array<{ path: string }>;
}

/** The values the main entry exports (its types are checked by the consumer compiling). */
const ROOT_VALUES = [
  'Cache',
  'OpusError',
  'VideoPipeline',
  'VideoStore',
  'createApiClients',
  'createDatabase',
  'createPipelinePorts',
  'createSandbox',
  'createServer',
  'isTransient',
  'readVideoUrls',
  'retryTime',
  'sandboxBaseUrls',
  'setupStore',
];

interface LockEntry {
  dev?: boolean;
  [key: string]: unknown;
}

// A user's program: the main entry for one pipeline run against a sandbox on PostgreSQL, and every
// other public subpath.
const CONSUMER = `import {
  Cache,
  createApiClients,
  createDatabase,
  createPipelinePorts,
  createSandbox,
  isTransient,
  OpusError,
  readVideoUrls,
  sandboxBaseUrls,
  setupStore,
  VideoPipeline,
  VideoStore,
} from 'video-opusclip';
import * as root from 'video-opusclip';
import { createApiClients as apisCreateApiClients } from 'video-opusclip/apis';
import { Cache as CacheOfCache } from 'video-opusclip/cache';
import { OpusError as CoreOpusError, isTransient as coreIsTransient } from 'video-opusclip/core';
import { parseDatabaseUrl } from 'video-opusclip/db';
import { HttpClient } from 'video-opusclip/http';
import { PipelineQueue } from 'video-opusclip/pipeline';
import { openAiWindows } from 'video-opusclip/apis';
import { Budget } from 'video-opusclip/resilience';
import { ContractValidator } from 'video-opusclip/sandbox';
import { createMetricsRegistry } from 'video-opusclip/server';
import type { StoreSchema } from 'video-opusclip/store';
import { FakeClock } from 'video-opusclip/testing';

const url = process.env.CONSUMER_PG_URL ?? '';
const mysqlUrl = process.env.CONSUMER_MYSQL_URL ?? '';
const schema = process.env.CONSUMER_PG_SCHEMA ?? '';
const assetsDir = process.env.CONSUMER_ASSETS_DIR ?? '';

const sandbox = await createSandbox({ port: 0 });
const db = await createDatabase<StoreSchema>({ url, schema });
await setupStore(db);
const cache = new Cache({ namespace: 'consumer' });
const store = new VideoStore(db, { cache });
const apis = createApiClients({
  baseUrls: sandboxBaseUrls(sandbox.url),
  youtube: { apiKey: 'k' },
  openai: { apiKey: 'k' },
  stability: { apiKey: 'k' },
  elevenlabs: { apiKey: 'k' },
});
const pipeline = new VideoPipeline({ store, ports: createPipelinePorts(apis), assetsDir });
const summary = await pipeline.run(readVideoUrls(['https://youtu.be/dQw4w9WgXcQ']));

const http = new HttpClient({
  service: 'sandbox',
  baseUrl: sandbox.url,
  budget: new Budget({ name: 'consumer', windows: openAiWindows(10, 10_000) }),
});
const missing: unknown = await http.get('no-such-route').then(
  () => undefined,
  (error: unknown) => error,
);
const registry = createMetricsRegistry({ db, cache });
const metrics = await registry.metrics();
const stats = await store.stats();
// MySQL without the optional \`mariadb\` connector: statements go one at a time on mysql2, and asking
// for pipelining says what to install.
const mysqlDb = await createDatabase({ url: mysqlUrl });
const mysqlOne = await mysqlDb.executeQuery<{ one: number }>('SELECT 1 AS one');
const mysqlPipelined = mysqlDb.metrics().pipeline !== undefined;
await mysqlDb.close();
const mysqlAskedToPipeline = await createDatabase({ url: mysqlUrl, pipeline: true }).then(
  async (opened) => {
    await opened.close();
    return 'opened';
  },
  (error: unknown) => (error instanceof OpusError ? \`\${error.code}: \${error.message}\` : String(error)),
);
const clock = new FakeClock(0);
const slept = clock.sleep(1000).then(() => clock.now());
await clock.advance(1000);

console.log(
  JSON.stringify({
    completed: summary.completed,
    clips: summary.clips,
    completedVideos: stats.videos.byStatus.completed,
    httpErrorIsOpusError: missing instanceof OpusError,
    httpErrorTransient: isTransient(missing),
    hasDbSeries: metrics.includes('opusclip_db_'),
    rootIsTheLayersOwn:
      root.OpusError === CoreOpusError &&
      isTransient === coreIsTransient &&
      Cache === CacheOfCache &&
      createApiClients === apisCreateApiClients,
    rootNames: Object.keys(root).sort(),
    subpathsLoaded: [PipelineQueue, ContractValidator, parseDatabaseUrl].every((f) => typeof f === 'function'),
    fakeClockSlept: await slept,
    mysqlOne: mysqlOne[0]?.one,
    mysqlPipelined,
    mysqlAskedToPipeline,
    resolved: import.meta.resolve('video-opusclip/db'),
  }),
);

registry.close();
await http.close();
await apis.close();
await cache.close();
await db.close();
await sandbox.close();
`;

describe('the packed tarball, installed in a scratch project', { timeout: 900_000 }, () => {
  let work = '';
  let stage = '';
  let consumer = '';
  let tarball = '';
  let packed: PackResult;
  let pkg: PackageJson;
  const schema = uniqueName('pkg').toLowerCase();

  before(async () => {
    pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as PackageJson;
    work = await mkdtemp(join(tmpdir(), 'opus-tarball-'));
    stage = join(work, 'stage');
    consumer = join(work, 'consumer');
    await mkdir(stage);
    await mkdir(consumer);

    // Stage what `files` names (dist is built fresh below), then pack without lifecycle scripts.
    for (const name of ['package.json', 'README.md', 'LICENSE', ...pkg.files.filter((f) => f !== 'dist')]) {
      await mkdir(dirname(join(stage, name)), { recursive: true });
      await cp(join(root, name), join(stage, name), { recursive: true });
    }
    await run(
      process.execPath,
      [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', join(stage, 'dist')],
      {
        cwd: root,
      },
    );
    const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], {
      cwd: stage,
      maxBuffer: 16 * 1024 * 1024,
    });
    packed = (JSON.parse(stdout) as PackResult[])[0] as PackResult;
    tarball = join(work, packed.filename);

    // The scratch project. Its lockfile takes the repository's locked versions of the production
    // dependencies, so `npm ci --offline` installs from the npm cache; without a usable cache it falls
    // back to resolving from the registry. Install scripts are skipped: no native build is needed to
    // import the package or to run it on PostgreSQL.
    const spec = `file:../${packed.filename}`;
    await writeFile(
      join(consumer, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: { [pkg.name]: spec } }),
    );
    const lock = JSON.parse(await readFile(join(root, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, LockEntry>;
    };
    const packages: Record<string, unknown> = {
      '': { name: 'consumer', dependencies: { [pkg.name]: spec } },
      [`node_modules/${pkg.name}`]: {
        version: pkg.version,
        resolved: spec,
        integrity: packed.integrity,
        license: pkg.license,
        dependencies: pkg.dependencies,
        bin: pkg.bin,
        engines: pkg.engines,
      },
    };
    for (const [path, entry] of Object.entries(lock.packages)) {
      if (path !== '' && !entry.dev) packages[path] = entry;
    }
    await writeFile(
      join(consumer, 'package-lock.json'),
      JSON.stringify({ name: 'consumer', lockfileVersion: 3, requires: true, packages }),
    );
    const quiet = ['--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'];
    try {
      await run('npm', ['ci', '--offline', ...quiet], { cwd: consumer });
    } catch {
      await rm(join(consumer, 'package-lock.json'), { force: true });
      await run('npm', ['install', '--prefer-offline', ...quiet], { cwd: consumer });
    }

    await writeFile(join(consumer, 'consumer.ts'), CONSUMER);
    await writeFile(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          lib: ['ES2023'],
          module: 'nodenext',
          moduleResolution: 'nodenext',
          strict: true,
          skipLibCheck: false,
          types: ['node'],
          typeRoots: [join(root, 'node_modules/@types')],
          outDir: 'out',
        },
        files: ['consumer.ts'],
      }),
    );
    const client = new pg.Client({ connectionString: TEST_PG_URL });
    await client.connect();
    await client.query(`CREATE SCHEMA ${schema}`);
    await client.end();
  });

  after(async () => {
    const client = new pg.Client({ connectionString: TEST_PG_URL });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.end();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('ships the licence, compiled code with declarations, and neither sources nor source maps', () => {
    const files = new Set(packed.files.map((f) => f.path));
    for (const name of ['LICENSE', 'README.md', 'package.json', 'bin/opusclip.js']) {
      assert.ok(files.has(name), `${name} is in the tarball`);
    }
    for (const [subpath, target] of Object.entries(pkg.exports)) {
      const js = target.replace(/^\.\//, '');
      assert.ok(files.has(js), `${subpath} → ${js} is in the tarball`);
      assert.ok(files.has(js.replace(/\.js$/, '.d.ts')), `${subpath} has its declarations`);
    }
    assert.deepEqual(
      [...files].filter((f) => f.endsWith('.map')),
      [],
      'no source maps (their sources are not shipped)',
    );
    assert.deepEqual(
      [...files].filter((f) => f.startsWith('src/') && !f.startsWith('src/server/dashboard/')),
      [],
      'no TypeScript sources besides the dashboard',
    );
  });

  it('type-checks a consumer of every public subpath under module nodenext', async () => {
    const out = await run(process.execPath, [tsc, '-p', 'tsconfig.json', '--pretty', 'false'], {
      cwd: consumer,
    }).then(
      () => '',
      (e: { stdout?: string }) => e.stdout ?? String(e),
    );
    assert.equal(out, '', `the consumer does not compile against the installed package:\n${out}`);
  });

  it('runs the consumer against the installed package, resolved through its exports map', async () => {
    const { stdout } = await run(process.execPath, [join(consumer, 'out/consumer.js')], {
      cwd: consumer,
      env: {
        ...process.env,
        CONSUMER_PG_URL: TEST_PG_URL,
        CONSUMER_PG_SCHEMA: schema,
        CONSUMER_MYSQL_URL: TEST_MYSQL_URL,
        CONSUMER_ASSETS_DIR: join(consumer, 'assets'),
      },
    });
    const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
    assert.equal(result.resolved, `file://${join(consumer, 'node_modules', pkg.name, 'dist/db/index.js')}`);
    assert.equal(result.completed, 1);
    assert.ok(Number(result.clips) > 0, 'the pipeline made clips');
    assert.equal(result.completedVideos, 1);
    assert.equal(result.httpErrorIsOpusError, true);
    assert.equal(result.httpErrorTransient, false, 'a 404 is permanent');
    assert.equal(result.hasDbSeries, true);
    assert.equal(result.rootIsTheLayersOwn, true, "the main entry's names are the layers' own");
    assert.deepEqual(result.rootNames, ROOT_VALUES, 'the main entry exports exactly these values');
    assert.equal(result.subpathsLoaded, true);
    assert.equal(result.fakeClockSlept, 1000);
    // The optional peer `mariadb` is not installed with the package: MySQL runs without pipelining.
    await assert.rejects(readdir(join(consumer, 'node_modules/mariadb')), { code: 'ENOENT' });
    assert.equal(result.mysqlOne, 1);
    assert.equal(result.mysqlPipelined, false);
    assert.match(
      String(result.mysqlAskedToPipeline),
      /^ERR_INVALID_ARGUMENT: .*`pipeline`.*npm install mariadb/,
    );
  });

  it('installs the opusclip binary, whose --help and --version print and change nothing', async () => {
    const before = (await readdir(consumer)).sort();
    const { stdout } = await run(join(consumer, 'node_modules/.bin/opusclip'), ['--help'], { cwd: consumer });
    assert.match(stdout, /^\s+demo\b/m);
    assert.match(stdout, /^\s+serve\b/m);
    const version = await run(join(consumer, 'node_modules/.bin/opusclip'), ['--version'], { cwd: consumer });
    const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string };
    assert.equal(version.stdout.trim(), pkg.version);
    assert.deepEqual((await readdir(consumer)).sort(), before, '--help and --version created no file');
  });

  it('has types that resolve for ESM importers and bundlers (are-the-types-wrong)', async () => {
    const { stdout } = await run(
      process.execPath,
      [attw, tarball, '--profile', 'esm-only', '--format', 'json'],
      { cwd: work, maxBuffer: 64 * 1024 * 1024 },
    );
    const report = JSON.parse(stdout) as {
      analysis: {
        entrypoints: Record<string, unknown>;
        problems?: Array<{ kind: string; entrypoint?: string; resolutionKind?: string }>;
      };
    };
    assert.deepEqual(
      Object.keys(report.analysis.entrypoints).sort(),
      Object.keys(pkg.exports).sort(),
      'every export is analysed',
    );
    const problems = (report.analysis.problems ?? []).filter(
      (p) =>
        p.resolutionKind === undefined || p.resolutionKind === 'node16-esm' || p.resolutionKind === 'bundler',
    );
    assert.deepEqual(problems, []);
  });
});
