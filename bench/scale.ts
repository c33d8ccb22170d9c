/**
 * Scale suite: cases contributed per concern (`scale-<part>.ts`), run one after another.
 */
import type { BenchResult } from './lib/harness.js';
import type { SuiteOptions } from './main.js';
import { h2Cases } from './scale-h2.js';

export async function run(options: SuiteOptions): Promise<BenchResult[]> {
  return [...(await h2Cases({ quick: options.quick }))];
}
