import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpError } from '../../src/http/index.js';

export type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void | Promise<void>;

/** A real HTTP server on 127.0.0.1:0 routing by path; counts hits per path. */
export class TestServer {
  readonly server: Server;
  readonly hits = new Map<string, number>();
  readonly requests: Array<{
    method: string;
    url: string;
    headers: IncomingMessage['headers'];
    body: Buffer;
  }> = [];
  #routes = new Map<string, Handler>();

  constructor() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const path = (req.url ?? '/').split('?')[0]!;
        this.hits.set(path, (this.hits.get(path) ?? 0) + 1);
        this.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
        const handler = this.#routes.get(path);
        if (!handler) {
          res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"no route"}');
          return;
        }
        Promise.resolve(handler(req, res, body)).catch((error: unknown) => {
          res.writeHead(500).end(String(error));
        });
      });
    });
  }

  route(path: string, handler: Handler): this {
    this.#routes.set(path, handler);
    return this;
  }

  hitCount(path: string): number {
    return this.hits.get(path) ?? 0;
  }

  async listen(port = 0): Promise<string> {
    this.server.listen(port, '127.0.0.1');
    await once(this.server, 'listening');
    return this.url;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

/** What a call that must fail rejected with, checked to be an HttpError. */
export async function failure(promise: Promise<unknown>): Promise<HttpError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof HttpError, `expected an HttpError, got ${String(error)}`);
    return error;
  }
  assert.fail('the call succeeded');
}
