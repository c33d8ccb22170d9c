import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { translatePlaceholders } from '../../src/db/translate-placeholders.js';

describe('translatePlaceholders', () => {
  it('numbers ? placeholders for PostgreSQL and keeps them for MySQL and SQLite', () => {
    const sql = 'SELECT * FROM videos WHERE status = ? AND duration > ?';
    assert.equal(
      translatePlaceholders(sql, ['a', 1], 'postgres').sql,
      'SELECT * FROM videos WHERE status = $1 AND duration > $2',
    );
    assert.equal(translatePlaceholders(sql, ['a', 1], 'mysql').sql, sql);
    assert.equal(translatePlaceholders(sql, ['a', 1], 'sqlite').sql, sql);
  });

  it('turns $n into ? for MySQL and SQLite, reordering and repeating parameters', () => {
    const out = translatePlaceholders('SELECT $2 AS b, $1 AS a, $2 AS again', ['A', 'B'], 'mysql');
    assert.equal(out.sql, 'SELECT ? AS b, ? AS a, ? AS again');
    assert.deepEqual(out.parameters, ['B', 'A', 'B']);
    assert.deepEqual(translatePlaceholders('SELECT $1', ['x'], 'postgres').parameters, ['x']);
  });

  it('leaves placeholders inside strings, identifiers, comments and dollar quotes alone', () => {
    const sql = `SELECT '?', "a?", x -- what?\n, /* $1 ? */ ? , $$ ? $$`;
    const out = translatePlaceholders(sql, [7], 'postgres');
    assert.equal(out.sql, `SELECT '?', "a?", x -- what?\n, /* $1 ? */ $1 , $$ ? $$`);
    const my = translatePlaceholders("SELECT 'it\\'s ?', `c?` , ?", [1], 'mysql');
    assert.equal(my.sql, "SELECT 'it\\'s ?', `c?` , ?");
  });

  it('keeps the jsonb ? operator when the query uses $n', () => {
    const out = translatePlaceholders("SELECT data ? 'k' FROM t WHERE id = $1", [1], 'postgres');
    assert.equal(out.sql, "SELECT data ? 'k' FROM t WHERE id = $1");
  });

  it('refuses a parameter count that does not match', () => {
    assert.throws(() => translatePlaceholders('SELECT ?', [], 'sqlite'), { code: 'ERR_INVALID_ARGUMENT' });
    assert.throws(() => translatePlaceholders('SELECT $2', ['a'], 'mysql'), { code: 'ERR_INVALID_ARGUMENT' });
  });
});
