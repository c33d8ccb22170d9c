import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { CONFIG_VARIABLES } from '../../src/cli/cli-config.js';

// docs/configuration.md documents every setting the CLI and the service read, with its flag.

const page = resolve(import.meta.dirname, '../../docs/configuration.md');

describe('docs/configuration.md', () => {
  it('has a row for every configuration variable, with its flag', async () => {
    const rows = new Map<string, string>();
    for (const line of (await readFile(page, 'utf8')).split('\n')) {
      const m = /^\| `([A-Z0-9_]+)` \|([^|]*)\|/.exec(line);
      if (m?.[1]) rows.set(m[1], (m[2] ?? '').trim());
    }
    const problems: string[] = [];
    for (const v of CONFIG_VARIABLES) {
      const flag = rows.get(v.name);
      if (flag === undefined) problems.push(`${v.name} is not documented`);
      else if ((v.flag ?? '') !== flag.replace(/`/g, ''))
        problems.push(`${v.name}: flag ${v.flag} documented as "${flag}"`);
    }
    for (const name of rows.keys()) {
      if (!CONFIG_VARIABLES.some((v) => v.name === name)) problems.push(`${name} is documented but not read`);
    }
    assert.deepEqual(problems, []);
  });
});
