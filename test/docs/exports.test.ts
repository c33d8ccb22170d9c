import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';

// docs/exports.md lists, for the main entry and each subpath it gives in full, exactly what that entry
// exports: one `import { … } from '<entry>'` block each (test/docs/examples.test.ts type-checks the blocks,
// so every listed name exists; this test checks that none is missing).

const root = resolve(import.meta.dirname, '../..');
const FULL = ['', 'core', 'db', 'pipeline', 'sandbox', 'server', 'testing'];

function exportsOf(entries: string[]): Map<string, string[]> {
  const files = entries.map((e) => resolve(root, 'src', e, 'index.ts'));
  const program = ts.createProgram(files, {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    noEmit: true,
  });
  const checker = program.getTypeChecker();
  const out = new Map<string, string[]>();
  for (const [i, file] of files.entries()) {
    const source = program.getSourceFile(file);
    const symbol = source && checker.getSymbolAtLocation(source);
    assert.ok(symbol, `${file} is a module`);
    out.set(
      entries[i] ?? '',
      checker
        .getExportsOfModule(symbol)
        .map((s) => s.name)
        .sort(),
    );
  }
  return out;
}

function listedOnPage(page: string, entry: string): string[] | undefined {
  const spec = entry === '' ? 'video-opusclip' : `video-opusclip/${entry}`;
  const block = new RegExp(`^import \\{([^}]*)\\} from '${spec.replace('/', '\\/')}';$`, 'm').exec(page);
  return block?.[1]
    ?.split(',')
    .map((name) => name.trim().replace(/^type\s+/, ''))
    .filter((name) => name !== '')
    .sort();
}

describe('docs/exports.md', () => {
  it('lists every export of the main entry and of each subpath it gives in full', async () => {
    const page = await readFile(resolve(root, 'docs/exports.md'), 'utf8');
    for (const [entry, names] of exportsOf(FULL)) {
      assert.deepEqual(listedOnPage(page, entry), names, `video-opusclip${entry ? `/${entry}` : ''}`);
    }
  });
});
