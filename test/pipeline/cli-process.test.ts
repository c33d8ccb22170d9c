import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { main } from '../../src/cli/main.js';
import { createDatabase } from '../../src/db/index.js';
import { createSandbox, type Sandbox } from '../../src/sandbox/index.js';
import { type StoreSchema, VideoStore } from '../../src/store/index.js';

const CLI = new URL('./fixtures/opusclip-cli.ts', import.meta.url).pathname;
const IDS = Array.from({ length: 12 }, (_, i) => `vid${String(i).padStart(8, '0')}`);

describe('opusclip process, Ctrl-C and the read commands', () => {
  let dir: string;
  let sandbox: Sandbox;
  let env: NodeJS.ProcessEnv;
  let file: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'opusclip-cli-'));
    // Slow enough that the run is still going when the test interrupts it.
    sandbox = await createSandbox({ config: { latency: { fixedMs: 120, jitterMs: 0 } } });
    file = join(dir, 'urls.txt');
    await writeFile(
      file,
      [...IDS.map((id) => `https://youtu.be/${id}`), 'https://vimeo.com/42', ''].join('\n'),
    );
    env = {
      DATABASE_URL: `sqlite:${join(dir, 'run.db')}`,
      OPUSCLIP_ASSETS_DIR: join(dir, 'assets'),
      OPUSCLIP_SANDBOX_URL: sandbox.url,
    };
  });

  after(async () => {
    await sandbox?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('the first Ctrl-C lets running videos finish and exits 130; a re-run completes the rest', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', CLI, 'process', '--file', file, '--concurrency', '2', '--no-narration', '--json'],
      { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    let interrupted = false;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (!interrupted && /^completed /m.test(stderr)) {
        interrupted = true;
        child.kill('SIGINT');
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    assert.ok(interrupted, stderr);
    assert.equal(code, 130, stderr);
    assert.match(stderr, /stopping after the running work/);
    const first = JSON.parse(stdout) as { completed: number; failed: number };
    assert.ok(first.completed >= 1 && first.completed < IDS.length, `completed ${first.completed}`);
    assert.equal(first.failed, 0);

    const db = await createDatabase<StoreSchema>(env.DATABASE_URL!);
    try {
      const stats = await new VideoStore(db).stats();
      assert.equal(stats.videos.byStatus.processing, 0, 'no video was left half-done');
      assert.equal(stats.videos.byStatus.downloading, 0);
    } finally {
      await db.close();
    }

    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (t: string) => void out.push(t), err: (t: string) => void err.push(t) };
    const second = await main(
      ['process', '--file', file, '--concurrency', '4', '--no-narration', '--json'],
      io,
      env,
    );
    assert.equal(second, 1, 'the vimeo line is reported, so the exit status is 1');
    const summary = JSON.parse(out.join('')) as { completed: number; skipped: number; badInputs: unknown[] };
    assert.equal(summary.skipped, first.completed);
    assert.equal(summary.completed, IDS.length - first.completed);
    assert.equal(summary.badInputs.length, 1);
  });

  it('videos, video and stats read what the runs stored', async () => {
    const out: string[] = [];
    const io = { out: (t: string) => void out.push(t), err: () => {} };
    assert.equal(await main(['videos', '--status', 'completed', '--json'], io, env), 0);
    const videos = JSON.parse(out.pop()!) as Array<{ id: string; sourceVideoId: string; status: string }>;
    assert.deepEqual(videos.map((v) => v.sourceVideoId).sort(), [...IDS].sort());
    assert.equal(await main(['video', videos[0]!.id, '--json'], io, env), 0);
    const one = JSON.parse(out.pop()!) as { video: { id: string }; clips: Array<{ thumbnailPath: string }> };
    assert.equal(one.video.id, videos[0]!.id);
    assert.ok(one.clips.length > 0 && one.clips.every((c) => c.thumbnailPath));
    assert.equal(await main(['stats', '--json'], io, env), 0);
    const stats = JSON.parse(out.pop()!) as { stats: { videos: { total: number } } };
    assert.equal(stats.stats.videos.total, IDS.length);
    assert.equal(await main(['videos', '--status', 'nope'], { out: () => {}, err: () => {} }, env), 2);
    assert.equal(
      await main(['video', '00000000-0000-7000-8000-000000000000'], { out: () => {}, err: () => {} }, env),
      1,
    );
  });
});
