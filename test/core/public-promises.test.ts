import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';

/**
 * Every promise-returning function of the published API reports bad arguments by rejecting: a caller's
 * `.catch()` must see every failure. This walks the package's exports map, finds each exported function
 * (and static method) whose declared return type is a Promise, and calls it with arguments of the wrong
 * kind: it must return a promise (never throw synchronously), and that promise must settle.
 */
const ROOT = join(import.meta.dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  exports: Record<string, string>;
};

function entryFiles(): Array<{ subpath: string; file: string }> {
  return Object.entries(pkg.exports).map(([subpath, target]) => ({
    subpath,
    file: join(ROOT, target.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts')),
  }));
}

interface PromiseFunction {
  subpath: string;
  file: string;
  name: string;
  /** For a static method: the class's export name. */
  owner?: string;
  params: number;
}

function returnsPromise(checker: ts.TypeChecker, signature: ts.Signature): boolean {
  const type = checker.getReturnTypeOfSignature(signature);
  const name = type.getSymbol()?.getName();
  return name === 'Promise' || name === 'PromiseLike';
}

/** Promise-returning public instance methods of each exported class, by class name. */
const instanceMethods = new Map<string, { subpath: string; methods: Map<string, number> }>();

function findPromiseFunctions(): PromiseFunction[] {
  const entries = entryFiles();
  const program = ts.createProgram(
    entries.map((e) => e.file),
    {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      strict: true,
      skipLibCheck: true,
      noEmit: true,
    },
  );
  const checker = program.getTypeChecker();
  const found = new Map<string, PromiseFunction>();
  for (const { subpath, file } of entries) {
    const source = program.getSourceFile(file);
    const moduleSymbol = source && checker.getSymbolAtLocation(source);
    if (!moduleSymbol) continue;
    for (const exported of checker.getExportsOfModule(moduleSymbol)) {
      const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      const decl = symbol.valueDeclaration;
      if (!decl) continue;
      const key = (owner: string, name: string) => `${owner}.${name}`;
      if (symbol.flags & ts.SymbolFlags.Function) {
        const signatures = checker.getTypeOfSymbolAtLocation(symbol, decl).getCallSignatures();
        if (signatures.some((s) => returnsPromise(checker, s)) && !found.has(key('', exported.name))) {
          const params = Math.max(...signatures.map((s) => s.getParameters().length));
          found.set(key('', exported.name), { subpath, file, name: exported.name, params });
        }
      } else if (symbol.flags & ts.SymbolFlags.Class) {
        const methods = new Map<string, number>();
        for (const member of checker.getDeclaredTypeOfSymbol(symbol).getProperties()) {
          if (!member.valueDeclaration || !(member.flags & ts.SymbolFlags.Method)) continue;
          if (member.name.startsWith('#')) continue;
          const signatures = checker
            .getTypeOfSymbolAtLocation(member, member.valueDeclaration)
            .getCallSignatures();
          if (signatures.some((s) => returnsPromise(checker, s)))
            methods.set(member.name, Math.max(...signatures.map((s) => s.getParameters().length)));
        }
        if (methods.size > 0 && !instanceMethods.has(exported.name))
          instanceMethods.set(exported.name, { subpath, methods });
        const classType = checker.getTypeOfSymbolAtLocation(symbol, decl);
        for (const member of classType.getProperties()) {
          if (!member.valueDeclaration || !(member.flags & ts.SymbolFlags.Method)) continue;
          const signatures = checker
            .getTypeOfSymbolAtLocation(member, member.valueDeclaration)
            .getCallSignatures();
          if (
            signatures.some((s) => returnsPromise(checker, s)) &&
            !found.has(key(exported.name, member.name))
          ) {
            const params = Math.max(...signatures.map((s) => s.getParameters().length));
            found.set(key(exported.name, member.name), {
              subpath,
              file,
              name: member.name,
              owner: exported.name,
              params,
            });
          }
        }
      }
    }
  }
  return [...found.values()];
}

const BAD_ARGUMENTS: Array<{ label: string; make: (n: number) => unknown[] }> = [
  { label: 'no arguments', make: () => [] },
  { label: 'null', make: (n) => Array.from({ length: Math.max(1, n) }, () => null) },
  { label: 'a symbol', make: (n) => Array.from({ length: Math.max(1, n) }, () => Symbol('bad')) },
  { label: 'NaN', make: (n) => Array.from({ length: Math.max(1, n) }, () => Number.NaN) },
  { label: 'a string of NULs', make: (n) => Array.from({ length: Math.max(1, n) }, () => '\u0000\u0000') },
];

/** Closes whatever a call that accepted its arguments opened (a sandbox, a database, a server). */
async function dispose(value: unknown): Promise<void> {
  if (typeof value !== 'object' || value === null) return;
  for (const method of ['close', 'quit', 'stop', 'destroy']) {
    const fn = (value as Record<string, unknown>)[method];
    if (typeof fn === 'function') {
      await Promise.resolve()
        .then(() => (fn as () => unknown).call(value))
        .catch(() => {});
      return;
    }
  }
}

function settleWithin<T>(promise: PromiseLike<T>, ms: number): Promise<'resolved' | 'rejected' | 'pending'> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('pending'), ms);
    timer.unref();
    promise.then(
      async (value) => {
        clearTimeout(timer);
        await dispose(value);
        resolve('resolved');
      },
      () => {
        clearTimeout(timer);
        resolve('rejected');
      },
    );
  });
}

