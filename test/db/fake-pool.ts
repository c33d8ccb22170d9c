import { ConnectionPool, type PoolableConnection } from '../../src/db/connection-pool.js';
import type { FakeClock } from '../../src/testing/index.js';

/** A pool connection that does no I/O: pings count (and fail on demand), close marks it closed. */
export class FakeConn implements PoolableConnection {
  static next = 0;
  readonly id = FakeConn.next++;
  broken = false;
  closed = false;
  pings = 0;
  failPing = false;
  async ping(): Promise<void> {
    this.pings++;
    if (this.failPing) throw new Error('gone');
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

/** A ConnectionPool of FakeConns on `clock` (max 2, 1 s acquire timeout unless overridden); `made` lists every connection it opened. */
export function makePool(
  clock: FakeClock,
  overrides: Partial<ConstructorParameters<typeof ConnectionPool>[1]> = {},
) {
  const made: FakeConn[] = [];
  const pool = new ConnectionPool<FakeConn>(
    {
      create: async () => {
        const c = new FakeConn();
        made.push(c);
        return c;
      },
    },
    {
      min: 0,
      max: 2,
      acquireTimeoutMs: 1000,
      idleTimeoutMs: 60_000,
      maxLifetimeMs: 600_000,
      lifetimeJitterMs: 0,
      validateAfterIdleMs: 5000,
      clock,
      ...overrides,
    },
  );
  return { pool, made };
}
