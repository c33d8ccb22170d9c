import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import type { ExplainRunner } from '../../src/db/explain.js';
import { redactSqlLiterals } from '../../src/db/redact-sql.js';
import { SlowQueryLog, type SlowQueryOptions } from '../../src/db/slow-query-log.js';
import type { ExecResult, SqlQuery } from '../../src/db/types.js';
import { FakeClock, flushMicrotasks } from '../../src/testing/index.js';

/** The EXPLAIN side, held open until the test releases it; records what it was asked. */
function explainer() {
  const calls: Array<{ query: SqlQuery; name: string; signal: AbortSignal }> = [];
  const pending: Array<(res: ExecResult<Record<string, unknown>>) => void> = [];
  const run: ExplainRunner = (signal, fn) =>
    fn({
      run: (query, name) =>
        new Promise((resolve, reject) => {
          calls.push({ query, name, signal });
          signal.addEventListener('abort', () => reject(new Error('EXPLAIN timed out')), { once: true });
          pending.push(resolve);
        }),
    });
  const answer = (...details: string[]): void => {
    const rows = details.map((detail, i) => ({ id: i + 2, parent: 0, detail }));
    for (const resolve of pending.splice(0)) resolve({ rows, affectedRows: 0 });
  };
  return { calls, run, answer };
}

function open(options: SlowQueryOptions, clock = new FakeClock()) {
  const ex = explainer();
  const log = new SlowQueryLog(options, { dialect: 'sqlite', clock, logger: silentLogger, run: ex.run });
  return { log, ex, clock };
}

const q = (sql: string, parameters: unknown[] = []): SqlQuery => ({ sql, parameters });

