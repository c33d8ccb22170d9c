import zlib from 'node:zlib';

/** zstd where the runtime has it (`zlib.zstdDecompress`: Node 22.15 / 23.8 and later); absent on Node 20. */
export const zstdDecompress = (zlib as { zstdDecompress?: typeof zlib.gunzip }).zstdDecompress;

/** The encodings this runtime decodes, as sent in `accept-encoding`. */
export const ACCEPT_ENCODING = zstdDecompress ? 'gzip, deflate, br, zstd' : 'gzip, deflate, br';
