import { deflateSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import { Rng } from './random.js';

export type ImageFormat = 'png' | 'jpeg' | 'webp';

/**
 * Width and height with exactly the requested ratio and the long side at most `longSide`
 * (21:9 at 128 → 126×54), so tests can check the ratio without rounding slack.
 */
export function dimensionsFor(aspectRatio: string, longSide = 128): { width: number; height: number } {
  const [rawA, rawB] = aspectRatio.split(':').map(Number);
  if (!rawA || !rawB) return { width: longSide, height: longSide };
  const gcd = (x: number, y: number): number => (y === 0 ? x : gcd(y, x % y));
  const d = gcd(rawA, rawB);
  const a = rawA / d;
  const b = rawB / d;
  if (Math.max(a, b) > longSide) {
    const scale = longSide / Math.max(a, b);
    return { width: Math.max(1, Math.round(a * scale)), height: Math.max(1, Math.round(b * scale)) };
  }
  const k = Math.max(1, Math.floor(longSide / Math.max(a, b)));
  return { width: a * k, height: b * k };
}

/** RGBA pixels: a diagonal two-colour gradient picked by the seed. */
function pixels(
  width: number,
  height: number,
  seed: number,
): { rgba: Buffer; base: [number, number, number] } {
  const rng = new Rng(seed);
  const from = [rng.int(0, 255), rng.int(0, 255), rng.int(0, 255)] as const;
  const to = [rng.int(0, 255), rng.int(0, 255), rng.int(0, 255)] as const;
  const rgba = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const t = (x + y) / Math.max(1, width + height - 2);
      const o = (y * width + x) * 4;
      rgba[o] = Math.round(from[0] + (to[0] - from[0]) * t);
      rgba[o + 1] = Math.round(from[1] + (to[1] - from[1]) * t);
      rgba[o + 2] = Math.round(from[2] + (to[2] - from[2]) * t);
      rgba[o + 3] = 255;
    }
  }
  return { rgba, base: [from[0], from[1], from[2]] };
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(data: Buffer): number {
  let c = 0xffffffff;
  for (const byte of data) c = (CRC_TABLE[(c ^ byte) & 0xff] ?? 0) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** 8-bit RGB PNG, filter 0 on every row, deflated with node's zlib. */
function encodePng(width: number, height: number, rgba: Buffer): Buffer {
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      rgba.copy(raw, row + 1 + x * 3, i, i + 3);
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(raw)),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

class BitWriter {
  #bytes: number[] = [];
  #acc = 0;
  #bits = 0;

  /** VP8L packs values least-significant bit first. */
  write(value: number, count: number): void {
    for (let i = 0; i < count; i++) {
      this.#acc |= ((value >>> i) & 1) << this.#bits;
      if (++this.#bits === 8) {
        this.#bytes.push(this.#acc);
        this.#acc = 0;
        this.#bits = 0;
      }
    }
  }

  finish(): Buffer {
    if (this.#bits > 0) this.#bytes.push(this.#acc);
    return Buffer.from(this.#bytes);
  }
}

/**
 * Lossless WebP (VP8L) of one solid colour. Every prefix code is a "simple" one-symbol code, so each
 * pixel costs zero bits: the smallest valid VP8L stream, and far simpler than a general encoder.
 */
function encodeWebpSolid(width: number, height: number, [r, g, b]: [number, number, number]): Buffer {
  const bits = new BitWriter();
  bits.write(0x2f, 8); // VP8L signature
  bits.write(width - 1, 14);
  bits.write(height - 1, 14);
  bits.write(0, 1); // alpha_is_used
  bits.write(0, 3); // version
  bits.write(0, 1); // no transform
  bits.write(0, 1); // no colour cache
  bits.write(0, 1); // no meta prefix codes
  const simple = (symbol: number): void => {
    bits.write(1, 1); // simple code
    bits.write(0, 1); // one symbol
    if (symbol < 2) {
      bits.write(0, 1);
      bits.write(symbol, 1);
    } else {
      bits.write(1, 1);
      bits.write(symbol, 8);
    }
  };
  simple(g); // green + length prefixes
  simple(r);
  simple(b);
  simple(255); // alpha
  simple(0); // distance
  const data = bits.finish();
  const padded = data.length % 2 === 1 ? Buffer.concat([data, Buffer.alloc(1)]) : data;
  const chunkHead = Buffer.alloc(8);
  chunkHead.write('VP8L', 0, 'ascii');
  chunkHead.writeUInt32LE(data.length, 4);
  const riff = Buffer.alloc(12);
  riff.write('RIFF', 0, 'ascii');
  riff.writeUInt32LE(4 + 8 + padded.length, 4);
  riff.write('WEBP', 8, 'ascii');
  return Buffer.concat([riff, chunkHead, padded]);
}

export const IMAGE_CONTENT_TYPES: Record<ImageFormat, string> = {
  png: 'image/png',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
};

/** A small, valid image of the given format and size whose content depends only on `seed`. */
export function generateImage(format: ImageFormat, width: number, height: number, seed: number): Buffer {
  const { rgba, base } = pixels(width, height, seed);
  if (format === 'png') return encodePng(width, height, rgba);
  if (format === 'jpeg') return Buffer.from(jpeg.encode({ data: rgba, width, height }, 80).data);
  return encodeWebpSolid(width, height, base);
}

/** Reads width and height from PNG IHDR, JPEG SOFn or WebP VP8L/VP8/VP8X headers. */
export function imageSize(data: Buffer): { format: ImageFormat; width: number; height: number } | undefined {
  if (data.length > 24 && data.readUInt32BE(0) === 0x89504e47 && data.toString('ascii', 12, 16) === 'IHDR') {
    return { format: 'png', width: data.readUInt32BE(16), height: data.readUInt32BE(20) };
  }
  if (data.length > 4 && data[0] === 0xff && data[1] === 0xd8) {
    let o = 2;
    while (o + 9 < data.length) {
      if (data[o] !== 0xff) return undefined;
      const marker = data[o + 1] ?? 0;
      const length = data.readUInt16BE(o + 2);
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        return { format: 'jpeg', height: data.readUInt16BE(o + 5), width: data.readUInt16BE(o + 7) };
      }
      o += 2 + length;
    }
    return undefined;
  }
  if (
    data.length > 30 &&
    data.toString('ascii', 0, 4) === 'RIFF' &&
    data.toString('ascii', 8, 12) === 'WEBP'
  ) {
    const chunk = data.toString('ascii', 12, 16);
    if (chunk === 'VP8L' && data[20] === 0x2f) {
      const bits = data.readUInt32LE(21);
      return { format: 'webp', width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
    }
    if (chunk === 'VP8 ') {
      return {
        format: 'webp',
        width: data.readUInt16LE(26) & 0x3fff,
        height: data.readUInt16LE(28) & 0x3fff,
      };
    }
    if (chunk === 'VP8X') {
      return { format: 'webp', width: data.readUIntLE(24, 3) + 1, height: data.readUIntLE(27, 3) + 1 };
    }
  }
  return undefined;
}
