#!/usr/bin/env node
// `npm run bench -- <suite> [--json] [--quick]`: compiles the sources and the suites with tsc first and
// runs the JavaScript, which is what users run. Under tsx every named closure is wrapped in a `__name`
// call at creation (esbuild's keepNames), a cost on our side only: the baselines are plain JavaScript
// from node_modules.
import { spawnSync } from 'node:child_process';
import { existsSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const built = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.bench.json')], {
  stdio: 'inherit',
});
if (built.status !== 0) process.exit(built.status ?? 1);
// The sandbox finds the API specs relative to its own file.
const specs = join(root, '.bench-build', 'specs');
if (!existsSync(specs)) symlinkSync(join(root, 'specs'), specs, 'dir');
const run = spawnSync(
  process.execPath,
  [join(root, '.bench-build', 'bench', 'main.js'), ...process.argv.slice(2)],
  {
    stdio: 'inherit',
  },
);
process.exit(run.status ?? 1);
