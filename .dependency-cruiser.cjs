// `npm run check:layers`: the import rules of src/ (docs/design.md, "Layers").
// Each layer imports only the layers before it; type-only imports count (tsPreCompilationDeps).

/** Layer -> the src/ folders its files may import, besides its own. */
const allowed = {
  core: [],
  resilience: ['core'],
  cache: ['core', 'resilience'],
  db: ['core', 'resilience'],
  store: ['core', 'resilience', 'cache', 'db'],
  http: ['core', 'resilience', 'cache', 'db', 'store'],
  apis: ['core', 'resilience', 'cache', 'db', 'store', 'http'],
  pipeline: ['core', 'resilience', 'cache', 'db', 'store', 'http', 'apis'],
  // The HTTP service, started by the CLI's `serve` command.
  server: ['core', 'resilience', 'cache', 'db', 'store', 'http', 'apis', 'pipeline'],
  // The entry point: wires every layer, the server and the sandbox together.
  cli: ['core', 'resilience', 'cache', 'db', 'store', 'http', 'apis', 'pipeline', 'server', 'sandbox'],
  // The emulator of the third-party APIs stands beside the layers, on core alone.
  sandbox: ['core'],
};

const layerRules = Object.entries(allowed).map(([layer, before]) => ({
  name: `layer-${layer}`,
  comment:
    `src/${layer} imports only ${before.length ? before.map((l) => `src/${l}`).join(', ') : 'itself'}` +
    ' (docs/design.md, "Layers")',
  severity: 'error',
  from: { path: `^src/${layer}/` },
  to: { path: '^src/', pathNot: `^src/(${[layer, ...before, 'testing'].join('|')})/` },
}));

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'apis-vendor-isolation',
      comment:
        "An apis/<vendor> folder imports the apis' shared files, never another vendor's folder " +
        '(move what two vendors share up into src/apis/)',
      severity: 'error',
      from: { path: '^src/apis/([^/]+)/' },
      to: { path: '^src/apis/[^/]+/', pathNot: '^src/apis/$1/' },
    },
    {
      name: 'testing-only-from-tests',
      comment:
        'src/testing is test support: tests, benchmarks and src/testing itself import it, nothing else',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/testing/' },
      to: { path: '^src/testing/' },
    },
    {
      name: 'no-circular',
      comment: 'Import cycles, type-only imports included',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-orphans',
      comment: 'A src file that imports nothing and that nothing imports',
      severity: 'error',
      // The dashboard's browser script is loaded by its HTML page, not imported.
      from: { orphan: true, path: '^src/', pathNot: ['\\.d\\.ts$', '^src/server/dashboard/'] },
      to: {},
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import that resolves to no file and no installed package',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'src-not-to-dev-dep',
      comment:
        'src/ ships to users, who do not install devDependencies: neither its code nor its declarations ' +
        'may need one (@types/* packages excepted; an optional peer dependency, also a devDependency ' +
        'for our tests, is loaded only when the application installs it)',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/testing/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['npm-peer'], pathNot: '/@types/' },
    },
  ],
  options: {
    // Node's own modules and installed packages are endpoints, not followed.
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|\\.bench-build)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.json'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
