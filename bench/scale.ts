/**
 * Scale suite: cases contributed per concern (`scale-<part>.ts`), run one after another: HTTP/2
 * (scale-h2.ts), read replicas (scale-replicas.ts), Redis Cluster (scale-cluster.ts).
 */
import type { BenchResult } from './lib/harness.js';
import type { SuiteOptions } from './main.js';
import { h2Cases } from './scale-h2.js';
import { replicaCases } from './scale-replicas.js';

export async function run(options: SuiteOptions): Promise<BenchResult[]> {
  return [...(await h2Cases({ quick: options.quick })), ...(await replicaCases(options))];
}
