import { EventEmitter } from 'node:events';
import type { Cluster, Redis } from 'ioredis';

/** How long to wait before looking for the shard's primary again after a lost or failed connection. */
const RETRY_MS = 200;

/**
 * The invalidation bus's subscriber on Redis Cluster: one connection, made by this class, to the primary
 * that owns the hash slot of the bus channels (all of them carry the namespace's hash tag, so one slot),
 * subscribed with SSUBSCRIBE (Redis 7 sharded pub/sub). SPUBLISH on that slot reaches it, and its reply
 * counts exactly the subscribers of that shard, which is what the bus's acknowledgements rely on.
 *
 * It speaks like a standalone subscriber to the bus: `ready` when connected (the bus then subscribes),
 * `message` for every sharded message, `close` when the connection is lost, which the bus reports as a
 * lost bus (L1 distrusted). Unlike ioredis's own sharded subscribers, which re-subscribe silently, the
 * loss is always visible, since messages published meanwhile were not delivered. After a loss (the
 * primary stopped, the slot moved) it asks the cluster where the slot lives now and connects there.
 */
export class ShardSubscriber extends EventEmitter {
  readonly #cluster: Cluster;
  readonly #slotKey: string;
  #connection: Redis | undefined;
  #status: 'wait' | 'connecting' | 'ready' | 'end' = 'wait';
  #retry: NodeJS.Timeout | undefined;

  /** `slotKey`: any key or channel in the hash slot of the channels this subscriber will subscribe to. */
  constructor(cluster: Cluster, slotKey: string) {
    super();
    this.#cluster = cluster;
    this.#slotKey = slotKey;
  }

  get status(): string {
    return this.#status;
  }

  /** Starts connecting; resolves at once (progress is told by `ready` and `close`). */
  async connect(): Promise<void> {
    if (this.#status !== 'wait') return;
    this.#status = 'connecting';
    void this.#attempt();
  }

  /** SSUBSCRIBE on the shard's primary; every channel must share the slot. */
  async subscribe(...channels: string[]): Promise<void> {
    const connection = this.#connection;
    if (!connection || this.#status !== 'ready') throw new Error('shard subscriber not connected');
    try {
      await connection.ssubscribe(...channels);
    } catch (error) {
      // MOVED (the slot left this node since it was looked up), or the connection dropped: start over
      // where the slot is now; the bus subscribes again on the next `ready`.
      if (this.#connection === connection) connection.disconnect();
      throw error;
    }
  }

  async quit(): Promise<void> {
    this.disconnect();
  }

  disconnect(): void {
    this.#status = 'end';
    if (this.#retry) clearTimeout(this.#retry);
    this.#retry = undefined;
    const connection = this.#connection;
    this.#connection = undefined;
    connection?.removeAllListeners();
    connection?.on('error', () => {});
    connection?.disconnect();
  }

  async #attempt(): Promise<void> {
    if (this.#ended()) return;
    try {
      const primary = await this.#primary();
      if (this.#ended()) return;
      const connection = primary.duplicate({
        lazyConnect: true,
        retryStrategy: () => null,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        connectTimeout: 2_000,
      });
      this.#connection = connection;
      connection.on('error', (error: Error) => {
        this.emit('error', error);
        // Redis 7 unsubscribes sharded subscribers itself when their slot leaves the node (resharding,
        // demotion); ioredis reports that unrequested reply as an error. The subscription may be gone:
        // drop the connection, so the bus is lost (L1 distrusted) and subscribes again where the slot is.
        if (this.#connection === connection && this.#status === 'ready') connection.disconnect();
      });
      connection.on('smessage', (channel: string, message: string) => this.emit('message', channel, message));
      connection.once('close', () => {
        if (this.#connection !== connection) return;
        this.#connection = undefined;
        connection.removeAllListeners();
        connection.on('error', () => {});
        if (this.#ended()) return;
        const wasReady = this.#status === 'ready';
        this.#status = 'connecting';
        if (wasReady) this.emit('close');
        this.#schedule();
      });
      await connection.connect();
      if (this.#ended() || this.#connection !== connection) return;
      // The node must still be the slot's primary (it may have just been demoted).
      const role = (await connection.role()) as unknown[];
      if (role[0] !== 'master') {
        connection.disconnect();
        return;
      }
      this.#status = 'ready';
      this.emit('ready');
    } catch (error) {
      this.emit('error', error as Error);
      if (this.#connection) this.#connection.disconnect();
      else this.#schedule();
    }
  }

  /** Read through a method: the status changes while this class awaits. */
  #ended(): boolean {
    return this.#status === 'end';
  }

  #schedule(): void {
    if (this.#ended() || this.#retry) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      void this.#attempt();
    }, RETRY_MS);
    this.#retry.unref?.();
  }

  /** The current primary of the slot, asked of the cluster (CLUSTER SLOTS), not taken from a cache. */
  async #primary(): Promise<Redis> {
    const cluster = this.#cluster;
    if (cluster.status !== 'ready') {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('cluster not ready')), 2_000);
        cluster.once('ready', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    const slot = Number(await cluster.cluster('KEYSLOT', this.#slotKey));
    const ranges = await cluster.cluster('SLOTS');
    const owner = ranges.find(([from, to]) => slot >= from && slot <= to)?.[2];
    if (!owner) throw new Error(`no node serves slot ${slot}`);
    const [host, port] = owner;
    const node = cluster.nodes('all').find((n) => n.options.port === port && n.options.host === host);
    // A node the client has not met yet: a copy of any node's options pointed at it (same credentials).
    const any = node ?? cluster.nodes('all')[0];
    if (!any) throw new Error('no cluster node known');
    return node ?? (any.duplicate({ host, port, lazyConnect: true }) as Redis);
  }
}