interface Findings {
  threw: string[];
  notPromise: string[];
  hung: string[];
}

async function callWithBadArguments(
  label: string,
  target: unknown,
  fn: (...args: unknown[]) => unknown,
  params: number,
  found: Findings,
): Promise<void> {
  for (const bad of BAD_ARGUMENTS) {
    let result: unknown;
    try {
      result = fn.apply(target, bad.make(params));
    } catch (error) {
      found.threw.push(`${label} (${bad.label}): ${(error as Error)?.message ?? String(error)}`);
      continue;
    }
    if (!result || typeof (result as PromiseLike<unknown>).then !== 'function') {
      found.notPromise.push(`${label} (${bad.label})`);
      continue;
    }
    if ((await settleWithin(result as PromiseLike<unknown>, 15_000)) === 'pending') {
      found.hung.push(`${label} (${bad.label})`);
    }
  }
}

/** Methods that end the instance, called by the test's own cleanup instead. */
const ENDING = new Set(['close', 'quit', 'destroy', 'disconnect', 'drainRefreshes']);

describe('the public API: promises reject, never throw', { timeout: 300_000 }, () => {
  it('every exported promise-returning function and static method, called with bad arguments', async () => {
    const functions = findPromiseFunctions();
    assert.ok(functions.length >= 5, `found only ${functions.length} promise-returning functions`);
    const found: Findings = { threw: [], notPromise: [], hung: [] };
    for (const f of functions) {
      const mod = (await import(pathToFileURL(f.file).href)) as Record<string, unknown>;
      const target = f.owner ? (mod[f.owner] as Record<string, unknown> | undefined) : mod;
      const fn = target?.[f.name];
      if (typeof fn !== 'function') continue;
      const label = `${f.subpath} ${f.owner ? `${f.owner}.` : ''}${f.name}`;
      await callWithBadArguments(label, target, fn as (...args: unknown[]) => unknown, f.params, found);
    }
    assert.deepEqual(found.threw, [], 'threw synchronously instead of rejecting');
    assert.deepEqual(found.notPromise, [], 'returned something that is not a promise');
    assert.deepEqual(found.hung, [], 'neither resolved nor rejected within 15 s');
  });

  it('every promise-returning method of the main classes, on a live instance, called with bad arguments', async () => {
    if (instanceMethods.size === 0) findPromiseFunctions();
    const { createDatabase } = await import('../../src/db/index.js');
    const { setupStore, VideoStore } = await import('../../src/store/index.js');
    type StoreSchema = import('../../src/store/index.js').StoreSchema;
    const { Cache } = await import('../../src/cache/index.js');
    const { CircuitBreaker, Budget } = await import('../../src/resilience/index.js');
    const { HttpClient } = await import('../../src/http/index.js');
    const { createSandbox } = await import('../../src/sandbox/index.js');
    const { YouTubeClient, OpenAIClient, StabilityClient, ElevenLabsClient, sandboxBaseUrls } = await import(
      '../../src/apis/index.js'
    );
    const sandbox = await createSandbox();
    const urls = sandboxBaseUrls(sandbox.url);
    const db = await createDatabase<StoreSchema>({ url: 'sqlite::memory:' });
    await setupStore(db);
    const instances: Record<string, () => object> = {
      Database: () => db,
      VideoStore: () => new VideoStore(db),
      Cache: () => new Cache(),
      CircuitBreaker: () => new CircuitBreaker({ name: 'probe' }),
      Budget: () => new Budget({ name: 'probe', windows: [{ limits: [10], windowMs: 1000 }] as never }),
      HttpClient: () => new HttpClient({ service: 'probe', baseUrl: sandbox.url, maxRetries: 0 }),
      YouTubeClient: () => new YouTubeClient({ apiKey: 'k', baseUrl: urls.youtube, maxRetries: 0 }),
      OpenAIClient: () => new OpenAIClient({ apiKey: 'k', baseUrl: urls.openai, maxRetries: 0 }),
      StabilityClient: () => new StabilityClient({ apiKey: 'k', baseUrl: urls.stability, maxRetries: 0 }),
      ElevenLabsClient: () => new ElevenLabsClient({ apiKey: 'k', baseUrl: urls.elevenlabs, maxRetries: 0 }),
    };
    const found: Findings = { threw: [], notPromise: [], hung: [] };
    const walked: string[] = [];
    try {
      for (const [name, make] of Object.entries(instances)) {
        const entry = instanceMethods.get(name);
        assert.ok(entry, `${name} is not an exported class with promise-returning methods`);
        const instance = make() as Record<string, unknown>;
        for (const [method, params] of entry.methods) {
          if (ENDING.has(method)) continue;
          const fn = instance[method];
          if (typeof fn !== 'function') continue;
          walked.push(`${name}.${method}`);
          await callWithBadArguments(
            `${entry.subpath} ${name}#${method}`,
            instance,
            fn as never,
            params,
            found,
          );
        }
        if (name !== 'Database') await dispose(instance);
      }
    } finally {
      await db.close();
      await sandbox.close();
    }
    assert.ok(walked.length >= 40, `walked only ${walked.length} methods`);
    assert.deepEqual(found.threw, [], 'threw synchronously instead of rejecting');
    assert.deepEqual(found.notPromise, [], 'returned something that is not a promise');
    assert.deepEqual(found.hung, [], 'neither resolved nor rejected within 15 s');
  });
});
