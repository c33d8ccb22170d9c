/**
 * Scaling out: read replicas (bench/scale-replicas.ts). Other scale-out cases join here.
 */
import type { BenchResult } from './lib/harness.js';
import type { SuiteOptions } from './main.js';
import { replicaCases } from './scale-replicas.js';

export async function run(options: SuiteOptions): Promise<BenchResult[]> {
  return [...(await replicaCases(options))];
}
