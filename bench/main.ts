/**
 * `npm run bench -- [suite...] [--json] [--quick]`. Suites: db, cache, http, pipeline, scale (none = all).
 * Each suite module exports `run(options): Promise<BenchResult[]>`.
 */
import { type BenchResult, log, printTable, type SuiteDocument, suiteDocument } from './lib/harness.js';

export interface SuiteOptions {
  quick: boolean;
  args: string[];
}

const SUITES = ['db', 'cache', 'http', 'pipeline', 'scale'] as const;
type SuiteName = (typeof SUITES)[number];

const argv = process.argv.slice(2);
const json = argv.includes('--json');
const quick = argv.includes('--quick');
const named = argv.filter((a) => !a.startsWith('--'));
const unknown = named.filter((n) => !(SUITES as readonly string[]).includes(n));
if (unknown.length > 0) {
  log(`unknown suite(s): ${unknown.join(', ')}; known: ${SUITES.join(', ')}`);
  process.exit(2);
}
const chosen = (named.length > 0 ? named : [...SUITES]) as SuiteName[];

const docs: SuiteDocument[] = [];
for (const suite of chosen) {
  let mod: { run(options: SuiteOptions): Promise<BenchResult[]> };
  try {
    // `.ts` through tsx, `.js` when compiled (scripts/bench.mjs).
    const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
    mod = (await import(`./${suite}.${ext}`)) as typeof mod;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && named.length === 0) {
      log(`suite ${suite}: not available yet, skipped`);
      continue;
    }
    throw error;
  }
  const startedAt = new Date();
  log(`suite ${suite}: running`);
  const results = await mod.run({ quick, args: argv });
  docs.push(suiteDocument(suite, startedAt, results));
}

if (json) {
  const out = docs.length === 1 ? docs[0] : { suites: docs };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
} else {
  for (const doc of docs) printTable(doc);
}
process.exit(0);
