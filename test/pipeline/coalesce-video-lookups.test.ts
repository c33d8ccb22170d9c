import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OpusError } from '../../src/core/index.js';
import {
  coalesceVideoLookups,
  type Lookup,
  type PipelinePorts,
  type VideoMetadata,
} from '../../src/pipeline/index.js';

/** An upstream whose calls stay open until the test ends them; records the ids of each call. */
function upstream() {
  const calls: Array<{ ids: string[]; end: (error?: Error) => void }> = [];
  // Only getVideos is exercised; extra() stands for the other ports, which must stay reachable.
  const ports = {
    getVideos(ids: readonly string[]) {
      return new Promise<Array<Lookup<VideoMetadata>>>((resolve, reject) => {
        calls.push({
          ids: [...ids],
          end: (error) =>
            error
              ? reject(error)
              : resolve(
                  ids.map((id) =>
                    id.startsWith('gone')
                      ? { ok: false as const, error: new OpusError('ERR_TEST_NOT_FOUND', `${id} not found`) }
                      : { ok: true as const, value: meta(id) },
                  ),
                ),
        });
      });
    },
    extra() {
      return `kept ${calls.length}`;
    },
  } as unknown as PipelinePorts & { extra(): string };
  return { ports, calls };
}

function meta(id: string): VideoMetadata {
  return {
    videoId: id,
    title: `title ${id}`,
    description: '',
    channelId: null,
    channelTitle: null,
    publishedAt: null,
    durationSeconds: 60,
    viewCount: null,
    likeCount: null,
    hasCaptions: false,
  };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
const idsOf = (r: Array<Lookup<VideoMetadata>>): string[] => r.map((x) => (x.ok ? x.value.videoId : 'error'));

describe('coalesceVideoLookups', () => {
  it('sends a lone lookup at once, and those arriving while it runs as one call', async () => {
    const { ports, calls } = upstream();
    const merged = coalesceVideoLookups(ports);
    const first = merged.getVideos(['a'], undefined);
    await tick();
    assert.deepEqual(
      calls.map((c) => c.ids),
      [['a']],
    );
    const rest = ['b', 'c', 'gone1', 'd'].map((id) => merged.getVideos([id], undefined));
    await tick();
    assert.equal(calls.length, 1, 'the others wait for the running call');
    calls[0]!.end();
    assert.deepEqual(idsOf(await first), ['a']);
    await tick();
    assert.deepEqual(calls[1]!.ids, ['b', 'c', 'gone1', 'd']);
    calls[1]!.end();
    const results = await Promise.all(rest);
    assert.deepEqual(results.map(idsOf), [['b'], ['c'], ['error'], ['d']]);
    const gone = results[2]![0]!;
    assert.ok(!gone.ok && gone.error.code === 'ERR_TEST_NOT_FOUND');
    // The other ports are the original object's.
    assert.equal((merged as typeof ports).extra(), 'kept 2');
  });

  it('splits at maxBatch, passes a full batch straight through, and fails only the call that failed', async () => {
    const { ports, calls } = upstream();
    const merged = coalesceVideoLookups(ports, { maxBatch: 3 });
    const blocker = merged.getVideos(['x'], undefined);
    await tick();
    const waiting = ['p', 'q', 'r', 's'].map((id) => merged.getVideos([id], undefined));
    const full = merged.getVideos(['f1', 'f2', 'f3'], undefined);
    await tick();
    assert.deepEqual(
      calls.map((c) => c.ids),
      [['x'], ['f1', 'f2', 'f3']],
    );
    calls[1]!.end();
    assert.deepEqual(idsOf(await full), ['f1', 'f2', 'f3']);
    calls[0]!.end();
    await blocker;
    await tick();
    assert.deepEqual(calls[2]!.ids, ['p', 'q', 'r']);
    calls[2]!.end(new Error('quota spent'));
    for (const p of waiting.slice(0, 3)) await assert.rejects(p, /quota spent/);
    await tick();
    assert.deepEqual(calls[3]!.ids, ['s']);
    calls[3]!.end();
    assert.deepEqual(idsOf(await waiting[3]!), ['s']);
  });

  it('a caller that aborts stops waiting at once and is left out of the next call', async () => {
    const { ports, calls } = upstream();
    const merged = coalesceVideoLookups(ports);
    const running = merged.getVideos(['a'], undefined);
    const controller = new AbortController();
    const abandoned = merged.getVideos(['b'], controller.signal);
    const kept = merged.getVideos(['c'], undefined);
    controller.abort(new Error('job cancelled'));
    await assert.rejects(
      abandoned,
      (e: Error) => e.name === 'AbortedError' && (e.cause as Error).message === 'job cancelled',
    );
    calls[0]!.end();
    await running;
    await tick();
    assert.deepEqual(calls[1]!.ids, ['c']);
    calls[1]!.end();
    assert.deepEqual(idsOf(await kept), ['c']);
  });
});
