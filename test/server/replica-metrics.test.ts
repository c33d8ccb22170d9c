import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createDatabase, type Database } from '../../src/db/index.js';
import { createMetricsRegistry } from '../../src/server/index.js';
import { TEST_PG_URL } from '../support/env.js';
import { ensurePgReplica, TEST_PG_REPLICA_URL } from '../support/pg-replica.js';
import { promtoolCheck } from './helpers.js';

const SECRET = 'metrics-replica-secret-42';

function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

/** The read replica series of /metrics, from a database with one live and one unreachable replica. */
describe('read replica series in /metrics', () => {
  let db: Database<unknown>;
  let deadPort: number;

  before(async () => {
    await ensurePgReplica();
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    deadPort = (server.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    db = await createDatabase({
      url: TEST_PG_URL,
      replicas: [TEST_PG_REPLICA_URL, `postgres://postgres:${SECRET}@127.0.0.1:${deadPort}/test`],
    });
  });
  after(() => db.close());

  it('exports reads by target, fallbacks, and each replica by host:port (lint-clean, no password)', async () => {
    for (let i = 0; i < 5; i++) await db.executeQuery('SELECT 1 AS one', [], { consistency: 'eventual' });
    const registry = createMetricsRegistry({ db, processMetrics: false });
    try {
      const text = await registry.metrics();
      const snap = db.metrics().replicas!;
      assert.equal(value(text, 'opusclip_db_reads_total{target="replica"}'), snap.reads.replica);
      assert.ok(snap.reads.replica >= 5);
      assert.equal(value(text, 'opusclip_db_reads_total{target="primary"}'), snap.reads.primary);
      assert.equal(value(text, 'opusclip_db_read_your_writes_fallbacks_total'), snap.readYourWritesFallbacks);
      assert.equal(value(text, 'opusclip_db_replica_state{replica="127.0.0.1:5433",state="ok"}'), 1);
      assert.equal(value(text, 'opusclip_db_replica_state{replica="127.0.0.1:5433",state="lagging"}'), 0);
      const dead = `127.0.0.1:${deadPort}`;
      assert.equal(value(text, `opusclip_db_replica_state{replica="${dead}",state="unreachable"}`), 1);
      assert.ok(value(text, `opusclip_db_replica_skips_total{replica="${dead}",reason="unreachable"}`)! >= 5);
      assert.equal(
        value(text, 'opusclip_db_replica_reads_total{replica="127.0.0.1:5433"}'),
        snap.replicas[0]!.reads,
      );
      assert.ok(value(text, 'opusclip_db_replica_lag_seconds{replica="127.0.0.1:5433"}')! >= 0);
      assert.equal(
        value(text, `opusclip_db_replica_lag_seconds{replica="${dead}"}`),
        undefined,
        'unknown lag: no sample',
      );
      assert.equal(value(text, 'opusclip_db_replica_failovers_total{replica="127.0.0.1:5433"}'), 0);
      assert.ok(!text.includes(SECRET));
      const lint = await promtoolCheck(text);
      assert.equal(lint.code, 0, lint.output);
    } finally {
      registry.close();
    }
  });

  it('a database without replicas has none of these samples', async () => {
    const plain = await createDatabase({ url: TEST_PG_URL });
    const registry = createMetricsRegistry({ db: plain, processMetrics: false });
    try {
      const text = await registry.metrics();
      assert.equal(plain.metrics().replicas, undefined);
      assert.ok(!/^opusclip_db_(reads_total|replica_\w+)\{/m.test(text), 'no replica samples');
      const lint = await promtoolCheck(text);
      assert.equal(lint.code, 0, lint.output);
    } finally {
      registry.close();
      await plain.close();
    }
  });
});
