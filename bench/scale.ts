/**
 * Scale suite: cases contributed per concern (`scale-<part>.ts`), run one after another: Redis Cluster
 * (scale-cluster.ts), read replicas (scale-replicas.ts), HTTP/2 (scale-h2.ts).
 */
import type { BenchResult } from './lib/harness.js';
import type { SuiteOptions } from './main.js';
import { clusterCases } from './scale-cluster.js';
import { h2Cases } from './scale-h2.js';
import { replicaCases } from './scale-replicas.js';

export async function run(options: SuiteOptions): Promise<BenchResult[]> {
  return [
    ...(await clusterCases({ quick: options.quick })),
    ...(await replicaCases(options)),
    ...(await h2Cases({ quick: options.quick })),
  ];
}
