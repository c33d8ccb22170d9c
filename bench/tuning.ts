/**
 * Tuning suite: cases that check a tuned path against its plain alternative in the same run. Each part
 * lives in its own `tuning-*.ts` module; this one runs them in order.
 */
import type { BenchResult } from './lib/harness.js';
import type { SuiteOptions } from './main.js';
import { gatewayCases } from './tuning-gateway.js';
import { adaptiveHttpCases } from './tuning-http.js';
import { poolCases } from './tuning-pool.js';
import { warmCases } from './tuning-warm.js';

export async function run(options: SuiteOptions): Promise<BenchResult[]> {
  return [
    ...(await gatewayCases({ quick: options.quick })),
    ...(await adaptiveHttpCases({ quick: options.quick })),
    ...(await poolCases({ quick: options.quick })),
    ...(await warmCases({ quick: options.quick })),
  ];
}
