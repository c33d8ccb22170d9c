/** Scale suite: cases that need more than one Redis or database node. */
import type { BenchResult } from './lib/harness.js';
import type { SuiteOptions } from './main.js';
import { clusterCases } from './scale-cluster.js';

export async function run(options: SuiteOptions): Promise<BenchResult[]> {
  return [...(await clusterCases({ quick: options.quick }))];
}
