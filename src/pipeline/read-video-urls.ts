import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseYouTubeVideoId } from '../store/normalize-video-url.js';
import { PipelineError, PipelineErrorCode } from './errors.js';

export type UrlInput =
  | { ok: true; url: string; videoId: string; line: number }
  | { ok: false; url: string; line: number; error: PipelineError };

/**
 * Turns inputs (URLs given on the command line and/or lines of a file, read as a stream) into YouTube
 * video ids. Blank lines and `#` comments are skipped; a duplicate video collapses to its first
 * occurrence; anything that is not a YouTube video URL becomes a typed error naming the input.
 * Memory: only the set of ids seen (11 bytes each) is kept, never the whole input.
 */
export async function* readVideoUrls(
  inputs: Iterable<string> | AsyncIterable<string>,
  options: { signal?: AbortSignal } = {},
): AsyncGenerator<UrlInput> {
  const seen = new Set<string>();
  let line = 0;
  for await (const raw of inputs) {
    line++;
    options.signal?.throwIfAborted();
    const url = raw.trim();
    if (url === '' || url.startsWith('#')) continue;
    const videoId = parseYouTubeVideoId(url);
    if (!videoId) {
      yield {
        ok: false,
        url,
        line,
        error: new PipelineError(
          PipelineErrorCode.BadUrl,
          `Not a YouTube video URL: "${url.slice(0, 200)}"`,
          {
            details: { input: url.slice(0, 200), line },
          },
        ),
      };
      continue;
    }
    if (seen.has(videoId)) continue;
    seen.add(videoId);
    yield { ok: true, url, videoId, line };
  }
}

/** Lines of a file, streamed. */
function fileLines(path: string): AsyncIterable<string> {
  return createInterface({
    input: createReadStream(path, { encoding: 'utf8' }),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
}

/** Command-line URLs followed by the lines of an optional file. */
export async function* urlSources(urls: readonly string[], file: string | undefined): AsyncGenerator<string> {
  yield* urls;
  if (file) yield* fileLines(file);
}
