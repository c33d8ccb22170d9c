import type { TimedSegment } from '../transcript.js';

// `00:01:02,500`, `01:02.500` (VTT may omit hours), `0:01:02.500` (SBV).
const STAMP = String.raw`(?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3}`;
const ARROW_LINE = new RegExp(`^\\s*(${STAMP})\\s*-->\\s*(${STAMP})`);
const SBV_LINE = new RegExp(`^\\s*(${STAMP}),(${STAMP})\\s*$`);

function seconds(stamp: string): number {
  const [clock = '0', fraction = '0'] = stamp.split(/[.,]/);
  const whole = clock.split(':').reduce((acc, part) => acc * 60 + Number(part), 0);
  return whole + Number(`0.${fraction}`);
}

/**
 * Parses SRT, WebVTT or SBV caption files into timed segments (in file order). Cue settings, cue ids,
 * NOTE/STYLE blocks and inline tags (`<c>`, `<i>`, `{\an8}`) are dropped; the text keeps its words.
 */
export function parseTimedText(text: string): TimedSegment[] {
  const segments: TimedSegment[] = [];
  const blocks = text.replace(/^\uFEFF/, '').split(/\r?\n\s*\r?\n/);
  for (const block of blocks) {
    const lines = block.split(/\r?\n/);
    const at = lines.findIndex((l) => ARROW_LINE.test(l) || SBV_LINE.test(l));
    if (at < 0) continue;
    const match = ARROW_LINE.exec(lines[at]!) ?? SBV_LINE.exec(lines[at]!);
    if (!match) continue;
    const body = lines
      .slice(at + 1)
      .join(' ')
      .replace(/<[^>]*>|\{\\[^}]*\}/g, '')
      .replace(/\s+/g, ' ')
      .trim();
    const start = seconds(match[1]!);
    const end = seconds(match[2]!);
    if (!Number.isFinite(start) || !Number.isFinite(end) || end < start) continue;
    segments.push({ start, end, text: body });
  }
  return segments;
}
