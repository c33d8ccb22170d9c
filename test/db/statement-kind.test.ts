import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { statementKind } from '../../src/db/statement-kind.js';

describe('statementKind', () => {
  it('reads: SELECT, WITH, VALUES, TABLE and SHOW without locks, effects or session state', () => {
    for (const sql of [
      'select id from videos where id = $1',
      '  /* store.getVideoById */ SELECT * FROM videos',
      '-- a comment\nWITH recent AS (SELECT * FROM videos) SELECT * FROM recent',
      'VALUES (1), (2)',
      'TABLE videos',
      'SHOW search_path',
      'SELECT updated_at, deleted FROM videos',
      'select 1;',
    ]) {
      assert.equal(statementKind(sql, 'postgres'), 'read', sql);
    }
  });

  it('writes: INSERT, UPDATE, DELETE, MERGE, REPLACE, data-modifying WITH, locking reads, nextval()', () => {
    for (const sql of [
      'INSERT INTO videos (id) VALUES ($1)',
      'update videos set status = $1',
      'DELETE FROM clips WHERE video_id = $1',
      'MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE',
      'WITH gone AS (DELETE FROM clips RETURNING id) SELECT count(*) FROM gone',
      'SELECT * FROM videos WHERE id = $1 FOR UPDATE',
      'SELECT * FROM videos FOR NO KEY UPDATE SKIP LOCKED',
      'SELECT * FROM videos FOR SHARE',
      'SELECT nextval($1)',
    ]) {
      assert.equal(statementKind(sql, 'postgres'), 'write', sql);
    }
    assert.equal(statementKind('REPLACE INTO t (id) VALUES (?)', 'mysql'), 'write');
    assert.equal(statementKind('SELECT * FROM t LOCK IN SHARE MODE', 'mysql'), 'write');
  });

  it('exclusive: session state, DDL, several statements, and whatever is not known', () => {
    for (const sql of [
      'SET statement_timeout = 100',
      'LISTEN jobs',
      'COPY videos FROM STDIN',
      'BEGIN',
      'CREATE TEMP TABLE x (id int)',
      'CREATE INDEX CONCURRENTLY i ON videos (title)',
      'SELECT pg_advisory_lock(42)',
      'SELECT pg_advisory_unlock_all()',
      "SELECT set_config('search_path', 'x', false)",
      'SELECT currval($1)',
      'SELECT * INTO new_table FROM videos',
      'SELECT 1; SET x = 1',
      'EXPLAIN ANALYZE DELETE FROM videos',
      'VACUUM videos',
      'CALL refresh()',
      'DO $$ BEGIN END $$',
      'selec 1',
    ]) {
      assert.equal(statementKind(sql, 'postgres'), 'exclusive', sql);
    }
    for (const sql of [
      'SELECT GET_LOCK(?, 10)',
      'SELECT LAST_INSERT_ID()',
      'SELECT FOUND_ROWS()',
      'SET @x = 1',
      'SELECT @x := 1',
      'SELECT id INTO @id FROM t LIMIT 1',
    ]) {
      assert.equal(statementKind(sql, 'mysql'), 'exclusive', sql);
    }
  });
});
