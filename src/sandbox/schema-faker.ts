import { Rng } from './random.js';

/** A JSON Schema as it arrives in a request (only the keywords the faker understands are read). */
export type JsonSchema = { [key: string]: unknown };

export interface TimedCue {
  start: number;
  end: number;
  text: string;
}

const RANGE_CUE =
  /\[\s*(\d+(?::\d{1,2}){0,2}(?:[.,]\d+)?)\s*s?\s*(?:-|–|-->|to)\s*(\d+(?::\d{1,2}){0,2}(?:[.,]\d+)?)\s*s?\s*\]\s*(.*)/;
const POINT_CUE = /\[\s*(\d+(?::\d{1,2}){1,2}(?:[.,]\d+)?|\d+(?:\.\d+)?)\s*s?\s*\]\s*(.*)/;

function toSeconds(text: string): number {
  return text
    .replace(',', '.')
    .split(':')
    .reduce((acc, part) => acc * 60 + Number(part), 0);
}

/**
 * Timestamps in prompt text: `[12.5-18.0] text`, `[00:12 - 00:18] text` or point marks `[00:12] text`
 * (a point cue ends where the next one starts).
 */
export function parseTimedCues(text: string): TimedCue[] {
  const cues: TimedCue[] = [];
  const points: Array<{ start: number; text: string }> = [];
  for (const line of text.split(/\r?\n/)) {
    const range = RANGE_CUE.exec(line);
    if (range) {
      const start = toSeconds(range[1] ?? '0');
      const end = toSeconds(range[2] ?? '0');
      if (Number.isFinite(start) && Number.isFinite(end) && end > start) {
        cues.push({ start, end, text: (range[3] ?? '').trim() });
      }
      continue;
    }
    const point = POINT_CUE.exec(line);
    if (point) {
      const start = toSeconds(point[1] ?? '0');
      if (Number.isFinite(start)) points.push({ start, text: (point[2] ?? '').trim() });
    }
  }
  points.sort((a, b) => a.start - b.start);
  points.forEach((p, i) => {
    const end = points[i + 1]?.start ?? p.start + 5;
    cues.push({ start: p.start, end: end > p.start ? end : p.start + 5, text: p.text });
  });
  return cues.sort((a, b) => a.start - b.start);
}

/** Groups consecutive cues into clip windows of at least `minSeconds`, then keeps `count` spread evenly. */
function pickWindows(cues: readonly TimedCue[], count: number, minSeconds = 15): TimedCue[] {
  const windows: TimedCue[] = [];
  let current: TimedCue | undefined;
  for (const cue of cues) {
    current = current
      ? { start: current.start, end: cue.end, text: `${current.text} ${cue.text}`.trim() }
      : { ...cue };
    if (current.end - current.start >= minSeconds) {
      windows.push(current);
      current = undefined;
    }
  }
  if (current) windows.push(current);
  if (windows.length <= count) return windows;
  return Array.from({ length: count }, (_, i) => windows[Math.floor((i * windows.length) / count)]!);
}

const STOP_WORDS = new Set(
  'the a an and or of to in on for with is are was were be this that it as at by from you your we our i they their not but so if then there here what which who how can will just about into over more most very'.split(
    ' ',
  ),
);

export class FakeContext {
  readonly rng: Rng;
  readonly cues: TimedCue[];
  readonly sentences: string[];
  readonly keywords: string[];

