import zlib from 'node:zlib';
import fastifyCompress from '@fastify/compress';
import type { FastifyInstance } from 'fastify';

/** Bodies smaller than this go out as they are: compressing a few hundred bytes costs more than it saves. */
const COMPRESSION_THRESHOLD_BYTES = 1024;

/**
 * Compresses answers (JSON, text, HTML, the metrics exposition) in the encoding the client prefers among
 * br, gzip and deflate (and zstd where the runtime has it), when the client sends `Accept-Encoding` and
 * the body is at least `COMPRESSION_THRESHOLD_BYTES`. Media (images, audio, video) is left alone: it is
 * compressed already. Brotli runs at quality 4, not its default 11: these bodies are made per request,
 * and at 11 compressing a large JSON list takes longer than sending it.
 */
export async function registerResponseCompression(app: FastifyInstance): Promise<void> {
  await app.register(fastifyCompress, {
    global: true,
    threshold: COMPRESSION_THRESHOLD_BYTES,
    brotliOptions: { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } },
    zlibOptions: { level: 5 },
  });
}
