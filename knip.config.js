// `npm run check:unused`: unused files, dependencies and exports (knip).
// The package's entry points are the `exports` map of package.json, read here and mapped from the
// built file (dist/X.js) to its source (src/X.ts); an entry's exports are the public API and count as
// used, every other export of src/ must have an importer (src, tests, benchmarks or scripts).
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));

/** Every target of the exports map, through nested conditions ({ types, import, default }). */
const targets = (value) =>
  typeof value === 'string' ? [value] : Object.values(value ?? {}).flatMap((v) => targets(v));

/** './dist/core/index.js' -> 'src/core/index.ts'; declarations and non-dist targets are no entries. */
const sourceEntries = [
  ...new Set(
    targets(pkg.exports).flatMap((target) => {
      const match = /^\.\/dist\/(.+)\.js$/.exec(target);
      return match ? [`src/${match[1]}.ts`] : [];
    }),
  ),
];

/** @type {import('knip').KnipConfig} */
export default {
  entry: [
    ...sourceEntries,
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
  // openssl makes the TLS tests' self-signed certificate (test/support/tls-certificate.ts).
  ignoreBinaries: ['redis-server', 'openssl'],
};
