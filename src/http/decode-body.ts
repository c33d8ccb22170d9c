import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { InvalidArgumentError } from '../core/index.js';
import { zstdDecompress } from './content-encodings.js';
import type { HttpHeaders, ResponseType } from './http-types.js';
import { firstHeader } from './response-headers.js';

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);
const inflateRaw = promisify(zlib.inflateRaw);
const brotli = promisify(zlib.brotliDecompress);
const zstd = zstdDecompress ? promisify(zstdDecompress) : undefined;

/** How a body is read: parsed JSON, text, or bytes. */
export type BodyMode = 'json' | 'text' | 'bytes';

/** How a 2xx body is read, decided from its headers before the body arrives. */
export function bodyMode(headers: HttpHeaders, type: ResponseType): BodyMode {
  if (type !== 'auto') return type;
  const contentType = firstHeader(headers, 'content-type') ?? '';
  if (/[/+]json\b/i.test(contentType)) return 'json';
  if (/^text\/|xml|urlencoded/i.test(contentType)) return 'text';
  return 'bytes';
}

/** Chunks with the UTF-8 byte order mark skipped, decoded (what undici's `body.text()` does). */
function utf8Text(chunks: readonly Buffer[]): string {
  const first = chunks[0];
  if (first === undefined) return '';
  const buffer = chunks.length === 1 ? first : Buffer.concat(chunks);
  const bom = buffer.length >= 3 && buffer[0] === 0xef && buffer[1] === 0xbb && buffer[2] === 0xbf;
  return buffer.toString('utf8', bom ? 3 : 0);
}

/** A body with a `content-encoding` (gzip, deflate, br, zstd where available, identity) decoded. */
function decompress(buffer: Buffer, encoding: string): Promise<Buffer> {
  switch (encoding.trim().toLowerCase()) {
    case 'gzip':
    case 'x-gzip':
      return gunzip(buffer);
    case 'deflate':
      // `deflate` means zlib-wrapped (RFC 9110), but some servers send a raw deflate stream.
      return zlibWrapped(buffer) ? inflate(buffer) : inflateRaw(buffer);
    case 'br':
      return brotli(buffer);
    case 'zstd':
      if (zstd) return zstd(buffer);
      break;
    case 'identity':
      return Promise.resolve(buffer);
  }
  return Promise.reject(new InvalidArgumentError(`Unsupported content-encoding ${encoding}`));
}

/** A zlib header: compression method 8 and a header checksum that divides by 31. */
function zlibWrapped(buffer: Buffer): boolean {
  const cmf = buffer[0];
  const flg = buffer[1];
  return cmf !== undefined && flg !== undefined && (cmf & 0x0f) === 8 && (cmf * 256 + flg) % 31 === 0;
}

/**
 * The body's chunks as text (`json` and `text` modes) or as one Buffer (`bytes`), never both. Settles
 * synchronously unless the body has a `content-encoding` to undo, so a plain answer costs no await.
 */
export function decodeBody(
  chunks: readonly Buffer[],
  encoding: string | undefined,
  mode: BodyMode,
): string | Buffer | Promise<string | Buffer> {
  if (mode !== 'bytes' && !encoding) return utf8Text(chunks);
  // A copy: a lone chunk may be a view into a larger socket read.
  const buffer = Buffer.concat(chunks);
  if (!encoding) return buffer;
  return decompress(buffer, encoding).then((decoded) => (mode === 'bytes' ? decoded : utf8Text([decoded])));
}

/** A decoded 2xx body as the caller gets it; throws when a `json` body does not parse. */
export function parseBody(body: string | Buffer, mode: BodyMode): unknown {
  if (mode !== 'json') return body;
  const text = body as string;
  return text.length === 0 ? undefined : JSON.parse(text);
}

/** An error answer's body: its JSON when it parses, else the text. */
export function parseErrorBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
