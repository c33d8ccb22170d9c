import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';

// Every declared dependency is used: a runtime dependency is imported (or named, as pino's transport
// target is) by src/; a development dependency by src/, test/, bench/ or scripts/, or its binary is run
// by a package.json script or CI. `@types/x` counts as used when `x` is (`@types/node`: any `node:` import).

const root = resolve(import.meta.dirname, '../..');

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(join(root, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sources(path)));
    else if (/\.(ts|mts|mjs|js)$/.test(entry.name)) out.push(await readFile(join(root, path), 'utf8'));
  }
  return out;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** A quoted module specifier `name` or `name/...`, or a path through node_modules/name. */
function mentions(texts: readonly string[], name: string): boolean {
  const re = new RegExp(`(['"\`]|node_modules/)${escapeRegExp(name)}(/[^'"\`]*)?['"\`]`);
  return texts.some((t) => re.test(t));
}

async function binsOf(name: string): Promise<string[]> {
  const manifest = JSON.parse(await readFile(join(root, 'node_modules', name, 'package.json'), 'utf8')) as {
    bin?: string | Record<string, string>;
  };
  if (manifest.bin === undefined) return [];
  return typeof manifest.bin === 'string' ? [name.split('/').at(-1) ?? name] : Object.keys(manifest.bin);
}

describe('declared dependencies', () => {
  it('are all used', async () => {
    const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    const src = await sources('src');
    const everywhere = [
      ...src,
      ...(await sources('test')),
      ...(await sources('bench')),
      ...(await sources('scripts')),
    ];
    const commands = [...Object.values(pkg.scripts), await readFile(join(root, '.ci/run'), 'utf8')].join(
      '\n',
    );

    const used = async (name: string, texts: readonly string[]): Promise<boolean> => {
      if (name === '@types/node') return texts.some((t) => /from 'node:/.test(t));
      if (name.startsWith('@types/'))
        return used(name.slice('@types/'.length).replace(/^(.+)__(.+)$/, '@$1/$2'), texts);
      if (mentions(texts, name)) return true;
      return (await binsOf(name)).some((bin) =>
        new RegExp(`(^|[\\s&;(])(npx )?${escapeRegExp(bin)}\\b`, 'm').test(commands),
      );
    };

    const unused: string[] = [];
    for (const name of Object.keys(pkg.dependencies)) if (!(await used(name, src))) unused.push(name);
    for (const name of Object.keys(pkg.devDependencies))
      if (!(await used(name, everywhere))) unused.push(name);
    assert.deepEqual(unused, [], `declared but never used: ${unused.join(', ')}`);
  });

  it('would notice an unused one', () => {
    assert.equal(mentions(["import { x } from 'cockatiel';"], 'cockatiel'), true);
    assert.equal(mentions(["import { x } from 'cockatiel-extra';"], 'cockatiel'), false);
    assert.equal(mentions(["import x from 'pg-copy-streams';"], 'pg'), false);
    assert.equal(mentions(["const t = 'pino-pretty';"], 'pino-pretty'), true);
    assert.equal(mentions(["import { Ajv2020 } from 'ajv/dist/2020.js';"], 'ajv'), true);
  });
});
