import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Kysely, sql } from 'kysely';
import type { MigrationSet } from '../../src/db/index.js';
import { testTargets } from '../support/databases.js';

/** A migration that fails if it ever runs twice (the table already exists). */
function migrations(runs: { count: number }): MigrationSet {
  return {
    '0001_widgets': {
      // biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed schema exists.
      async up(db: Kysely<any>) {
        runs.count++;
        await db.schema
          .createTable('widgets')
          .addColumn('id', 'integer', (c) => c.primaryKey())
          .execute();
        await sql`INSERT INTO widgets (id) VALUES (1)`.execute(db);
      },
    },
    '0002_widgets_name': {
      // biome-ignore lint/suspicious/noExplicitAny: as above.
      async up(db: Kysely<any>) {
        runs.count++;
        await db.schema.alterTable('widgets').addColumn('name', 'varchar(50)').execute();
      },
    },
  };
}

for (const target of testTargets(['postgres', 'mysql', 'sqlite-file'])) {
  describe(`migrations on ${target.name}`, () => {
    it('two processes migrating at once apply each migration exactly once', async () => {
      const a = await target.open();
      const b = await target.open();
      const runs = { count: 0 };
      try {
        const [ra, rb] = await Promise.all([a.migrate(migrations(runs)), b.migrate(migrations(runs))]);
        assert.equal(runs.count, 2);
        assert.deepEqual([...ra.applied, ...rb.applied].sort(), ['0001_widgets', '0002_widgets_name']);
        const again = await a.migrate(migrations(runs));
        assert.deepEqual(again.applied, []);
        assert.deepEqual(again.alreadyApplied, ['0001_widgets', '0002_widgets_name']);
        const rows = await a.executeQuery<{ c: number }>('SELECT COUNT(*) AS c FROM widgets');
        assert.equal(Number(rows[0]!.c), 1);
      } finally {
        await a.close();
        await b.close();
        await target.dispose();
      }
    });
  });
}
