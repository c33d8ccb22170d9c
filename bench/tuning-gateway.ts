/**
 * Gateway cases of the tuning suite: OpenAI chat completions through the service's vendor gateway
 * (`/gateway/openai/v1/chat/completions`, service key, budget, breaker, metrics, per-caller accounting)
 * against the same requests straight to the sandbox, in the same run. The sandbox and the service each
 * run in a process of their own; this process only drives the load (undici Pool, same body, same
 * concurrency).
 *
 * - `gateway`: the sandbox answers after a vendor-like delay (chat completions take seconds at OpenAI;
 *   this uses 150-250 ms), at the concurrency of a busy caller: what a service sees through the gateway.
 * - `gateway-overhead`: the sandbox answers at once, so the gateway's own CPU is the whole difference;
 *   `gatewayCpuUsPerRequest` is the CPU the gateway process spends per request. On the 2-core bench
 *   machine the load, the gateway and the sandbox share the cores, so the ratio is the cost of a second
 *   HTTP hop in CPU, not a latency a caller would notice.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { type BenchResult, compareLoad, result, runLoad, scriptArgs } from './lib/harness.js';

const CONCURRENCY = 32;
const SERVICE_KEY = 'bench-service-key-not-secret';
const SANDBOX_SCRIPT = fileURLToPath(new URL('../test/pipeline/fixtures/sandbox-server.ts', import.meta.url));
const GATEWAY_SCRIPT = join(fileURLToPath(new URL('.', import.meta.url)), 'tuning-gateway-server.ts');
/** The sandbox's OpenAI limits raised out of the way: both paths measure throughput, not a tier. */
const OPENAI_UNLIMITED = { requestsPerMinute: 1e9, tokensPerMinute: 1e12, quotaTokens: 1e15 };
/** A chat completion's delay at the vendor in the `gateway` case (well under what OpenAI takes). */
const VENDOR_LATENCY = { fixedMs: 150, jitterMs: 100 };

const BODY = JSON.stringify({
  model: 'gpt-4o-mini',
  messages: [
    { role: 'system', content: 'You pick the best moments of a video for short clips.' },
    { role: 'user', content: 'Suggest a title for a clip about sourdough starters.' },
  ],
  max_tokens: 64,
});

interface Child {
  child: ChildProcess;
  url: string;
  /** Writes `command` to the child's stdin and resolves with the next line it prints. */
  ask(command: string): Promise<string>;
}

/** A child that prints its URL on the first line and stops when its stdin closes. */
export async function startChild(script: string, args: string[]): Promise<Child> {
  const child = spawn(process.execPath, [...scriptArgs(script), ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines: Interface = createInterface({ input: child.stdout! });
  const nextLine = async (): Promise<string> => {
    const [line] = (await Promise.race([
      once(lines, 'line'),
      once(child, 'exit').then(() => {
        throw new Error(`${script} exited`);
      }),
    ])) as [string];
    return line;
  };
  const url = await nextLine();
  return {
    child,
    url,
    ask: (command) => {
      const answer = nextLine();
      child.stdin!.write(`${command}\n`);
      return answer;
    },
  };
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.stdin!.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await once(child, 'exit');
  clearTimeout(timer);
}

/** One case: a sandbox (with `latency`), the service in front of it, then the load both ways. */
async function gatewayCase(options: {
  name: string;
  latency: { fixedMs: number; jitterMs: number };
  seconds: number;
  rounds: number;
  goal?: number;
  subject: string;
}): Promise<BenchResult> {
  const sandbox = await startChild(SANDBOX_SCRIPT, [
    JSON.stringify({ openai: OPENAI_UNLIMITED, latency: options.latency }),
  ]);
  let gateway: Child | undefined;
  const pools: Pool[] = [];
  try {
    gateway = await startChild(GATEWAY_SCRIPT, [sandbox.url, SERVICE_KEY]);
    const poolOf = (url: string) => {
      const pool = new Pool(new URL(url).origin, { connections: CONCURRENCY });
      pools.push(pool);
      return pool;
    };
    let throughGateway = 0;
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
    const viaGateway = chat(poolOf(gateway.url), '/gateway/openai/v1/chat/completions', SERVICE_KEY);
    const through = (): Promise<unknown> => {
      throughGateway++;
      return viaGateway();
    };
    // Compiled code, warm pools: the CPU counted below is the steady state's. The gateway idles while
    // the baseline runs, so its CPU over the whole comparison is the subject's.
    await runLoad(viaGateway, { concurrency: CONCURRENCY, seconds: 1 });
    const cpuBefore = Number(await gateway.ask('cpu'));
    const load = await compareLoad(options.name, through, direct, {
      concurrency: CONCURRENCY,
      seconds: options.seconds,
      rounds: options.rounds,
    });
    const cpuUs = Number(await gateway.ask('cpu')) - cpuBefore;
    return result({
      case: options.name,
      target: 'sandbox',
      subject: options.subject,
      baseline: 'chat completions straight to the sandbox (undici Pool.request, same body)',
      unit: 'ops/s',
      value: load.subject.opsPerSec,
      baselineValue: load.baseline.opsPerSec,
      p99Ms: load.subject.p99Ms,
      baselineP99Ms: load.baseline.p99Ms,
      params: {
        concurrency: CONCURRENCY,
        seconds: options.seconds,
        rounds: options.rounds,
        vendorLatencyMs: `${options.latency.fixedMs}-${options.latency.fixedMs + options.latency.jitterMs}`,
        processes: 'load, gateway, sandbox: one each',
      },
      extra: {
        ...(options.goal === undefined ? {} : { goal: options.goal }),
        gatewayCpuUsPerRequest: Math.round(cpuUs / Math.max(1, throughGateway)),
        p50Ms: Math.round(load.subject.p50Ms * 10) / 10,
        baselineP50Ms: Math.round(load.baseline.p50Ms * 10) / 10,
      },
    });
  } finally {
    for (const pool of pools) await pool.close();
    if (gateway) await stopChild(gateway.child);
    await stopChild(sandbox.child);
  }
}

export async function gatewayCases(options: { quick: boolean }): Promise<BenchResult[]> {
  const rounds = options.quick ? 3 : 5;
  return [
    await gatewayCase({
      name: 'gateway',
      latency: VENDOR_LATENCY,
      seconds: options.quick ? 2 : 4,
      rounds,
      goal: 0.8,
      subject: 'chat completions through opusclip serve /gateway/openai/v1, vendor answering in 150-250 ms',
    }),
    await gatewayCase({
      name: 'gateway-overhead',
      latency: { fixedMs: 0, jitterMs: 0 },
      seconds: options.quick ? 1 : 3,
      rounds,
      subject:
        'chat completions through opusclip serve /gateway/openai/v1, sandbox answering at once (the CPU of a second hop)',
    }),
  ];
}
