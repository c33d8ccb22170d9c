import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';

// Every relative link of README.md and docs/*.md points at a file that exists and, with a #fragment,
// at a heading of that file (GitHub's anchor rules). docs/_incoming/ is a drafting area and skipped.

const root = resolve(import.meta.dirname, '../..');

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^```/.test(line)) fenced = !fenced;
    const m = fenced ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = (m[1] ?? '')
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

function links(markdown: string): string[] {
  const out: string[] = [];
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^```/.test(line)) fenced = !fenced;
    if (fenced) continue;
    for (const m of line.replace(/`[^`]*`/g, '').matchAll(/\]\(([^)\s]+)\)/g)) out.push(m[1] ?? '');
  }
  return out;
}

async function pages(): Promise<string[]> {
  const docs = (await readdir(join(root, 'docs')))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(root, 'docs', f));
  return [join(root, 'README.md'), ...docs];
}

describe('documentation links', () => {
  it('computes anchors as GitHub does', () => {
    assert.deepEqual(
      [...anchors('# Rate limits and quotas (`Budget`)\n## Errors\n```\n# not a heading\n```\n## Errors\n')],
      ['rate-limits-and-quotas-budget', 'errors', 'errors-1'],
    );
  });

  it('resolve to existing files and headings', async () => {
    const broken: string[] = [];
    for (const page of await pages()) {
      const text = await readFile(page, 'utf8');
      for (const link of links(text)) {
        if (/^[a-z]+:/i.test(link)) continue; // http:, https:, mailto:
        const [path = '', fragment] = link.split('#');
        const target = path === '' ? page : resolve(dirname(page), path);
        const where = `${relative(root, page)} → ${link}`;
        if (!existsSync(target)) {
          broken.push(`${where}: no such file`);
          continue;
        }
        if (fragment && target.endsWith('.md') && !anchors(await readFile(target, 'utf8')).has(fragment)) {
          broken.push(`${where}: no such heading`);
        }
      }
    }
    assert.deepEqual(broken, []);
  });

  it('link every docs page from the docs index', async () => {
    const index = await readFile(join(root, 'docs/README.md'), 'utf8');
    const linked = new Set(links(index).map((l) => l.split('#')[0]));
    const missing = (await pages())
      .map((p) => relative(join(root, 'docs'), p))
      .filter((p) => !p.startsWith('..') && p !== 'README.md' && !linked.has(p));
    assert.deepEqual(missing, []);
  });
});
