import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { describe, it } from 'node:test';
import {
  CATALOGUE_PAGE,
  loadCatalogue,
  renderCatalogue,
  SRC,
  sourceFiles,
} from '../../scripts/error-catalogue.js';
import { defaultErrorClass } from '../../src/core/error-codes.js';
import { defineErrorCodes, OpusError } from '../../src/core/index.js';

/** Source text without the `defineErrorCodes(…)` calls: what is left raises or checks codes. */
function withoutDeclarations(text: string): string {
  let out = '';
  let at = 0;
  for (;;) {
    const start = text.indexOf('defineErrorCodes(', at);
    if (start === -1) return out + text.slice(at);
    out += text.slice(at, start);
    let depth = 0;
    let i = start + 'defineErrorCodes'.length;
    for (; i < text.length; i++) {
      if (text[i] === '(') depth++;
      else if (text[i] === ')' && --depth === 0) break;
    }
    at = i + 1;
  }
}

describe('error catalogue', () => {
  it('docs/errors.md is the catalogue generated from the code', async () => {
    const page = await readFile(CATALOGUE_PAGE, 'utf8');
    assert.equal(page, await renderCatalogue(), 'run: node --import tsx scripts/error-catalogue.ts');
  });

  it('every code the code raises is in the catalogue, and every catalogued code is raised somewhere', async () => {
    const { catalogue, modules } = await loadCatalogue();
    const known = new Set(catalogue.map((c) => c.code));
    // Every exported `…ErrorCode` table, to resolve `DbErrorCode.Deadlock` to its code.
    const tables = new Map<string, Record<string, string>>();
    for (const m of modules) {
      for (const [name, value] of Object.entries(m)) {
        if (name.endsWith('ErrorCode') && typeof value === 'object' && value !== null)
          tables.set(name, value as Record<string, string>);
      }
    }
    const used = new Set<string>();
    const unknown: string[] = [];
    for (const file of await sourceFiles()) {
      const text = withoutDeclarations(await readFile(file, 'utf8'));
      for (const m of text.matchAll(/['"`](ERR_[A-Z0-9_]+)['"`]/g)) {
        used.add(m[1]!);
        if (!known.has(m[1]!)) unknown.push(`${relative(SRC, file)}: ${m[1]}`);
      }
      for (const m of text.matchAll(/\b(\w+ErrorCode)\.(\w+)\b/g)) {
        const code = tables.get(m[1]!)?.[m[2]!];
        if (code) used.add(code);
      }
    }
    assert.deepEqual(unknown, [], 'codes raised but not declared with defineErrorCodes');
    const neverRaised = catalogue.filter((c) => !used.has(c.code)).map((c) => `${c.layer}: ${c.code}`);
    assert.deepEqual(neverRaised, [], 'codes declared but raised nowhere');
  });

  it('an error takes its class from the catalogue, and may override it', () => {
    const codes = defineErrorCodes('test-layer', {
      Flaky: { code: 'ERR_TEST_FLAKY', class: 'transient', meaning: 'm', action: 'a' },
      Broken: { code: 'ERR_TEST_BROKEN', class: 'permanent', meaning: 'm', action: 'a' },
    });
    assert.equal(new OpusError(codes.Flaky, 'x').transient, true);
    assert.equal(new OpusError(codes.Broken, 'x').transient, false);
    assert.equal(new OpusError(codes.Broken, 'x', { transient: true }).transient, true);
    assert.equal(new OpusError('ERR_NOBODY_DECLARED_THIS', 'x').transient, false);
    assert.equal(defaultErrorClass('ERR_NOBODY_DECLARED_THIS'), 'permanent');
    assert.throws(
      () =>
        defineErrorCodes('other-layer', {
          Dup: { code: 'ERR_TEST_FLAKY', class: 'permanent', meaning: 'm', action: 'a' },
        }),
      /declared by both/,
    );
  });
});
