import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../../src/core/logger.js';
import { DatabaseError, DbErrorCode, type ExecOptions, type SqlQuery } from '../../src/db/index.js';
import { WriteMark } from '../../src/db/replica-router.js';
import { ReplicaSet, type ReplicaTarget, type StatementTarget } from '../../src/db/replica-set.js';
import type { ExecResult } from '../../src/db/types.js';
import { FakeClock, flushMicrotasks } from '../../src/testing/index.js';

/**
 * The checks of ReplicaSet on the FakeClock: the primary and each replica are stand-ins that answer the
 * two check statements from a variable (the statements themselves run against the real servers in
 * read-replicas.test.ts); what is under test is when they are asked and what follows from the answers.
 */
function primary(state: { position: string; asked: number }): StatementTarget {
  return {
    execute: async <R>(query: SqlQuery) => {
      if (!/pg_current_wal_lsn/.test(query.sql))
        return { rows: [{ from: 'primary' }] as R[], affectedRows: 0 };
      state.asked++;
      return { rows: [{ position: state.position }] as R[], affectedRows: 0 };
    },
  };
}

function replica(
  name: string,
  state: { replayed: string; down: boolean; checks: number; reads: number },
): ReplicaTarget {
  return {
    name,
    slowQueries: () => [],
    execute: async <R>(query: SqlQuery, _options?: ExecOptions): Promise<ExecResult<R>> => {
      if (state.down) throw new DatabaseError(DbErrorCode.ConnectFailed, 'connect ECONNREFUSED');
      if (/pg_last_wal_replay_lsn/.test(query.sql)) {
        state.checks++;
        return { rows: [{ recovery: true, replayed: state.replayed }] as R[], affectedRows: 0 };
      }
      state.reads++;
      return { rows: [{ from: name }] as R[], affectedRows: 0 };
    },
    close: async () => {},
  };
}

describe('ReplicaSet checks on the clock', () => {
  const setUp = () => {
    const clock = new FakeClock();
    const p = { position: '0/100', asked: 0 };
    const r = { replayed: '0/100', down: false, checks: 0, reads: 0 };
    const set = new ReplicaSet([replica('r1:5432', r)], primary(p), {
      clock,
      logger: silentLogger,
      maxLagMs: 1_000,
      pollMs: 500,
      checkTimeoutMs: 200,
      readFromPrimary: false,
    });
    return { clock, p, r, set };
  };
  const read = { sql: 'SELECT 1', parameters: [] };

  it('checks at start and then every pollMs; a replica that went down is used again after the next good check', async () => {
    const { clock, p, r, set } = setUp();
    await set.start();
    assert.equal(p.asked, 1);
    assert.equal(r.checks, 1);
    await set.read(read, undefined, new WriteMark(), 'eventual');
    assert.equal(r.reads, 1);
    r.down = true;
    await clock.advance(500);
    assert.equal(p.asked, 2);
    assert.equal(set.stats().replicas[0]!.state, 'unreachable');
    // Reads skip it (no attempt on it) while it is down.
    await set.read(read, undefined, new WriteMark(), 'eventual');
    assert.equal(set.stats().reads.primary, 1);
    r.down = false;
    await clock.advance(499);
    assert.equal(set.stats().replicas[0]!.state, 'unreachable', 'not before the next check');
    await clock.advance(1);
    assert.equal(set.stats().replicas[0]!.state, 'ok');
    await set.read(read, undefined, new WriteMark(), 'eventual');
    assert.equal(r.reads, 2);
    await set.close();
    const asked = p.asked;
    await clock.advance(5_000);
    assert.equal(p.asked, asked, 'no checks after close');
  });

  it('lag from the checks: the primary moves on, the replica does not, it is skipped past maxLagMs', async () => {
    const { clock, p, r, set } = setUp();
    await set.start();
    p.position = '0/200';
    await clock.advance(500);
    assert.equal(set.stats().replicas[0]!.lagMs, 0, 'seen past 0/100 just now');
    await clock.advance(1_000);
    assert.equal(set.stats().replicas[0]!.lagMs, 1_000);
    await clock.advance(500);
    assert.equal(set.stats().replicas[0]!.state, 'lagging');
    await set.read(read, undefined, new WriteMark(), 'eventual');
    assert.equal(r.reads, 0);
    r.replayed = '0/200';
    await clock.advance(500);
    assert.equal(set.stats().replicas[0]!.state, 'ok');
    await set.close();
  });

  it('writes that finish in the same turn share one position read; their callers wait for it', async () => {
    const { p, r, set } = setUp();
    await set.start();
    const asked = p.asked;
    const a = new WriteMark();
    const b = new WriteMark();
    p.position = '0/300';
    set.afterWrite([a]);
    set.afterWrite([b]);
    assert.equal(a.pending, 1);
    await set.read(read, undefined, a, 'read-your-writes');
    assert.equal(r.reads, 0, 'the primary while the position is read');
    await flushMicrotasks();
    assert.equal(p.asked, asked + 1, 'one read for both writes');
    assert.equal(a.position, 0x300n);
    assert.equal(b.position, 0x300n);
    // The replica is behind the write: the primary, and the replica is asked again at once.
    const checks = r.checks;
    await set.read(read, undefined, a, 'read-your-writes');
    assert.equal(r.checks, checks + 1);
    r.replayed = '0/300';
    await set.read(read, undefined, a, 'read-your-writes');
    await flushMicrotasks();
    await set.read(read, undefined, a, 'read-your-writes');
    assert.equal(r.reads, 1);
    assert.ok(set.stats().readYourWritesFallbacks >= 2);
    await set.close();
  });
});
