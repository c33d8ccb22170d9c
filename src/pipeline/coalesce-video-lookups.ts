import { raceSignal } from '../core/abort.js';
import type { Lookup, PipelinePorts, VideoMetadata } from './pipeline-ports.js';

export interface CoalesceVideoLookupsOptions {
  /** Ids per upstream call (YouTube's videos.list takes 50). */
  maxBatch?: number;
  /** Upstream calls running at once; lookups that arrive while they run wait and go together. */
  maxInFlight?: number;
}

interface Pending {
  ids: readonly string[];
  signal: AbortSignal | undefined;
  resolve: (results: Array<Lookup<VideoMetadata>>) => void;
  reject: (error: unknown) => void;
}

/**
 * `ports` with metadata lookups merged across callers: a worker runs one job per video, and each job's
 * `getVideos([id])` would otherwise be a videos.list call of its own, which YouTube bills 1 unit
 * whether it carries 1 id or 50 (10,000 videos a day would spend the whole daily quota on metadata).
 * A lookup goes out at once when fewer than `maxInFlight` calls are running, so an idle worker waits
 * for nothing; the lookups that arrive meanwhile are sent together, up to `maxBatch` ids, when a call
 * ends. A failed call fails the lookups it carried, as each would have failed alone; a caller whose
 * signal aborts stops waiting (and is dropped if not yet sent).
 */
export function coalesceVideoLookups(
  ports: PipelinePorts,
  options: CoalesceVideoLookupsOptions = {},
): PipelinePorts {
  const maxBatch = options.maxBatch ?? 50;
  const maxInFlight = options.maxInFlight ?? 1;
  const queue: Pending[] = [];
  let inFlight = 0;

  const pump = (): void => {
    while (inFlight < maxInFlight && queue.length > 0) {
      const batch: Pending[] = [];
      let size = 0;
      while (queue.length > 0 && size + queue[0]!.ids.length <= maxBatch) {
        const next = queue.shift()!;
        if (next.signal?.aborted) continue;
        batch.push(next);
        size += next.ids.length;
      }
      if (batch.length === 0) continue;
      inFlight++;
      const ids = batch.flatMap((p) => p.ids);
      // No caller's signal on the shared call: one caller giving up must not fail the others.
      ports
        .getVideos(ids, undefined)
        .then(
          (results) => {
            let at = 0;
            for (const p of batch) {
              p.resolve(results.slice(at, at + p.ids.length));
              at += p.ids.length;
            }
          },
          (error: unknown) => {
            for (const p of batch) p.reject(error);
          },
        )
        .finally(() => {
          inFlight--;
          pump();
        });
    }
  };

  const getVideos = (
    ids: readonly string[],
    signal: AbortSignal | undefined,
  ): Promise<Array<Lookup<VideoMetadata>>> => {
    // A full batch (the one-process pipeline sends 50 at a time) gains nothing from waiting.
    if (ids.length >= maxBatch || ids.length === 0) return ports.getVideos(ids, signal);
    const result = new Promise<Array<Lookup<VideoMetadata>>>((resolve, reject) => {
      queue.push({ ids, signal, resolve, reject });
    });
    pump();
    return raceSignal(result, signal);
  };

  // The other ports are the original object's, `this` included.
  return Object.assign(Object.create(ports) as PipelinePorts, { getVideos });
}
