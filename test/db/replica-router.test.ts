import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReplicaRouter, WriteMark } from '../../src/db/replica-router.js';
import { formatWalPosition, parseWalPosition } from '../../src/db/wal-position.js';
import { FakeClock } from '../../src/testing/index.js';

const PRIMARY = -1;

function router(names: string[], options: { readFromPrimary?: boolean; maxLagMs?: number } = {}) {
  const clock = new FakeClock();
  const refreshed: number[] = [];
  const r = new ReplicaRouter(names, {
    clock,
    maxLagMs: options.maxLagMs ?? 5_000,
    staleAfterMs: 3_000,
    readFromPrimary: options.readFromPrimary ?? false,
    refresh: (i) => refreshed.push(i),
  });
  return { clock, r, refreshed };
}

describe('WAL positions', () => {
  it('parses and formats pg_lsn text, in order', async () => {
    assert.equal(parseWalPosition('0/496E740'), 0x496e740n);
    assert.equal(parseWalPosition('16/B374D848'), (0x16n << 32n) | 0xb374d848n);
    assert.ok(parseWalPosition('1/0')! > parseWalPosition('0/FFFFFFFF')!);
    assert.equal(formatWalPosition(parseWalPosition('16/B374D848')!), '16/B374D848');
    for (const bad of [null, undefined, '', '0/', '/1', '12345', '0/xyz', '123456789/0']) {
      assert.equal(parseWalPosition(bad), undefined, String(bad));
    }
  });
});

