import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { uuidv7 } from '../../src/store/uuid-v7.js';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const millis = (id: string): number => Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16);

describe('uuidv7', () => {
  it('has the version 7 layout and carries the current millisecond', () => {
    const before = Date.now();
    const id = uuidv7();
    const after = Date.now();
    assert.match(id, V7);
    assert.ok(millis(id) >= before && millis(id) <= after + 1, `${millis(id)} in [${before}, ${after}]`);
    assert.equal(millis(uuidv7(Date.UTC(2030, 0, 1))), Date.UTC(2030, 0, 1));
  });

  it('is unique and strictly increasing across 200,000 ids, past the refills of its random pool', () => {
    let previous = uuidv7();
    const seen = new Set<string>([previous]);
    for (let i = 0; i < 200_000; i++) {
      const id = uuidv7();
      assert.ok(id > previous, `${id} after ${previous}`);
      seen.add(id);
      previous = id;
    }
    assert.equal(seen.size, 200_001);
  });

  it('keeps increasing when the clock stands still or steps back, borrowing a millisecond on overflow', () => {
    const t = Date.UTC(2031, 5, 1);
    let previous = uuidv7(t);
    for (let i = 0; i < 5_000; i++) {
      const id = uuidv7(i % 2 === 0 ? t : t - 10);
      assert.match(id, V7);
      assert.ok(id > previous);
      previous = id;
    }
    // More than the 4,096 a counter holds: the timestamp moved on by at least one.
    assert.ok(millis(previous) > t);
    assert.ok(millis(previous) <= t + 2);
  });
});