  constructor(prompt: string, seed: string) {
    this.rng = new Rng(seed);
    this.cues = parseTimedCues(prompt);
    const plain = this.cues.length > 0 ? this.cues.map((c) => c.text).join(' ') : prompt;
    this.sentences = plain
      .split(/(?<=[.!?])\s+|\n+/)
      .map((s) => s.replace(/\[[^\]]*\]/g, '').trim())
      .filter((s) => s.length > 0);
    const counts = new Map<string, number>();
    for (const word of plain.toLowerCase().match(/[a-z][a-z'-]{2,}/g) ?? []) {
      if (!STOP_WORDS.has(word)) counts.set(word, (counts.get(word) ?? 0) + 1);
    }
    this.keywords = [...counts.entries()]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .map(([w]) => w);
    if (this.keywords.length === 0) this.keywords.push('sandbox', 'video', 'highlight');
    if (this.sentences.length === 0) this.sentences.push('A sandbox answer.');
  }

  sentence(index: number): string {
    return this.sentences[index % this.sentences.length]!;
  }

  keyword(index: number): string {
    return this.keywords[index % this.keywords.length]!;
  }
}

interface Frame {
  key: string;
  index: number;
  /** A clip window chosen for the current highlight object, if any. */
  window?: TimedCue;
}

const START_KEY = /^(start|start_?(time|sec|seconds|s)?|begin|from)$/i;
const END_KEY = /^(end|end_?(time|sec|seconds|s)?|stop|to|until)$/i;

function resolve(schema: JsonSchema, root: JsonSchema): JsonSchema {
  let current = schema;
  for (let depth = 0; typeof current.$ref === 'string' && depth < 32; depth++) {
    const pointer = current.$ref.replace(/^#\/?/, '').split('/').filter(Boolean);
    let target: unknown = root;
    for (const part of pointer) {
      target = (target as Record<string, unknown> | undefined)?.[
        part.replace(/~1/g, '/').replace(/~0/g, '~')
      ];
    }
    if (!target || typeof target !== 'object') return {};
    const { $ref: _ignored, ...rest } = current;
    current = { ...(target as JsonSchema), ...rest };
  }
  return current;
}

function types(schema: JsonSchema): string[] {
  if (Array.isArray(schema.type)) return schema.type.filter((t): t is string => typeof t === 'string');
  if (typeof schema.type === 'string') return [schema.type];
  if (schema.properties) return ['object'];
  if (schema.items) return ['array'];
  return ['string'];
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function clampNumber(value: number, schema: JsonSchema, integer: boolean): number {
  let min = num(schema.minimum) ?? Number.NEGATIVE_INFINITY;
  let max = num(schema.maximum) ?? Number.POSITIVE_INFINITY;
  const exMin = num(schema.exclusiveMinimum);
  const exMax = num(schema.exclusiveMaximum);
  if (exMin !== undefined) min = Math.max(min, integer ? Math.floor(exMin) + 1 : exMin + 1e-3);
  if (exMax !== undefined) max = Math.min(max, integer ? Math.ceil(exMax) - 1 : exMax - 1e-3);
  let v = Math.min(max, Math.max(min, value));
  if (integer) v = Math.min(Math.floor(max), Math.max(Math.ceil(min), Math.round(v)));
  return v;
}

function fitString(text: string, schema: JsonSchema): string {
  const min = num(schema.minLength) ?? 0;
  const max = num(schema.maxLength) ?? Number.POSITIVE_INFINITY;
  let out = text.length > max ? text.slice(0, max) : text;
  while (out.length < min) out += ' sandbox';
  return out.length > max ? out.slice(0, max) : out;
}

function formatted(format: string, ctx: FakeContext): string | undefined {
  switch (format) {
    case 'date-time':
      return '2026-01-01T00:00:00Z';
    case 'date':
      return '2026-01-01';
    case 'time':
      return '00:00:00Z';
    case 'email':
      return 'sandbox@example.com';
    case 'uri':
    case 'url':
      return 'https://example.com/sandbox';
    case 'uuid':
      return '00000000-0000-4000-8000-000000000000';
    case 'duration':
      return 'PT30S';
    default:
      return format.length > 0 ? ctx.keyword(0) : undefined;
  }
}

function stringFor(key: string, index: number, ctx: FakeContext, frame: Frame | undefined): string {
  const k = key.toLowerCase();
  if (frame?.window && /text|quote|transcript|excerpt|content/.test(k)) return frame.window.text;
  if (/caption|subtitle|line/.test(k)) return ctx.sentence(index);
  if (/title|headline|hook|name/.test(k)) {
    return [ctx.keyword(index), ctx.keyword(index + 1), ctx.keyword(index + 2)].join(' ');
  }
  if (/keyword|topic|tag|hashtag|theme|category/.test(k)) return ctx.keyword(index);
  if (/summary|description|analysis|reason|explanation|why|rationale/.test(k)) {
    return `${ctx.sentence(index)} ${ctx.sentence(index + 1)}`.trim();
  }
  return ctx.sentence(index);
}

function generate(
  schema: JsonSchema,
  root: JsonSchema,
  ctx: FakeContext,
  frames: Frame[],
  depth: number,
): unknown {
  const s = resolve(schema, root);
  if (depth > 12) return null;
  if ('const' in s) return s.const;
  if (Array.isArray(s.enum) && s.enum.length > 0) {
    const frame = frames.at(-1);
    const options = s.enum.filter((v) => v !== null);
    return options.length > 0 ? options[(frame?.index ?? 0) % options.length] : null;
  }
  const variants = (s.anyOf ?? s.oneOf) as JsonSchema[] | undefined;
  if (Array.isArray(variants) && variants.length > 0) {
    const nonNull = variants.find((v) => !types(resolve(v, root)).every((t) => t === 'null')) ?? variants[0]!;
    return generate(nonNull, root, ctx, frames, depth + 1);
  }
  if (Array.isArray(s.allOf)) {
    const merged: JsonSchema = { type: 'object', properties: {}, required: [] };
    for (const part of s.allOf as JsonSchema[]) {
      const r = resolve(part, root);
      Object.assign(merged.properties as object, r.properties ?? {});
      (merged.required as unknown[]).push(...((r.required as unknown[]) ?? []));
    }
    return generate(merged, root, ctx, frames, depth + 1);
  }
  const type = types(s).find((t) => t !== 'null') ?? 'null';
  const frame = frames.at(-1);
  const key = frame?.key ?? '';
  switch (type) {
    case 'object':
      return generateObject(s, root, ctx, frames, depth);
    case 'array': {
      const min = num(s.minItems) ?? 0;
      const max = num(s.maxItems) ?? Number.POSITIVE_INFINITY;
      const items = (s.items ?? {}) as JsonSchema;
      const itemSchema = resolve(items, root);
      const looksTimed = ctx.cues.length > 0 && hasStartEnd(itemSchema, root);
      const allWindows = looksTimed ? pickWindows(ctx.cues, Number.POSITIVE_INFINITY) : [];
      let wanted = looksTimed ? Math.min(5, allWindows.length) : 3;
      wanted = Math.max(min, Math.min(max, wanted));
      const windows = looksTimed ? pickWindows(ctx.cues, wanted) : [];
      const out: unknown[] = [];
      for (let i = 0; i < wanted; i++) {
        const window = windows.length > 0 ? windows[i % windows.length] : undefined;
        const child: Frame = window ? { key, index: i, window } : { key, index: i };
        out.push(generate(items, root, ctx, [...frames, child], depth + 1));
      }
      return out;
    }
    case 'integer':
    case 'number': {
      const integer = type === 'integer';
      const window = frames.findLast((f) => f.window)?.window;
      if (window && START_KEY.test(key)) return clampNumber(window.start, s, integer);
      if (window && END_KEY.test(key)) return clampNumber(window.end, s, integer);
      const min = num(s.minimum) ?? num(s.exclusiveMinimum);
      const max = num(s.maximum) ?? num(s.exclusiveMaximum);
      let value: number;
      if (min !== undefined && max !== undefined) value = min + (max - min) * (0.5 + 0.4 * ctx.rng.next());
      else if (min !== undefined) value = min + 1 + ctx.rng.int(0, 9);
      else if (max !== undefined) value = max - 1 - ctx.rng.int(0, 9);
      else value = ctx.rng.int(1, 100);
      return clampNumber(value, s, integer);
    }
    case 'boolean':
      return (frame?.index ?? 0) % 2 === 0;
    case 'null':
      return null;
    default: {
      const viaFormat = typeof s.format === 'string' ? formatted(s.format, ctx) : undefined;
      const window = frames.findLast((f) => f.window)?.window;
      const base =
        viaFormat ?? stringFor(key, frame?.index ?? 0, ctx, window ? { key, index: 0, window } : frame);
      return fitString(base, s);
    }
  }
}

function hasStartEnd(schema: JsonSchema, root: JsonSchema): boolean {
  const props = (resolve(schema, root).properties ?? {}) as Record<string, unknown>;
  const keys = Object.keys(props);
  return keys.some((k) => START_KEY.test(k)) && keys.some((k) => END_KEY.test(k));
}

function generateObject(
  s: JsonSchema,
  root: JsonSchema,
  ctx: FakeContext,
  frames: Frame[],
  depth: number,
): unknown {
  const props = (s.properties ?? {}) as Record<string, JsonSchema>;
  const out: Record<string, unknown> = {};
  const parent = frames.at(-1);
  for (const [name, child] of Object.entries(props)) {
    const frame: Frame = parent?.window
      ? { key: name, index: parent.index, window: parent.window }
      : { key: name, index: parent?.index ?? 0 };
    out[name] = generate(child, root, ctx, [...frames, frame], depth + 1);
  }
  const window = parent?.window;
  // Keep start < end even when the schema bounds clamp one of them.
  if (window) {
    const startKey = Object.keys(out).find((k) => START_KEY.test(k));
    const endKey = Object.keys(out).find((k) => END_KEY.test(k));
    const start = startKey ? out[startKey] : undefined;
    const end = endKey ? out[endKey] : undefined;
    if (typeof start === 'number' && typeof end === 'number' && end <= start && endKey) {
      out[endKey] = clampNumber(
        start + 1,
        resolve(props[endKey]!, root),
        types(props[endKey]!).includes('integer'),
      );
    }
  }
  return out;
}

/**
 * A value that satisfies `schema` (objects, arrays within minItems/maxItems, strings within length,
 * enums, numbers within bounds), filled with text taken from `prompt`: highlights get start/end from
 * timestamps in the prompt, captions get its sentences, analyses its keywords.
 */
export function fakeFromSchema(schema: JsonSchema, prompt: string, seed = prompt): unknown {
  return generate(schema, schema, new FakeContext(prompt, seed), [], 0);
}
