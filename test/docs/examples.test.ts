import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';

// Every ```ts block of README.md and docs/**/*.md (docs/_incoming/ excepted) is written to a file of its own
// in a scratch folder and type-checked by tsc under strict NodeNext settings, with `video-opusclip` and
// `video-opusclip/<layer>` mapped onto the package's sources. A block must therefore be complete: its
// imports, and `declare const` for whatever it takes from the surrounding text.

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');

interface Example {
  file: string; // repository-relative markdown path
  line: number; // line of the opening fence
  code: string;
}

async function markdownFiles(): Promise<string[]> {
  const out = [join(root, 'README.md')];
  async function walk(dir: string): Promise<void> {
    for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== '_incoming') await walk(path);
      } else if (entry.name.endsWith('.md')) out.push(path);
    }
  }
  await walk(join(root, 'docs'));
  return out;
}

/** The ```ts / ```typescript blocks of one markdown text. */
function extractExamples(file: string, text: string): Example[] {
  const examples: Example[] = [];
  const lines = text.split('\n');
  let open: { line: number; body: string[] } | undefined;
  for (const [i, raw] of lines.entries()) {
    const line = raw.trimEnd();
    if (open === undefined) {
      if (/^```(ts|typescript)\s*$/.test(line)) open = { line: i + 1, body: [] };
    } else if (/^```\s*$/.test(line)) {
      examples.push({ file, line: open.line, code: open.body.join('\n') });
      open = undefined;
    } else {
      open.body.push(raw);
    }
  }
  assert.equal(open, undefined, `${file}: a \`\`\`ts block opened on line ${open?.line} is never closed`);
  return examples;
}

const compilerOptions = {
  target: 'ES2022',
  lib: ['ES2023'],
  module: 'NodeNext',
  moduleResolution: 'NodeNext',
  strict: true,
  noUncheckedIndexedAccess: true,
  exactOptionalPropertyTypes: true,
  noImplicitOverride: true,
  esModuleInterop: true,
  skipLibCheck: true,
  resolveJsonModule: true,
  isolatedModules: true,
  verbatimModuleSyntax: true,
  types: ['node'],
  noEmit: true,
  paths: {
    'video-opusclip': [join(root, 'src/index.ts')],
    'video-opusclip/*': [join(root, 'src/*/index.ts')],
  },
};

// A block that must fail: proves the mapping resolves real types (a wrong method is caught) rather than
// every import silently becoming `any`.
const CONTROL = `import { Cache } from 'video-opusclip/cache';
const cache = new Cache({ namespace: 'control' });
await cache.noSuchMethod();
`;

describe('documentation examples', () => {
  let dir = '';
  const examples: Example[] = [];
  const fileOf = new Map<string, Example>();

  before(async () => {
    for (const path of await markdownFiles()) {
      examples.push(...extractExamples(relative(root, path), await readFile(path, 'utf8')));
    }
    dir = await mkdtemp(join(tmpdir(), 'opus-doc-examples-'));
    await symlink(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
    // Module files with top-level await; a block without import or export still becomes a module.
    await writeFile(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    for (const [n, ex] of examples.entries()) {
      const name = `${ex.file.replace(/[^A-Za-z0-9]+/g, '-')}-${ex.line}-${n}.ts`;
      fileOf.set(name, ex);
      const code = /^\s*(import|export)\s/m.test(ex.code) ? ex.code : `${ex.code}\nexport {};`;
      await writeFile(join(dir, name), `${code}\n`);
    }
    await writeFile(join(dir, 'negative-control.ts'), CONTROL);
    await writeFile(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions, include: ['*.ts'] }, null, 2),
    );
  });

  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('finds the examples of README.md and every docs page that has code', () => {
    const files = new Set(examples.map((e) => e.file));
    assert.ok(files.has('README.md'), 'README.md has TypeScript examples');
    assert.ok(examples.length >= 20, `only ${examples.length} examples found`);
    assert.ok(![...files].some((f) => f.includes('_incoming')), 'docs/_incoming/ is skipped');
  });

  it('extracts fenced blocks with their line numbers', () => {
    const found = extractExamples(
      'x.md',
      'a\n```ts\nconst a = 1;\n```\n```sh\nls\n```\n```typescript\nb\n```\n',
    );
    assert.deepEqual(
      found.map((e) => [e.line, e.code]),
      [
        [2, 'const a = 1;'],
        [8, 'b'],
      ],
    );
  });

  it('type-checks every example against the package (strict, NodeNext)', { timeout: 300_000 }, async () => {
    const tsc = join(root, 'node_modules/typescript/bin/tsc');
    const output = await run(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json'), '--pretty', 'false'], {
      cwd: dir,
      maxBuffer: 16 * 1024 * 1024,
    }).then(
      (r) => r.stdout + r.stderr,
      (e: { stdout?: string; stderr?: string }) => `${e.stdout ?? ''}${e.stderr ?? ''}`,
    );
    const errors = output.split('\n').filter((l) => /error TS\d+/.test(l));
    const control = errors.filter((l) => l.startsWith('negative-control.ts'));
    assert.equal(control.length, 1, `the negative control must fail exactly once:\n${output}`);
    assert.match(control[0] ?? '', /TS2339.*noSuchMethod/);
    // Map each remaining error back to the markdown line it comes from.
    const rest = errors
      .filter((l) => !l.startsWith('negative-control.ts'))
      .map((l) => {
        const m = /^(.+?\.ts)\((\d+),(\d+)\): (.*)$/.exec(l);
        const ex = m ? fileOf.get(m[1] ?? '') : undefined;
        return ex && m ? `${ex.file}:${ex.line + Number(m[2])}: ${m[4]}` : l;
      });
    assert.deepEqual(rest, [], `documentation examples do not compile:\n${rest.join('\n')}`);
  });
});
