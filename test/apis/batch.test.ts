import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chunk } from '../../src/apis/batch.js';
import { mapSettled } from '../../src/apis/index.js';
import { OpusError } from '../../src/core/index.js';

describe('mapSettled', () => {
  it('keeps input order, bounds concurrency and turns failures into typed entries', async () => {
    let running = 0;
    let peak = 0;
    const results = await mapSettled(
      [5, 1, 4, 2, 3, 0],
      async (n) => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, n * 3));
        running--;
        if (n === 4) throw new OpusError('ERR_TEST', 'four');
        if (n === 0) throw new Error('plain');
        return n * 10;
      },
      { concurrency: 2 },
    );
    assert.equal(peak, 2);
    assert.deepEqual(
      results.map((r) => (r.ok ? r.value : r.error.code)),
      [50, 10, 'ERR_TEST', 20, 30, 'ERR_API_UNEXPECTED'],
    );
  });

  it('reports items not started after an abort as aborted, never a shorter list', async () => {
    const controller = new AbortController();
    const results = await mapSettled(
      [1, 2, 3, 4],
      async (n) => {
        if (n === 2) controller.abort();
        return n;
      },
      { concurrency: 1, signal: controller.signal },
    );
    assert.equal(results.length, 4);
    assert.deepEqual(
      results.map((r) => (r.ok ? r.value : r.error.code)),
      [1, 2, 'ERR_ABORTED', 'ERR_ABORTED'],
    );
  });

  it('chunk splits into consecutive groups', () => {
    assert.deepEqual(chunk([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]]);
    assert.deepEqual(chunk([], 50), []);
  });
});
