/**
 * Adaptive-concurrency cases of the tuning suite: many callers making OpenAI chat completions through
 * the project's `OpenAIClient` (retries, budget, breaker as by default) three ways, taking turns in the
 * same run: with `adaptiveConcurrency: false` (no concurrency limit of the client's own: its connection
 * pool's 100), with `{ algorithm: 'vegas' }`, and with the client's default (adaptive concurrency on,
 * gradient). Against a sandbox that models an overloaded vendor (`capacity`: a few workers, a short
 * queue, 429 with Retry-After beyond it), and against the sandbox without that limit, to show what the
 * adaptive limit costs when the vendor does not queue (with the latency jittered, and steady at the same
 * mean). The sandbox runs in a process of its own; this one only drives the load.
 */
import { fileURLToPath } from 'node:url';
import { OpenAIClient } from '../src/apis/index.js';
import { HttpErrorCode } from '../src/http/index.js';
import type { AdaptiveAlgorithm } from '../src/resilience/index.js';
import { type BenchResult, log, median, result, runLoad } from './lib/harness.js';
import { startChild, stopChild } from './tuning-gateway.js';

const CALLERS = 256;
const SANDBOX_SCRIPT = fileURLToPath(new URL('../test/pipeline/fixtures/sandbox-server.ts', import.meta.url));
/** 20-50 ms, drawn uniformly per request. */
const LATENCY = { fixedMs: 20, jitterMs: 30 };
/** The same mean without jitter: separates what the jitter costs the adaptive limit from the rest. */
const STEADY_LATENCY = { fixedMs: 35, jitterMs: 0 };
const CAPACITY = { concurrent: 16, queue: 32, status: 429, retryAfterMs: 1000 };
/** The sandbox's per-minute limits out of the way: only its capacity (if any) refuses calls. */
const OPENAI_LIMITS = { requestsPerMinute: 1e9, tokensPerMinute: 1e12, quotaTokens: 1e15 };

const REQUEST = {
  model: 'gpt-4o-mini',
  messages: [
    { role: 'system' as const, content: 'You pick the best moments of a video for short clips.' },
    { role: 'user' as const, content: 'Suggest a title for a clip about sourdough starters.' },
  ],
  max_completion_tokens: 64,
};

interface Round {
  /** Calls that returned a completion, per second. */
  completedPerSec: number;
  p99Ms: number;
  failed: number;
  rateLimited: number;
}

/** One side: a client built as a user would, and counters read per round. */
class Side {
  readonly client: OpenAIClient;
  readonly rounds: Round[] = [];
  #failed = 0;
  #ok = 0;

  constructor(
    readonly label: string,
    baseUrl: string,
    /** `false`: no limit of the client's own; an algorithm: that one; `default`: no option given. */
    adaptive: false | AdaptiveAlgorithm | 'default',
  ) {
    this.client = new OpenAIClient({
      apiKey: 'bench-vendor-key',
      baseUrl,
      // The account's own budget set out of reach, as the sandbox's: only overload refuses calls.
      requestsPerMinute: 1e9,
      tokensPerMinute: 1e12,
      ...(adaptive === 'default'
        ? {}
        : { adaptiveConcurrency: adaptive === false ? false : { algorithm: adaptive } }),
    });
  }

  readonly call = async (): Promise<void> => {
    try {
      await this.client.chat.completions.create(REQUEST);
      this.#ok++;
    } catch {
      this.#failed++;
    }
  };