describe('ReplicaRouter', () => {
  it('sends reads to a checked replica; an unchecked or unreachable one is skipped', async () => {
    const { r } = router(['a:5432']);
    assert.equal(r.route(new WriteMark(), 'read-your-writes'), PRIMARY, 'not checked yet');
    r.notePrimaryPosition(100n, 0);
    r.noteReplayed(0, 100n);
    assert.equal(r.route(new WriteMark(), 'read-your-writes'), 0);
    r.noteUnreachable(0);
    assert.equal(r.route(new WriteMark(), 'eventual'), PRIMARY);
    const s = r.stats();
    assert.deepEqual(s.reads, { primary: 2, replica: 1 });
    assert.equal(s.replicas[0]!.state, 'unreachable');
    assert.equal(s.replicas[0]!.skipped.unreachable, 2);
  });

  it("'primary' always reads the primary", () => {
    const { r } = router(['a:5432']);
    r.noteReplayed(0, 100n);
    assert.equal(r.route(new WriteMark(), 'primary'), PRIMARY);
    assert.equal(r.stats().replicas[0]!.skipped.unreachable, 0);
  });

  it('read-your-writes: the primary until the replica has replayed the write, asking it for a fresh position', async () => {
    const { r, refreshed } = router(['a:5432']);
    r.noteReplayed(0, 100n);
    const mark = new WriteMark();
    r.noteWrite(mark, 150n, 0);
    assert.equal(r.route(mark, 'read-your-writes'), PRIMARY);
    assert.deepEqual(refreshed, [0], 'the replica is asked for its position');
    assert.equal(r.stats().readYourWritesFallbacks, 1);
    // Another caller (no writes) and 'eventual' are not held back by this write.
    assert.equal(r.route(new WriteMark(), 'read-your-writes'), 0);
    assert.equal(r.route(mark, 'eventual'), 0);
    r.noteReplayed(0, 150n);
    assert.equal(r.route(mark, 'read-your-writes'), 0);
    assert.equal(r.stats().readYourWritesFallbacks, 1);
  });

  it('a write whose position is still being read, or could not be read, keeps its caller on the primary', async () => {
    const { r, clock } = router(['a:5432']);
    r.noteReplayed(0, 100n);
    const mark = new WriteMark();
    mark.pending = 1;
    assert.equal(r.route(mark, 'read-your-writes'), PRIMARY);
    mark.pending = 0;
    mark.unknownSince = clock.now();
    assert.equal(r.route(mark, 'read-your-writes'), PRIMARY);
    // A position read sent before the write finished says nothing about it.
    r.notePrimaryPosition(120n, clock.now() - 1);
    assert.equal(r.route(mark, 'read-your-writes'), PRIMARY);
    await clock.advance(10);
    r.notePrimaryPosition(130n, clock.now());
    r.noteReplayed(0, 125n);
    assert.equal(r.route(mark, 'read-your-writes'), PRIMARY, 'needs 130');
    assert.equal(mark.position, 130n);
    r.noteReplayed(0, 130n);
    assert.equal(r.route(mark, 'read-your-writes'), 0);
  });

  it('lag is the time since the primary was first seen past what the replica has replayed', async () => {
    const { r, clock } = router(['a:5432'], { maxLagMs: 5_000 });
    r.notePrimaryPosition(100n, clock.now());
    r.noteReplayed(0, 100n);
    assert.equal(r.stats().replicas[0]!.lagMs, 0);
    // An idle primary: no lag however long nothing happens.
    await clock.advance(60_000);
    r.notePrimaryPosition(100n, clock.now());
    r.noteReplayed(0, 100n);
    assert.equal(r.stats().replicas[0]!.lagMs, 0);
    // The primary moves on; the replica stays at 100.
    r.notePrimaryPosition(200n, clock.now());
    await clock.advance(2_000);
    r.notePrimaryPosition(300n, clock.now());
    r.noteReplayed(0, 100n);
    assert.equal(r.stats().replicas[0]!.lagMs, 2_000);
    assert.equal(r.stats().replicas[0]!.state, 'ok');
    assert.equal(r.route(new WriteMark(), 'eventual'), 0);
    await clock.advance(4_000);
    r.noteReplayed(0, 250n);
    assert.equal(r.stats().replicas[0]!.lagMs, 4_000, 'behind 300, first seen 4 s ago');
    await clock.advance(1_500);
    r.noteReplayed(0, 250n);
    assert.equal(r.stats().replicas[0]!.state, 'lagging');
    assert.equal(r.route(new WriteMark(), 'eventual'), PRIMARY);
    assert.equal(r.stats().replicas[0]!.skipped.lagging, 1);
    r.noteReplayed(0, 300n);
    assert.equal(r.stats().replicas[0]!.lagMs, 0);
    assert.equal(r.route(new WriteMark(), 'eventual'), 0);
  });

  it('a replica not checked for staleAfterMs counts as unreachable', async () => {
    const { r, clock } = router(['a:5432']);
    r.noteReplayed(0, 1n);
    await clock.advance(3_001);
    assert.equal(r.route(new WriteMark(), 'eventual'), PRIMARY);
    assert.equal(r.stats().replicas[0]!.skipped.unreachable, 1);
  });

  it('a server that is not in recovery is never read from', async () => {
    const { r } = router(['a:5432']);
    r.noteNotReplica(0);
    assert.equal(r.route(new WriteMark(), 'eventual'), PRIMARY);
    assert.equal(r.stats().replicas[0]!.state, 'not_replica');
  });

  it('round robin over the usable replicas, and over the primary too with readFromPrimary', async () => {
    const two = router(['a:5432', 'b:5432']);
    two.r.noteReplayed(0, 1n);
    two.r.noteReplayed(1, 1n);
    const picks = Array.from({ length: 6 }, () => two.r.route(new WriteMark(), 'eventual'));
    assert.deepEqual(picks, [0, 1, 0, 1, 0, 1]);
    two.r.noteUnreachable(1);
    assert.deepEqual(
      Array.from({ length: 3 }, () => two.r.route(new WriteMark(), 'eventual')),
      [0, 0, 0],
    );

    const withPrimary = router(['a:5432'], { readFromPrimary: true });
    withPrimary.r.noteReplayed(0, 1n);
    const spread = Array.from({ length: 4 }, () => withPrimary.r.route(new WriteMark(), 'eventual'));
    assert.deepEqual(spread.sort(), [-1, -1, 0, 0]);
    // No replica has replayed the write: a read-your-writes fallback, whoever's turn it was.
    const mark = new WriteMark();
    withPrimary.r.noteWrite(mark, 5n, 0);
    assert.equal(withPrimary.r.route(mark, 'read-your-writes'), PRIMARY);
    assert.equal(withPrimary.r.stats().readYourWritesFallbacks, 1);
  });

  it('a failover moves the read to the primary in the counts and, when the connection was lost, marks the replica', async () => {
    const { r } = router(['a:5432']);
    r.noteReplayed(0, 1n);
    assert.equal(r.route(new WriteMark(), 'eventual'), 0);
    r.noteFailover(0, true);
    const s = r.stats();
    assert.deepEqual(s.reads, { primary: 1, replica: 0 });
    assert.equal(s.replicas[0]!.failovers, 1);
    assert.equal(s.replicas[0]!.state, 'unreachable');
  });
});
