import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { ensureBuilt, startCli, stopProcess } from './cli-helpers.js';

const SERVICE_KEY = 'svc-e2e-gateway-key-0123456789';

describe('opusclip serve exposes the vendor gateway', () => {
  let cwd: string;
  const running: ChildProcess[] = [];

  before(async () => {
    await ensureBuilt();
    cwd = await mkdtemp(join(tmpdir(), 'opusclip-gateway-'));
  });
  after(async () => {
    for (const child of running) await stopProcess(child);
    await rm(cwd, { recursive: true, force: true });
  });

  it('answers the openai SDK through /gateway/openai/v1 with the sandbox behind it', async () => {
    const p = startCli(['serve', '--port', '0', '--sandbox'], {
      cwd,
      env: {
        DATABASE_URL: `sqlite:${join(cwd, 'gateway.db')}`,
        OPUSCLIP_ASSETS_DIR: join(cwd, 'assets'),
        OPUSCLIP_API_KEYS: SERVICE_KEY,
        LOG_LEVEL: 'warn',
      },
    });
    running.push(p.child);
    await p.waitFor(/vendor gateway at \/gateway\/<vendor>\/ \(the sandbox at http:\/\/127\.0\.0\.1:\d+\)/);
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(p.stderr())?.[1];
    assert.ok(url, p.stderr());
    const client = new OpenAI({ apiKey: SERVICE_KEY, baseURL: `${url}/gateway/openai/v1`, maxRetries: 0 });
    const completion = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Hello from the e2e test' }],
    });
    assert.equal(completion.object, 'chat.completion');
    assert.ok(completion.choices[0]?.message.content);
    const refused = await fetch(`${url}/gateway/openai/v1/models`);
    assert.equal(refused.status, 401);
    p.child.kill('SIGTERM');
    const run = await p.exited;
    assert.equal(run.code, 0, run.stderr);
  });

  it('holds Stability generations to OPUSCLIP_STABILITY_CREDITS_PER_MONTH', async () => {
    const p = startCli(['serve', '--port', '0', '--sandbox'], {
      cwd,
      env: {
        DATABASE_URL: `sqlite:${join(cwd, 'credits.db')}`,
        OPUSCLIP_ASSETS_DIR: join(cwd, 'assets'),
        OPUSCLIP_API_KEYS: SERVICE_KEY,
        // Two `core` images (3 credits each) and not a third.
        OPUSCLIP_STABILITY_CREDITS_PER_MONTH: '7',
        LOG_LEVEL: 'warn',
      },
    });
    running.push(p.child);
    await p.waitFor(/listening on http/);
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(p.stderr())?.[1];
    assert.ok(url, p.stderr());
    const generate = async () => {
      const form = new FormData();
      form.set('prompt', 'a harbour at dawn');
      const res = await fetch(`${url}/gateway/stability/v2beta/stable-image/generate/core`, {
        method: 'POST',
        headers: { authorization: `Bearer ${SERVICE_KEY}`, accept: 'image/*' },
        body: form,
      });
      return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
    };
    assert.equal((await generate()).status, 200);
    assert.equal((await generate()).status, 200);
    const third = await generate();
    assert.equal(third.status, 429, third.body);
    assert.match(third.body, /credits/);
    p.child.kill('SIGTERM');
    const run = await p.exited;
    assert.equal(run.code, 0, run.stderr);
  });
});
