const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * Text from a vendor (titles, transcripts, model output, error messages) made storable on every dialect:
 * the store refuses NUL and unpaired surrogates, so these become nothing and U+FFFD. With `maxLength`,
 * the text is cut at a code point boundary, never inside a surrogate pair.
 */
export function cleanText(text: string, maxLength?: number): string {
  let out = text.replaceAll('\u0000', '').replace(LONE_SURROGATE, '\uFFFD');
  if (maxLength !== undefined && out.length > maxLength) {
    const high = out.charCodeAt(maxLength - 1);
    out = out.slice(0, high >= 0xd800 && high <= 0xdbff ? maxLength - 1 : maxLength);
  }
  return out;
}

/** `cleanText` for a nullable vendor field. */
export function cleanNullable(text: string | null): string | null {
  return text === null ? null : cleanText(text);
}
