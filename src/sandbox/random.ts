import { createHash } from 'node:crypto';

/** A 32-bit seed from any text: the basis of every deterministic value the sandbox invents. */
export function hashSeed(text: string): number {
  return createHash('sha256').update(text).digest().readUInt32LE(0);
}

/** URL-safe id of `length` characters derived from `text` (same text, same id). */
export function hashId(text: string, length: number): string {
  let out = '';
  let round = 0;
  while (out.length < length) {
    out += createHash('sha256').update(`${round++}:${text}`).digest('base64url');
  }
  return out.slice(0, length);
}

/**
 * mulberry32: tiny, fast and good enough for test data. Not for anything secret; chosen so a seed
 * reproduces the same sequence on every platform (Math.random cannot be seeded).
 */
export class Rng {
  #state: number;

  constructor(seed: number | string) {
    this.#state = (typeof seed === 'string' ? hashSeed(seed) : seed) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new RangeError('pick from an empty list');
    return item;
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }
}

const WORDS = [
  'river',
  'signal',
  'amber',
  'orbit',
  'canyon',
  'pixel',
  'harbor',
  'tempo',
  'lantern',
  'meadow',
  'circuit',
  'glacier',
  'velvet',
  'summit',
  'echo',
  'falcon',
  'quartz',
  'saffron',
  'atlas',
  'ember',
  'tidal',
  'mosaic',
  'nimbus',
  'cobalt',
  'prairie',
  'rocket',
  'willow',
  'vector',
  'marble',
  'horizon',
  'spiral',
  'thunder',
] as const;

const SENTENCE_STARTS = [
  'Today we look at',
  'Here is why',
  'Nobody talks about',
  'The secret of',
  'Let me show you',
  'This changes',
  'We tested',
  'The truth about',
  'How to master',
  'Five facts on',
] as const;

export function words(rng: Rng, count: number): string {
  return Array.from({ length: count }, () => rng.pick(WORDS)).join(' ');
}

export function sentence(rng: Rng, minWords = 4, maxWords = 10): string {
  const text = `${rng.pick(SENTENCE_STARTS)} ${words(rng, rng.int(minWords, maxWords))}`;
  return `${text}.`;
}

export function titleCase(text: string): string {
  return text.replace(/\b\w/g, (c) => c.toUpperCase());
}
