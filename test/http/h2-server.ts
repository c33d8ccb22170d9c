import { once } from 'node:events';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { TestCertificate } from '../support/tls-certificate.js';

export type H2Handler = (
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  body: Buffer,
) => void;

/**
 * A TLS HTTP/2 server (h2 only, no HTTP/1.1 fallback) on 127.0.0.1:0 routing by path: counts sessions,
 * streams per path, and the most streams open at once.
 */
export class H2TestServer {
  readonly server: http2.Http2SecureServer;
  readonly sessions = new Set<http2.ServerHttp2Session>();
  sessionCount = 0;
  open = 0;
  maxOpen = 0;
  readonly hits = new Map<string, number>();
  #routes = new Map<string, H2Handler>();

  constructor(certificate: TestCertificate) {
    this.server = http2.createSecureServer({ key: certificate.key, cert: certificate.cert });
    this.server.on('session', (session) => {
      this.sessionCount++;
      this.sessions.add(session);
      session.on('close', () => this.sessions.delete(session));
      session.on('error', () => {});
    });
    this.server.on('stream', (stream, headers) => {
      this.open++;
      this.maxOpen = Math.max(this.maxOpen, this.open);
      stream.on('close', () => this.open--);
      stream.on('error', () => {});
      const path = String(headers[':path'] ?? '/').split('?')[0]!;
      this.hits.set(path, (this.hits.get(path) ?? 0) + 1);
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const handler = this.#routes.get(path);
        if (!handler) {
          respond(stream, 404, { error: 'no route' });
          return;
        }
        handler(stream, headers, Buffer.concat(chunks));
      });
    });
  }

  route(path: string, handler: H2Handler): this {
    this.#routes.set(path, handler);
    return this;
  }

  hitCount(path: string): number {
    return this.hits.get(path) ?? 0;
  }

  async listen(): Promise<string> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return `https://localhost:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const s of this.sessions) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export function respond(stream: http2.ServerHttp2Stream, status: number, body: unknown): void {
  if (stream.destroyed || stream.closed) return;
  stream.respond({ ':status': status, 'content-type': 'application/json' });
  stream.end(JSON.stringify(body));
}
