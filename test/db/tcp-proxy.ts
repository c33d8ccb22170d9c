import net from 'node:net';

/**
 * A TCP proxy between a driver and the real server, for faults a test cannot get from the server
 * itself: once armed, the first client message containing `trigger` (e.g. the bytes of "COMMIT") ends
 * the client's connection before any answer reaches it. With `forward`, the message is passed on to the
 * server first (which then runs it), so the client cannot know what happened.
 */
export interface TcpProxy {
  readonly port: number;
  arm(trigger: string, options: { forward: boolean }): void;
  /** How many times the trigger fired. */
  readonly fired: number;
  close(): Promise<void>;
}

export async function startTcpProxy(host: string, port: number): Promise<TcpProxy> {
  let armed: { trigger: Buffer; forward: boolean } | undefined;
  let fired = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(port, host);
    sockets.add(client);
    sockets.add(upstream);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', () => {
      sockets.delete(client);
      // The server sees the client go only after it has read (and run) what was forwarded.
      setTimeout(() => upstream.destroy(), 200);
    });
    upstream.on('close', () => {
      sockets.delete(upstream);
      client.destroy();
    });
    client.on('data', (chunk: Buffer) => {
      if (armed !== undefined && chunk.includes(armed.trigger)) {
        const { forward } = armed;
        armed = undefined;
        fired++;
        if (forward) upstream.write(chunk);
        client.destroy();
        return;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      client.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as net.AddressInfo;
  return {
    port: address.port,
    arm(trigger, options) {
      armed = { trigger: Buffer.from(trigger), forward: options.forward };
    },
    get fired() {
      return fired;
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
