/**
 * Gateway case of the tuning suite: OpenAI chat completions through the service's vendor gateway
 * (`/gateway/openai/v1/chat/completions`, service key, budget, breaker, metrics, per-caller accounting)
 * against the same requests straight to the sandbox, in the same run. The sandbox and the service each
 * run in a process of their own; this process only drives the load (undici Pool, same body, same
 * concurrency).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { type BenchResult, compareLoad, result, scriptArgs } from './lib/harness.js';

const CONCURRENCY = 32;
const SERVICE_KEY = 'bench-service-key-not-secret';
const SANDBOX_SCRIPT = fileURLToPath(new URL('../test/pipeline/fixtures/sandbox-server.ts', import.meta.url));
const GATEWAY_SCRIPT = join(fileURLToPath(new URL('.', import.meta.url)), 'tuning-gateway-server.ts');
/** The sandbox's OpenAI limits raised out of the way: both paths measure throughput, not a tier. */
const SANDBOX_CONFIG = { openai: { requestsPerMinute: 1e9, tokensPerMinute: 1e12, quotaTokens: 1e15 } };

const BODY = JSON.stringify({
  model: 'gpt-4o-mini',
  messages: [
    { role: 'system', content: 'You pick the best moments of a video for short clips.' },
    { role: 'user', content: 'Suggest a title for a clip about sourdough starters.' },
  ],
  max_tokens: 64,
});

/** A child that prints its URL on the first line and stops when its stdin closes. */
export async function startChild(
  script: string,
  args: string[],
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [...scriptArgs(script), ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const [url] = (await Promise.race([
    once(lines, 'line'),
    once(child, 'exit').then(() => {
      throw new Error(`${script} exited before printing its URL`);
    }),
  ])) as [string];
  return { child, url };
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.stdin!.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await once(child, 'exit');
  clearTimeout(timer);
}

export async function gatewayCases(options: { quick: boolean }): Promise<BenchResult[]> {
  const seconds = options.quick ? 1 : 3;
  const rounds = options.quick ? 3 : 5;
  const sandbox = await startChild(SANDBOX_SCRIPT, [JSON.stringify(SANDBOX_CONFIG)]);
  let gateway: { child: ChildProcess; url: string } | undefined;
  const pools: Pool[] = [];
  try {
    gateway = await startChild(GATEWAY_SCRIPT, [sandbox.url, SERVICE_KEY]);
    const poolOf = (url: string) => {
      const pool = new Pool(new URL(url).origin, { connections: CONCURRENCY });
      pools.push(pool);
      return pool;
    };
    const chat = (pool: Pool, path: string, key: string) => async (): Promise<unknown> => {
      const { statusCode, body } = await pool.request({
        path,
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: BODY,
      });
      const answer = (await body.json()) as { choices?: unknown[] };
      if (statusCode !== 200 || !Array.isArray(answer.choices)) {
        throw new Error(`chat completion answered ${statusCode}: ${JSON.stringify(answer).slice(0, 200)}`);
      }
      return answer;
    };
    const direct = chat(poolOf(sandbox.url), '/openai/v1/chat/completions', 'bench-vendor-key');
    const through = chat(poolOf(gateway.url), '/gateway/openai/v1/chat/completions', SERVICE_KEY);
    const load = await compareLoad('gateway', through, direct, { concurrency: CONCURRENCY, seconds, rounds });
    return [
      result({
        case: 'gateway',
        target: 'sandbox',
        subject:
          'chat completions through opusclip serve /gateway/openai/v1 (service key, budget, breaker, metrics)',
        baseline: 'chat completions straight to the sandbox (undici Pool.request, same body)',
        unit: 'ops/s',
        value: load.subject.opsPerSec,
        baselineValue: load.baseline.opsPerSec,
        p99Ms: load.subject.p99Ms,
        baselineP99Ms: load.baseline.p99Ms,
        params: { concurrency: CONCURRENCY, seconds, rounds, processes: 'load, gateway, sandbox: one each' },
        extra: { goal: 0.8 },
      }),
    ];
  } finally {
    for (const pool of pools) await pool.close();
    if (gateway) await stopChild(gateway.child);
    await stopChild(sandbox.child);
  }
}
