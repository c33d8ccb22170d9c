import type { Clock, Logger } from '../core/index.js';
import type { CacheCounters } from './cache-metrics.js';
import { errorSummary } from './log-fields.js';
import type { RedisClient } from './redis-client.js';
import { isClusterClient } from './redis-connection.js';
import type { ShardSubscriber } from './shard-subscriber.js';

/** An invalidation as it travels between processes (short field names: it is sent on every write). */
interface BusMessage {
  /** Publisher instance id. */
  i: string;
  /** Publisher sequence number, 1, 2, 3, ... with no holes. */
  s: number;
  /** Tags invalidated. */
  t?: string[];
  /** Keys invalidated. */
  k?: string[];
  /** 1 when the whole cache was cleared. */
  c?: 1;
}

export interface Invalidation {
  tags: readonly string[];
  keys: readonly string[];
  all: boolean;
}

export interface CacheBusOptions {
  /** On a Cluster, messages go out with SPUBLISH (sharded pub/sub, Redis 7) on the channel's slot. */
  publisher: RedisClient;
  /** A standalone connection (SUBSCRIBE), or on Cluster a ShardSubscriber (SSUBSCRIBE, same slot). */
  subscriber: RedisClient | ShardSubscriber;
  channel: string;
  instanceId: string;
  clock: Clock;
  logger: Logger;
  counters: CacheCounters;
  /** How long `publish` waits for the other processes to confirm they dropped their L1 copies. */
  ackTimeoutMs: number;
  /** A PUBLISH gives up after this long. */
  timeoutMs: number;
  onInvalidation(message: Invalidation): void;
  /** Bus (re)connected and subscribed: L1 may be trusted again from now on. */
  onUp(): void;
  /** Bus lost, or a message was missed: nothing in L1 can be trusted. */
  onLost(reason: 'disconnect' | 'gap'): void;
  /**
   * Every this many ms while subscribed, publish an echo on this instance's own channel (see `echo`);
   * undefined: never.
   */
  echoIntervalMs?: number | undefined;
  /**
   * Every invalidation published (accepted by Redis) before `sentAt` has been applied here. Called when
   * an echo comes back, with the time it was sent, and on subscription, with the time SUBSCRIBE was sent
   * (`onUp` has just distrusted everything older).
   */
  onHeard?(sentAt: number): void;
}

interface PendingAck {
  expected: number;
  received: number;
  resolve: () => void;
}

/** Echoes travel on the instance's own (acknowledgement) channel as `e<sent at, clock ms>`. */
const ECHO = 'e';

/**
 * Redis pub/sub backplane. Each message carries the publisher's id and a sequence number; a hole in a
 * publisher's sequence means this process missed an invalidation, so L1 is declared stale. A publisher
 * waits (up to `ackTimeoutMs`) for every other subscriber to acknowledge, so that once `invalidate`
 * resolves no other live process that could answer in time still serves the old L1 copy; one that could
 * not (a busy event loop) is held to the staleness bound by the echoes below.
 *
 * Echoes tell how current this process is. Redis sends one connection's messages in the order it ran
 * the PUBLISHes, so when an echo sent at time S comes back on our subscriber connection, every
 * invalidation Redis accepted before S has already been delivered and applied (message handling is
 * synchronous). A process whose event loop is busy receives nothing, echoes included, and knows it.
 */
export class CacheBus {
  readonly #o: CacheBusOptions;
  readonly #ackChannel: string;
  readonly #lastSeq = new Map<string, number>();
  readonly #pending = new Map<number, PendingAck>();
  #seq = 0;
  #up = false;
  #closed = false;
  #firstUp: Promise<void>;
  #resolveFirstUp!: () => void;
  #echoTimer: (() => void) | undefined;
  #echoInFlight = false;
  readonly #send: (channel: string, message: string) => Promise<number>;