describe('SlowQueryLog', () => {
  it('captures only statements at or over the threshold, with the Clock’s time', async () => {
    const clock = new FakeClock(Date.UTC(2026, 5, 1));
    const { log } = open({ thresholdMs: 100, explain: false }, clock);
    log.observe('fast', q('SELECT 1'), 99.9);
    assert.deepEqual(log.entries(), []);
    log.observe('slow', q('SELECT * FROM t WHERE a = ?', ['x']), 100);
    await clock.advance(5000);
    log.observe('slow', q('SELECT * FROM t WHERE a = ?', ['y']), 300);
    const [entry] = log.entries();
    assert.equal(log.entries().length, 1);
    assert.equal(entry?.count, 2);
    assert.equal(entry?.maxMs, 300);
    assert.equal(entry?.avgMs, 200);
    assert.equal(entry?.lastMs, 300);
    assert.equal(entry?.firstSeenAt, Date.UTC(2026, 5, 1));
    assert.equal(entry?.lastSeenAt, Date.UTC(2026, 5, 1) + 5000);
    assert.equal(entry?.planStatus, 'not-planned');
    assert.deepEqual(Object.keys(entry ?? {}).sort(), [
      'avgMs',
      'count',
      'dialect',
      'findings',
      'firstSeenAt',
      'lastMs',
      'lastSeenAt',
      'maxMs',
      'name',
      'planStatus',
      'sql',
    ]);
  });

  it('samples: a rate of 0.25 keeps the runs whose draw is below it, and the counter channel sees all', () => {
    const draws = [0.1, 0.5, 0.24, 0.9];
    const { log } = open({
      thresholdMs: 0,
      sampleRate: 0.25,
      explain: false,
      random: () => draws.shift() ?? 1,
    });
    const seen: unknown[] = [];
    const listener = (m: unknown): void => {
      seen.push(m);
    };
    diagnostics.channel('opusclip:db:slow-query').subscribe(listener);
    try {
      for (let i = 0; i < 4; i++) log.observe('sampled', q('SELECT a FROM t'), 10);
    } finally {
      diagnostics.channel('opusclip:db:slow-query').unsubscribe(listener);
    }
    assert.equal(log.entries()[0]?.count, 2);
    assert.equal(seen.length, 4);
    assert.deepEqual(seen[0], { name: 'sampled', durationMs: 10 });
  });

  it('keeps at most maxEntries, evicting the least recently seen', () => {
    const { log } = open({ thresholdMs: 0, maxEntries: 2, explain: false });
    log.observe('a', q('SELECT a FROM t'), 1);
    log.observe('b', q('SELECT b FROM t'), 1);
    log.observe('a', q('SELECT a FROM t'), 1); // a is now the most recent
    log.observe('c', q('SELECT c FROM t'), 1); // evicts b
    assert.deepEqual(
      log.entries().map((e) => e.name),
      ['c', 'a'],
    );
  });

  it('groups texts that differ only in inline literals', () => {
    const { log } = open({ thresholdMs: 0, explain: false });
    log.observe('x', q("SELECT * FROM t WHERE token = 'secret-one' AND n > 5"), 1);
    log.observe('x', q("SELECT * FROM t WHERE token = 'secret-two' AND n > 6"), 1);
    const entries = log.entries();
    assert.equal(entries.length, 1);
    assert.equal(entries[0]?.sql, "SELECT * FROM t WHERE token = '?' AND n > ?");
  });

  it('plans a read once, one EXPLAIN in flight per statement, and never a write or DDL', async () => {
    const { log, ex } = open({ thresholdMs: 0 });
    log.observe('w', q('UPDATE t SET a = ? WHERE id = ?', ['v', 1]), 5);
    log.observe('d', q('CREATE INDEX i ON t(a)'), 5);
    log.observe('s', q('SELECT a FROM t WHERE b = ? FOR UPDATE', [1]), 5);
    assert.equal(ex.calls.length, 0);
    log.observe('r', q('SELECT a FROM t WHERE b = ?', ['long-parameter-value']), 5);
    log.observe('r', q('SELECT a FROM t WHERE b = ?', ['long-parameter-value']), 5);
    assert.equal(ex.calls.length, 1, 'the second run waits for the first EXPLAIN');
    assert.equal(ex.calls[0]?.query.sql, 'EXPLAIN QUERY PLAN SELECT a FROM t WHERE b = ?');
    assert.deepEqual(ex.calls[0]?.query.parameters, ['long-parameter-value'], 'the same parameters are sent');
    assert.equal(log.entries()[0]?.planStatus, 'pending');
    ex.answer('SCAN t');
    await log.settle();
    const read = log.entries().find((e) => e.name === 'r');
    assert.equal(read?.planStatus, 'planned');
    assert.deepEqual(
      read?.findings.map((f) => f.message),
      ['full scan of t', 'an index on t(b)'],
    );
    log.observe('r', q('SELECT a FROM t WHERE b = ?', ['again']), 5);
    assert.equal(ex.calls.length, 1, 'planned once');
    for (const name of ['w', 'd', 's']) {
      assert.equal(log.entries().find((e) => e.name === name)?.planStatus, 'not-a-read');
    }
    assert.ok(!JSON.stringify(log.entries()).includes('long-parameter-value'));
  });

  it('bounds EXPLAINs in flight; a statement skipped for lack of a slot is planned the next time', async () => {
    const { log, ex } = open({ thresholdMs: 0, maxConcurrentExplains: 1 });
    log.observe('one', q('SELECT a FROM t'), 5);
    log.observe('two', q('SELECT b FROM t'), 5);
    assert.equal(ex.calls.length, 1);
    assert.equal(log.entries().find((e) => e.name === 'two')?.planStatus, 'not-planned');
    ex.answer('SCAN t');
    await log.settle();
    log.observe('two', q('SELECT b FROM t'), 5);
    assert.equal(ex.calls.length, 2);
    ex.answer('SCAN t');
    await log.settle();
    assert.equal(log.entries()[0]?.planStatus, 'planned');
  });

  it('gives up an EXPLAIN after explainTimeoutMs on the Clock', async () => {
    const { log, ex, clock } = open({ thresholdMs: 0, explainTimeoutMs: 500 });
    log.observe('stuck', q('SELECT a FROM t'), 5);
    await clock.advance(499);
    await flushMicrotasks();
    assert.equal(log.entries()[0]?.planStatus, 'pending');
    await clock.advance(1);
    await log.settle();
    assert.equal(log.entries()[0]?.planStatus, 'failed');
    assert.equal(log.entries()[0]?.planError, 'EXPLAIN timed out');
    assert.equal(ex.calls[0]?.signal.aborted, true);
    // Tried again at the next capture, three attempts in all.
    for (let i = 0; i < 4; i++) {
      log.observe('stuck', q('SELECT a FROM t'), 5);
      await clock.advance(500);
      await log.settle();
    }
    assert.equal(ex.calls.length, 3);
  });

  it('keeps the findings of a huge plan but not the plan itself', async () => {
    const { log, ex } = open({ thresholdMs: 0 });
    log.observe('huge', q('SELECT a FROM t'), 5);
    ex.answer('SCAN t', `SCALAR SUBQUERY ${'x'.repeat(70_000)}`);
    await log.settle();
    const [entry] = log.entries();
    assert.equal(entry?.planStatus, 'planned');
    assert.match(JSON.stringify(entry?.plan), /omitted/);
    assert.ok(JSON.stringify(entry).length < 2000);
    assert.deepEqual(
      entry?.findings.map((f) => f.message),
      ['full scan of t'],
    );
  });

  it('never captures its own statements', () => {
    const { log } = open({ thresholdMs: 0, explain: false });
    log.observe('slowQueries.explain', q('EXPLAIN QUERY PLAN SELECT 1'), 5000);
    assert.deepEqual(log.entries(), []);
  });

  it('refuses options out of range', () => {
    for (const bad of [
      { sampleRate: 2 },
      { thresholdMs: -1 },
      { maxEntries: 0 },
      { explainTimeoutMs: 1.5 },
    ]) {
      assert.throws(() => open(bad), InvalidArgumentError);
    }
  });
});

describe('redactSqlLiterals', () => {
  it('hides strings and numbers, keeps names and placeholders', () => {
    assert.equal(
      redactSqlLiterals(
        "SELECT t1.col_2 FROM t1 WHERE a = 'it''s' AND b = 42 AND c = $1 AND d > -3.5e2",
        'postgres',
      ),
      "SELECT t1.col_2 FROM t1 WHERE a = '?' AND b = ? AND c = $1 AND d > ?",
    );
    assert.equal(redactSqlLiterals("SELECT $tag$ secret $tag$, E'x\\'y'", 'postgres'), "SELECT '?', '?'");
    assert.equal(
      redactSqlLiterals('SELECT * FROM `t` WHERE a = "secret" AND b = ?', 'mysql'),
      "SELECT * FROM `t` WHERE a = '?' AND b = ?",
    );
    assert.equal(
      redactSqlLiterals('SELECT "col1" FROM t WHERE x = 7', 'sqlite'),
      'SELECT "col1" FROM t WHERE x = ?',
    );
    // A backslash escapes nothing in a standard string: the next literal is still found and hidden.
    assert.equal(
      redactSqlLiterals("SELECT 1 WHERE a = 'C:\\' AND b = 'secret-value' AND c = 0x1F", 'postgres'),
      "SELECT ? WHERE a = '?' AND b = '?' AND c = ?",
    );
    assert.equal(redactSqlLiterals("SELECT 'it\\'s' , 'secret'", 'mysql'), "SELECT '?' , '?'");
  });
});
