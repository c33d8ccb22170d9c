/**
 * Shared benchmark machinery: closed-loop load at a fixed concurrency, subject and baseline measured
 * alternately in the same process for the same time after a warm-up, median of the rounds.
 * Output follows ../shared/bench-format.md. Progress goes to stderr; stdout carries only the result.
 */
import { spawn } from 'node:child_process';
import { cpus } from 'node:os';

export interface BenchResult {
  case: string;
  target: string;
  subject: string;
  baseline: string;
  unit: string;
  value: number;
  baselineValue: number;
  ratio: number;
  params: Record<string, unknown>;
  p99Ms?: number;
  baselineP99Ms?: number;
  peakRssMb?: number;
  /** Case-specific fields (hitRate, staleReads, ...). */
  [extra: string]: unknown;
}

export interface ResultInput {
  case: string;
  target: string;
  subject: string;
  baseline: string;
  unit: string;
  value: number;
  baselineValue: number;
  params: Record<string, unknown>;
  p99Ms?: number;
  baselineP99Ms?: number;
  peakRssMb?: number;
  /** True when the unit is a duration (lower is better): the ratio is then inverted. */
  timeUnit?: boolean;
  extra?: Record<string, unknown>;
}

export interface SuiteDocument {
  suite: string;
  node: string;
  cpus: number;
  startedAt: string;
  results: BenchResult[];
}

export interface LoadOptions {
  concurrency: number;
  seconds: number;
}

export interface LoadStats {
  opsPerSec: number;
  ops: number;
  p99Ms: number;
  p50Ms: number;
  /** CPU time of this process (user + system) per operation, µs: the client's own cost. */
  cpuUsPerOp: number;
}

export function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** Runs `op` in `concurrency` loops for `seconds`; returns throughput and latency percentiles. */
export async function runLoad(op: (i: number) => Promise<unknown>, opts: LoadOptions): Promise<LoadStats> {
  const deadline = performance.now() + opts.seconds * 1000;
  const samples: number[] = [];
  let ops = 0;
  let counter = 0;
  const start = performance.now();
  const cpuBefore = process.cpuUsage();
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      await op(counter++);
      const dt = performance.now() - t0;
      ops++;
      // Keeping every sample would skew memory figures; one in eight is plenty for p99.
      if ((ops & 7) === 0) samples.push(dt);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  const elapsed = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  samples.sort((a, b) => a - b);
  const pick = (q: number): number =>
    samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? 0;
  return {
    opsPerSec: ops / elapsed,
    ops,
    p99Ms: pick(0.99),
    p50Ms: pick(0.5),
    cpuUsPerOp: ops > 0 ? (cpu.user + cpu.system) / ops : 0,
  };
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export interface CompareOptions extends LoadOptions {
  rounds?: number;
  warmupSeconds?: number;
}

/** Alternates subject and baseline for `rounds` rounds; returns the median of each. */
export async function compareLoad(
  label: string,
  subject: (i: number) => Promise<unknown>,
  baseline: (i: number) => Promise<unknown>,
  opts: CompareOptions,
): Promise<{ subject: LoadStats; baseline: LoadStats }> {
  const rounds = opts.rounds ?? 3;
  const warm = { concurrency: opts.concurrency, seconds: opts.warmupSeconds ?? Math.min(1, opts.seconds) };
  await runLoad(baseline, warm);
  await runLoad(subject, warm);
  const s: LoadStats[] = [];
  const b: LoadStats[] = [];
  for (let r = 0; r < rounds; r++) {
    // Alternate which goes first so neither always benefits from a warmer process.
    if (r % 2 === 0) {
      b.push(await runLoad(baseline, opts));
      s.push(await runLoad(subject, opts));
    } else {
      s.push(await runLoad(subject, opts));
      b.push(await runLoad(baseline, opts));
    }
    log(
      `  ${label} round ${r + 1}/${rounds}: subject ${s.at(-1)!.opsPerSec.toFixed(0)}/s (${s.at(-1)!.cpuUsPerOp.toFixed(1)} µs CPU/op), baseline ${b.at(-1)!.opsPerSec.toFixed(0)}/s (${b.at(-1)!.cpuUsPerOp.toFixed(1)} µs CPU/op)`,
    );
  }
  const pickMedian = (xs: LoadStats[]): LoadStats => ({
    opsPerSec: median(xs.map((x) => x.opsPerSec)),
    ops: median(xs.map((x) => x.ops)),
    p99Ms: median(xs.map((x) => x.p99Ms)),
    p50Ms: median(xs.map((x) => x.p50Ms)),
    cpuUsPerOp: median(xs.map((x) => x.cpuUsPerOp)),
  });
  return { subject: pickMedian(s), baseline: pickMedian(b) };
}

/** Builds a result row; ratio is higher-is-better whatever the unit. */
export function result(row: ResultInput): BenchResult {
  const { timeUnit, extra, ...rest } = row;
  const ratio = timeUnit ? row.baselineValue / row.value : row.value / row.baselineValue;
  return {
    ...rest,
    ...extra,
    value: round(row.value),
    baselineValue: round(row.baselineValue),
    ratio: Math.round(ratio * 1000) / 1000,
    peakRssMb: row.peakRssMb ?? peakRssMb(),
  };
}

function round(n: number): number {
  return Math.abs(n) >= 100 ? Math.round(n) : Math.round(n * 1000) / 1000;
}

/** Peak resident set size of this process so far, in MiB. */
export function peakRssMb(): number {
  return Math.round((process.resourceUsage().maxRSS / 1024) * 10) / 10;
}

export function suiteDocument(suite: string, startedAt: Date, results: BenchResult[]): SuiteDocument {
  return {
    suite,
    node: process.version,
    cpus: cpus().length,
    startedAt: startedAt.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    results,
  };
}

export function printTable(doc: SuiteDocument): void {
  const rows = doc.results.map((r) => [
    r.case,
    r.target,
    r.subject,
    `${r.value} ${r.unit}`,
    r.baseline,
    `${r.baselineValue}`,
    r.ratio.toFixed(3),
    r.p99Ms === undefined ? '' : r.p99Ms.toFixed(2),
    r.peakRssMb === undefined ? '' : String(r.peakRssMb),
  ]);
  const head = [
    'case',
    'target',
    'subject',
    'value',
    'baseline',
    'baseline value',
    'ratio',
    'p99 ms',
    'peak RSS MB',
  ];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cols: string[]): string => cols.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  process.stdout.write(`\n${doc.suite}\n${line(head)}\n${line(widths.map((w) => '-'.repeat(w)))}\n`);
  for (const r of rows) process.stdout.write(`${line(r)}\n`);
}

/**
 * Runs one of the project's scripts (see scriptArgs) with `args` in a fresh process and returns the JSON
 * of the last line it prints; `what` names it in the error when it fails.
 */
export function runJsonChild<T>(tsPath: string, args: readonly string[], what: string): Promise<T> {
  const child = spawn(process.execPath, [...scriptArgs(tsPath), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`${what} exited with ${code}`));
      else resolve(JSON.parse(out.trim().split('\n').at(-1)!) as T);
    });
  });
}

/**
 * Node arguments that run one of the project's scripts, given by its `.ts` path: the compiled `.js`
 * beside it when the suites run compiled (`npm run bench`), the source through tsx otherwise.
 */
export function scriptArgs(tsPath: string): string[] {
  return import.meta.url.endsWith('.ts') ? ['--import', 'tsx', tsPath] : [tsPath.replace(/\.ts$/, '.js')];
}