  constructor(options: CacheBusOptions) {
    this.#o = options;
    const publisher = options.publisher;
    this.#send = isClusterClient(publisher)
      ? (channel, message) => publisher.spublish(channel, message) as Promise<number>
      : (channel, message) => publisher.publish(channel, message);
    this.#ackChannel = `${options.channel}:ack:${options.instanceId}`;
    this.#firstUp = new Promise<void>((resolve) => {
      this.#resolveFirstUp = resolve;
    });
    const sub = options.subscriber;
    sub.on('message', this.#onMessage);
    sub.on('ready', this.#onReady);
    sub.on('close', this.#onClose);
    // ioredis emits 'error' on connection failures; without a listener Node would treat it as fatal.
    sub.on('error', this.#onError);
    if (sub.status === 'ready') this.#onReady();
    // A lazyConnect client (or its duplicate) would otherwise never connect.
    else if (sub.status === 'wait') sub.connect().catch(this.#onError);
    this.#scheduleEcho();
  }

  get up(): boolean {
    return this.#up;
  }

  /** Resolves once subscribed (or after `timeoutMs`, whichever first); never rejects. */
  whenUp(timeoutMs: number): Promise<boolean> {
    if (this.#up) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const cancel = this.#o.clock.setTimer(timeoutMs, () => resolve(this.#up));
      void this.#firstUp.then(() => {
        cancel();
        resolve(true);
      });
    });
  }

  /** Publishes and waits for acknowledgements; false when the message could not be sent. */
  async publish(inv: Invalidation): Promise<boolean> {
    if (this.#closed) return false;
    const seq = ++this.#seq;
    const msg: BusMessage = { i: this.#o.instanceId, s: seq };
    if (inv.tags.length > 0) msg.t = [...inv.tags];
    if (inv.keys.length > 0) msg.k = [...inv.keys];
    if (inv.all) msg.c = 1;
    let resolveAcks!: () => void;
    const acked = new Promise<void>((resolve) => {
      resolveAcks = resolve;
    });
    const pending: PendingAck = { expected: Number.POSITIVE_INFINITY, received: 0, resolve: resolveAcks };
    // Registered before PUBLISH: a fast peer's acknowledgement can arrive before PUBLISH's own reply.
    this.#pending.set(seq, pending);
    try {
      const receivers = await this.#withTimeout(this.#send(this.#o.channel, JSON.stringify(msg)));
      if (receivers === undefined) {
        // The sequence number is spent either way: peers that got it see no gap, peers that did not
        // will see a gap on the next message and distrust their L1, which is the safe outcome.
        return false;
      }
      this.#o.counters.busMessagesSent++;
      // Our own subscriber is counted among the receivers when it is subscribed; it does not acknowledge.
      pending.expected = receivers - (this.#up ? 1 : 0);
      if (!this.#up || pending.received >= pending.expected) return true;
      const timedOut = await new Promise<boolean>((resolve) => {
        const cancel = this.#o.clock.setTimer(this.#o.ackTimeoutMs, () => resolve(true));
        void acked.then(() => {
          cancel();
          resolve(false);
        });
      });
      if (timedOut) {
        this.#o.counters.busAckTimeouts++;
        this.#o.logger.warn(
          { expected: pending.expected, received: pending.received, ackTimeoutMs: this.#o.ackTimeoutMs },
          'cache: not every process acknowledged an invalidation in time',
        );
      }
      return true;
    } finally {
      this.#pending.delete(seq);
    }
  }

  /**
   * Publishes an echo now, unless one is on its way or the bus is down. Called every `echoIntervalMs`,
   * and by the cache when it refuses an L1 entry for want of a recent echo.
   */
  echo(): void {
    if (!this.#up || this.#echoInFlight || this.#closed) return;
    this.#echoInFlight = true;
    const done = (): void => {
      this.#echoInFlight = false;
    };
    this.#send(this.#ackChannel, `${ECHO}${this.#o.clock.now()}`).then(done, (error: unknown) => {
      done();
      this.#o.logger.debug({ err: errorSummary(error) }, 'cache: bus echo failed');
    });
  }

  #scheduleEcho(): void {
    const every = this.#o.echoIntervalMs;
    if (every === undefined || this.#closed || this.#echoTimer) return;
    this.#echoTimer = this.#o.clock.setTimer(every, () => {
      this.#echoTimer = undefined;
      this.echo();
      this.#scheduleEcho();
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#up = false;
    this.#echoTimer?.();
    this.#echoTimer = undefined;
    const sub = this.#o.subscriber;
    sub.off('message', this.#onMessage);
    sub.off('ready', this.#onReady);
    sub.off('close', this.#onClose);
    for (const p of this.#pending.values()) p.resolve();
    this.#pending.clear();
    // The error listener stays: a late connection error after close must not crash the process.
  }

  /** Marks the bus lost as if the connection dropped (used by tests and by health checks). */
  simulateLoss(): void {
    this.#onClose();
  }

  readonly #onReady = (): void => {
    if (this.#closed) return;
    const sub = this.#o.subscriber;
    // Every invalidation Redis accepts after SUBSCRIBE reaches us; one it accepted before is older than
    // any L1 entry onUp leaves trusted. So the subscription is as good as an echo sent now.
    const sentAt = this.#o.clock.now();
    sub.subscribe(this.#o.channel, this.#ackChannel).then(
      () => {
        if (this.#closed || this.#up) return;
        // Sequence history from before the outage is meaningless now: every publisher starts afresh.
        this.#lastSeq.clear();
        this.#up = true;
        this.#o.onUp();
        this.#o.onHeard?.(sentAt);
        this.#resolveFirstUp();
      },
      (error: unknown) => {
        this.#o.logger.warn({ err: errorSummary(error) }, 'cache: bus subscription failed');
      },
    );
  };

  readonly #onClose = (): void => {
    if (!this.#up) return;
    this.#up = false;
    this.#o.counters.busDisconnects++;
    this.#o.onLost('disconnect');
  };

  readonly #onError = (error: unknown): void => {
    this.#o.logger.debug({ err: errorSummary(error) }, 'cache: bus connection error');
  };

  readonly #onMessage = (channel: string, raw: string): void => {
    if (this.#closed) return;
    if (channel === this.#ackChannel) {
      if (raw.startsWith(ECHO)) {
        const sentAt = Number(raw.slice(1));
        // Counted only once up: until onUp has run, L1 is not trusted anyway.
        if (this.#up && Number.isFinite(sentAt)) this.#o.onHeard?.(sentAt);
        return;
      }
      const seq = Number(raw);
      const pending = this.#pending.get(seq);
      if (pending) {
        pending.received++;
        if (pending.received >= pending.expected) pending.resolve();
      }
      return;
    }
    if (channel !== this.#o.channel) return;
    let msg: BusMessage;
    try {
      msg = JSON.parse(raw) as BusMessage;
    } catch {
      this.#o.logger.warn({ channel }, 'cache: unreadable bus message ignored');
      return;
    }
    if (typeof msg.i !== 'string' || typeof msg.s !== 'number' || msg.i === this.#o.instanceId) return;
    this.#o.counters.busMessagesReceived++;
    const last = this.#lastSeq.get(msg.i);
    this.#lastSeq.set(msg.i, msg.s);
    if (last !== undefined && msg.s !== last + 1) {
      this.#o.counters.busGaps++;
      this.#o.logger.warn(
        { publisher: msg.i, expected: last + 1, got: msg.s },
        'cache: bus gap, L1 distrusted',
      );
      this.#o.onLost('gap');
    }
    this.#o.onInvalidation({ tags: msg.t ?? [], keys: msg.k ?? [], all: msg.c === 1 });
    // Acknowledge after applying, so the publisher's wait means "dropped", not merely "received".
    this.#send(`${this.#o.channel}:ack:${msg.i}`, String(msg.s)).catch(() => {
      // A lost ack only makes the publisher wait out its (bounded) timeout.
    });
  };

  #withTimeout(promise: Promise<number>): Promise<number | undefined> {
    return new Promise<number | undefined>((resolve) => {
      let settled = false;
      const cancel = this.#o.clock.setTimer(this.#o.timeoutMs, () => {
        if (settled) return;
        settled = true;
        this.#o.counters.redisTimeouts++;
        resolve(undefined);
      });
      promise.then(
        (n) => {
          if (settled) return;
          settled = true;
          cancel();
          resolve(n);
        },
        (error: unknown) => {
          if (settled) return;
          settled = true;
          cancel();
          this.#o.counters.redisErrors++;
          this.#o.logger.debug({ err: errorSummary(error) }, 'cache: bus publish failed');
          resolve(undefined);
        },
      );
    });
  }
}
