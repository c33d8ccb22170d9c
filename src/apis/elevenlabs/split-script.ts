/** Per-request character limits by model (ElevenLabs docs, models page). */
export const ELEVENLABS_MODEL_LIMITS: Readonly<Record<string, number>> = Object.freeze({
  eleven_multilingual_v2: 10_000,
  eleven_v3: 3_000,
  eleven_flash_v2_5: 40_000,
  eleven_turbo_v2_5: 40_000,
  eleven_flash_v2: 30_000,
  eleven_turbo_v2: 30_000,
});

function segments(text: string, granularity: 'sentence' | 'word', locale?: string): string[] {
  // Intl.Segmenter knows abbreviations, decimals and non-Latin punctuation better than a regex would.
  const segmenter = new Intl.Segmenter(locale, { granularity });
  return Array.from(segmenter.segment(text), (s) => s.segment);
}

/** Splits a sentence longer than `limit` on word boundaries (and a word longer than it, anywhere). */
function splitLong(sentence: string, limit: number, locale?: string): string[] {
  const out: string[] = [];
  let current = '';
  for (const word of segments(sentence, 'word', locale)) {
    if (current.length + word.length <= limit) {
      current += word;
      continue;
    }
    if (current.trim()) out.push(current);
    current = '';
    let rest = word;
    while (rest.length > limit) {
      out.push(rest.slice(0, limit));
      rest = rest.slice(limit);
    }
    current = rest;
  }
  if (current.trim()) out.push(current);
  return out;
}

/**
 * Cuts a script into parts of at most `limit` characters, on sentence boundaries when a sentence fits,
 * packing as many whole sentences per part as fit. Parts are trimmed; their concatenation keeps every
 * non-whitespace character of the script in order.
 */
export function splitScript(script: string, limit: number, locale?: string): string[] {
  if (!(limit >= 1)) throw new RangeError('limit must be at least 1');
  const parts: string[] = [];
  let current = '';
  const flush = (): void => {
    const trimmed = current.trim();
    if (trimmed) parts.push(trimmed);
    current = '';
  };
  for (const sentence of segments(script, 'sentence', locale)) {
    if (sentence.trim().length > limit) {
      flush();
      for (const piece of splitLong(sentence, limit, locale)) {
        const trimmed = piece.trim();
        if (trimmed) parts.push(trimmed);
      }
      continue;
    }
    if ((current + sentence).trim().length > limit) flush();
    current += sentence;
  }
  flush();
  return parts;
}
