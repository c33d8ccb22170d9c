/** Output formats of ElevenLabs TTS and how the sandbox renders each. */
export interface AudioFormat {
  name: string;
  kind: 'mp3' | 'pcm' | 'ulaw' | 'alaw' | 'opus';
  sampleRate: number;
  /** kbit/s for mp3/opus. */
  bitrate: number;
  contentType: string;
}

const MP3_V1_BITRATES = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];
const MP3_V2_BITRATES = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
const MP3_V1_RATES = [44100, 48000, 32000];
const MP3_V2_RATES = [22050, 24000, 16000];

export function parseOutputFormat(name: string): AudioFormat | undefined {
  const mp3 = /^mp3_(\d+)_(\d+)$/.exec(name);
  if (mp3) {
    const sampleRate = Number(mp3[1]);
    const bitrate = Number(mp3[2]);
    const v1 = MP3_V1_RATES.includes(sampleRate) && MP3_V1_BITRATES.includes(bitrate);
    const v2 = MP3_V2_RATES.includes(sampleRate) && MP3_V2_BITRATES.includes(bitrate);
    if (!v1 && !v2) return undefined;
    return { name, kind: 'mp3', sampleRate, bitrate, contentType: 'audio/mpeg' };
  }
  const pcm = /^pcm_(8000|16000|22050|24000|44100|48000)$/.exec(name);
  if (pcm) return { name, kind: 'pcm', sampleRate: Number(pcm[1]), bitrate: 0, contentType: 'audio/pcm' };
  if (name === 'ulaw_8000')
    return { name, kind: 'ulaw', sampleRate: 8000, bitrate: 0, contentType: 'audio/basic' };
  if (name === 'alaw_8000') {
    return { name, kind: 'alaw', sampleRate: 8000, bitrate: 0, contentType: 'audio/x-alaw-basic' };
  }
  const opus = /^opus_48000_(32|64|96|128|192)$/.exec(name);
  if (opus)
    return { name, kind: 'opus', sampleRate: 48000, bitrate: Number(opus[1]), contentType: 'audio/opus' };
  return undefined;
}

/** Samples per MPEG Layer III frame: 1152 for MPEG-1, 576 for MPEG-2 (low sample rates). */
export function mp3FrameSamples(sampleRate: number): number {
  return MP3_V1_RATES.includes(sampleRate) ? 1152 : 576;
}

/**
 * Silent mono MPEG Layer III frames. An all-zero side info (part2_3_length = 0) decodes to silence,
 * so a valid frame is just a correct header followed by zeros: no encoder needed.
 */
function silentMp3(format: AudioFormat, durationMs: number): Buffer {
  const v1 = MP3_V1_RATES.includes(format.sampleRate);
  const bitrateIndex = (v1 ? MP3_V1_BITRATES : MP3_V2_BITRATES).indexOf(format.bitrate);
  const rateIndex = (v1 ? MP3_V1_RATES : MP3_V2_RATES).indexOf(format.sampleRate);
  const samples = mp3FrameSamples(format.sampleRate);
  const frameBytes = Math.floor(((v1 ? 144 : 72) * format.bitrate * 1000) / format.sampleRate);
  const frames = Math.max(1, Math.ceil((durationMs / 1000) * (format.sampleRate / samples)));
  const frame = Buffer.alloc(frameBytes);
  frame[0] = 0xff;
  frame[1] = v1 ? 0xfb : 0xf3; // sync, MPEG-1/2, Layer III, no CRC
  frame[2] = (bitrateIndex << 4) | (rateIndex << 2);
  frame[3] = 0xc4; // mono, original
  const out = Buffer.alloc(frameBytes * frames);
  for (let i = 0; i < frames; i++) frame.copy(out, i * frameBytes);
  return out;
}

/** A quiet 220 Hz tone, so the audio is audibly "something" when played. */
function toneSample(i: number, sampleRate: number): number {
  return Math.round(Math.sin((2 * Math.PI * 220 * i) / sampleRate) * 3000);
}

function linearToUlaw(sample: number): number {
  const BIAS = 0x84;
  let s = Math.max(-32635, Math.min(32635, sample));
  const sign = s < 0 ? 0x80 : 0;
  if (s < 0) s = -s;
  s += BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

function linearToAlaw(sample: number): number {
  let s = Math.max(-32767, Math.min(32767, sample)) >> 3;
  let mask = 0xd5;
  if (s < 0) {
    mask = 0x55;
    s = -s - 1;
  }
  const segEnds = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff];
  const seg = segEnds.findIndex((end) => s <= end);
  if (seg === -1) return 0x7f ^ mask;
  const aval = (seg << 4) | (seg < 2 ? (s >> 1) & 0x0f : (s >> seg) & 0x0f);
  return aval ^ mask;
}

/** Audio of `durationMs` in the given format (opus is not produced: the caller answers 422). */
export function generateAudio(format: AudioFormat, durationMs: number): Buffer {
  const count = Math.max(1, Math.round((durationMs / 1000) * format.sampleRate));
  switch (format.kind) {
    case 'mp3':
      return silentMp3(format, durationMs);
    case 'pcm': {
      const out = Buffer.alloc(count * 2);
      for (let i = 0; i < count; i++) out.writeInt16LE(toneSample(i, format.sampleRate), i * 2);
      return out;
    }
    case 'ulaw':
    case 'alaw': {
      const out = Buffer.alloc(count);
      const encode = format.kind === 'ulaw' ? linearToUlaw : linearToAlaw;
      for (let i = 0; i < count; i++) out[i] = encode(toneSample(i, format.sampleRate));
      return out;
    }
    case 'opus':
      throw new RangeError('opus output is not produced by the sandbox');
  }
}
