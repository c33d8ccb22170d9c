// `npm run check:unused`: unused files, dependencies and exports (knip).
// The package's entry points are the `exports` map of package.json, read here and mapped from the
// built file (dist/X.js) to its source (src/X.ts); an entry's exports are the public API and count as
// used, every other export of src/ must have an importer (src, tests, benchmarks or scripts).
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));

/** './dist/core/index.js' -> 'src/core/index.ts' */
const toSource = (target) => {
  const match = /^\.\/dist\/(.+)\.js$/.exec(target);
  if (!match) throw new Error(`knip.config.js: export target ${target} is not under ./dist/`);
  return `src/${match[1]}.ts`;
};

const exportTargets = Object.values(pkg.exports).flatMap((target) =>
  typeof target === 'string' ? [target] : Object.values(target).filter((t) => typeof t === 'string'),
);

/** @type {import('knip').KnipConfig} */
export default {
  entry: [
    ...exportTargets.map(toSource),
    // bin/opusclip.js runs the built dist/cli/main.js.
    'src/cli/main.ts',
    'test/**/*.test.ts',
    // Test and benchmark processes, spawned by their path.
    'test/**/fixtures/*.ts',
    // bench/main.ts loads each suite (bench/<suite>.ts) by its name.
    'bench/*.ts',
    'scripts/*.{mjs,ts}',
  ],
  project: ['src/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.{mjs,ts}', 'bin/**/*.js'],
  // test/package/tarball.test.ts runs @arethetypeswrong/cli's script by its path in node_modules.
  ignoreDependencies: ['@arethetypeswrong/cli'],
  // Debian's Redis server, started by the tests that need a Redis of their own.
  ignoreBinaries: ['redis-server'],
};