  async #rateLimited(): Promise<number> {
    const metrics = await this.client.getApiMetrics();
    let n = 0;
    for (const origin of Object.values(metrics.origins))
      n += origin.errorsByType[HttpErrorCode.RateLimited] ?? 0;
    return n;
  }

  async round(seconds: number, keep: boolean): Promise<void> {
    const before = { ok: this.#ok, failed: this.#failed, limited: await this.#rateLimited() };
    const load = await runLoad(this.call, { concurrency: CALLERS, seconds });
    const elapsed = load.ops / load.opsPerSec;
    const r: Round = {
      completedPerSec: (this.#ok - before.ok) / elapsed,
      p99Ms: load.p99Ms,
      failed: this.#failed - before.failed,
      rateLimited: (await this.#rateLimited()) - before.limited,
    };
    if (!keep) return;
    this.rounds.push(r);
    const limit = await this.limit();
    log(
      `    ${this.label}: ${r.completedPerSec.toFixed(0)} completed/s, p99 ${r.p99Ms.toFixed(0)} ms, ${r.rateLimited} × 429, ${r.failed} failed${limit === undefined ? '' : `, limit ${limit}`}`,
    );
  }

  async limit(): Promise<number | undefined> {
    const metrics = await this.client.getApiMetrics();
    return Object.values(metrics.origins)[0]?.concurrency?.limit;
  }

  summary(): Round {
    return {
      completedPerSec: median(this.rounds.map((r) => r.completedPerSec)),
      p99Ms: median(this.rounds.map((r) => r.p99Ms)),
      failed: median(this.rounds.map((r) => r.failed)),
      rateLimited: median(this.rounds.map((r) => r.rateLimited)),
    };
  }
}

async function measure(
  name: string,
  latency: typeof LATENCY,
  capacity: typeof CAPACITY | undefined,
  options: { seconds: number; rounds: number; warmupSeconds: number },
): Promise<BenchResult[]> {
  const config = { latency, openai: OPENAI_LIMITS, ...(capacity ? { capacity } : {}) };
  const sandbox = await startChild(SANDBOX_SCRIPT, [JSON.stringify(config)]);
  const baseUrl = `${sandbox.url}/openai/v1`;
  const fixed = new Side('static', baseUrl, false);
  const vegas = new Side('vegas', baseUrl, 'vegas');
  const gradient = new Side('default (gradient)', baseUrl, 'default');
  const sides = [fixed, vegas, gradient];
  try {
    log(`  ${name}: warm-up`);
    for (const side of sides) await side.round(options.warmupSeconds, false);
    for (let r = 0; r < options.rounds; r++) {
      log(`  ${name} round ${r + 1}/${options.rounds}`);
      // Each takes its turn first; each round ends with every call settled, the vendor's queue empty.
      const order = sides.map((_, k) => sides[(k + r) % sides.length]!);
      for (const side of order) await side.round(options.seconds, true);
    }
    const b = fixed.summary();
    const out: BenchResult[] = [];
    for (const [side, suffix, subject] of [
      [vegas, '', "adaptiveConcurrency: { algorithm: 'vegas' }"],
      [gradient, '-gradient', 'its default (adaptive concurrency on: gradient, from 100 permits)'],
    ] as const) {
      const s = side.summary();
      out.push(
        result({
          case: `${name}${suffix}`,
          target: 'sandbox',
          subject: `OpenAIClient chat.completions.create with ${subject}`,
          baseline: 'the same client with adaptiveConcurrency: false (pool of 100 connections)',
          unit: 'completed calls/s',
          value: s.completedPerSec,
          baselineValue: b.completedPerSec,
          p99Ms: s.p99Ms,
          baselineP99Ms: b.p99Ms,
          params: {
            callers: CALLERS,
            adaptive: side.label,
            latencyMs:
              latency.jitterMs > 0
                ? `${latency.fixedMs}-${latency.fixedMs + latency.jitterMs}`
                : latency.fixedMs,
            capacity: capacity ?? 'none',
            retries: 'client default (3, Retry-After honoured)',
            seconds: options.seconds,
            rounds: options.rounds,
            processes: 'load, sandbox: one each',
          },
          extra: {
            // Higher is better, as for `ratio`: the static default's p99 over the adaptive one's.
            p99Ratio: Math.round((b.p99Ms / s.p99Ms) * 1000) / 1000,
            rateLimited: s.rateLimited,
            baselineRateLimited: b.rateLimited,
            failed: s.failed,
            baselineFailed: b.failed,
            adaptiveLimit: await side.limit(),
            // What the vendor's workers can serve at most: concurrent ÷ mean latency.
            ...(capacity
              ? {
                  vendorCeiling: Math.round(
                    (capacity.concurrent * 1000) / (latency.fixedMs + latency.jitterMs / 2),
                  ),
                }
              : {}),
          },
        }),
      );
    }
    return out;
  } finally {
    for (const side of sides) await side.client.close();
    await stopChild(sandbox.child);
  }
}

export async function adaptiveHttpCases(options: { quick: boolean }): Promise<BenchResult[]> {
  const timing = options.quick
    ? { seconds: 1.5, rounds: 3, warmupSeconds: 1 }
    : { seconds: 5, rounds: 5, warmupSeconds: 3 };
  return [
    ...(await measure('adaptive-http', LATENCY, CAPACITY, timing)),
    ...(await measure('adaptive-http-unlimited', LATENCY, undefined, timing)),
    ...(await measure('adaptive-http-steady', STEADY_LATENCY, undefined, timing)),
  ];
}
