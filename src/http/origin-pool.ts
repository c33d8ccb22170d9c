import type { ConnectionOptions } from 'node:tls';
import { Client, type Dispatcher, Pool } from 'undici';

/** TLS settings of a client's connections: the CA to trust besides the system's (a private or test CA). */
export interface HttpTlsOptions {
  ca?: ConnectionOptions['ca'];
}

/** One endpoint origin's connection pool settings, resolved by the client. */
export interface OriginPoolSettings {
  connections: number;
  keepAliveTimeoutMs: number;
  allowH2: boolean;
  /** Streams at once on one HTTP/2 connection. */
  maxConcurrentStreams: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  tls: HttpTlsOptions | undefined;
}

/**
 * The undici Pool of one origin. With `allowH2`, each connection carries up to `maxConcurrentStreams`
 * requests once ALPN chose HTTP/2, and one at a time when the server only speaks HTTP/1.1: undici's
 * `pipelining` (which also bounds HTTP/2 streams) is set per connection, after its protocol is known.
 * The pool then opens `connections / maxConcurrentStreams` connections (rounded up): undici opens a new
 * connection for every request that arrives while the others are still connecting, so a larger bound
 * would turn a burst at start-up into as many TLS handshakes, each left with a single stream.
 */
export function createOriginPool(origin: string, s: OriginPoolSettings): Pool {
  const options: Pool.Options = {
    connections: s.connections,
    keepAliveTimeout: s.keepAliveTimeoutMs,
    allowH2: s.allowH2,
    headersTimeout: s.headersTimeoutMs,
    bodyTimeout: s.bodyTimeoutMs,
  };
  if (s.tls?.ca !== undefined) options.connect = { ca: s.tls.ca };
  if (!s.allowH2) return new Pool(origin, options);
  options.connections = Math.ceil(s.connections / s.maxConcurrentStreams);
  options.maxConcurrentStreams = s.maxConcurrentStreams;
  options.factory = (url, clientOptions) =>
    h2Client(url, clientOptions as Client.Options, s.maxConcurrentStreams);
  return new Pool(origin, options);
}

function h2Client(origin: string | URL, options: Client.Options, streams: number): Dispatcher {
  const connect = options.connect;
  if (typeof connect !== 'function') return new Client(origin, { ...options, pipelining: streams });
  const client: Client = new Client(origin, {
    ...options,
    pipelining: streams,
    connect: (opts, callback) =>
      connect(opts, (error, socket) => {
        if (socket)
          client.pipelining = (socket as { alpnProtocol?: unknown }).alpnProtocol === 'h2' ? streams : 1;
        callback(error, socket as never);
      }),
  });
  return client;
}
