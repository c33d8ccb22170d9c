import { isAbsolute, relative, resolve, sep } from 'node:path';
import type { QueueJobInfo } from '../pipeline/pipeline-queue.js';
import type { Clip, Video } from '../store/index.js';

function iso(d: Date | null | undefined): string | null {
  return d ? d.toISOString() : null;
}

function inside(rel: string): boolean {
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

/**
 * The JSON the API answers with for videos, clips and jobs: dates as ISO strings, and file paths
 * inside the assets directory as URLs under /assets/ (null for files elsewhere, or without a directory).
 */
export class ApiDto {
  readonly #assetsDir: string | undefined;

  /** `assetsDir` resolved to an absolute path, or undefined when no assets are served. */
  constructor(assetsDir: string | undefined) {
    this.#assetsDir = assetsDir;
  }

  /**
   * A path is looked up as written first (absolute, or relative to the working directory, which is how
   * the pipeline stores `<assetsDir>/<videoId>/…`), then as relative to the assets directory.
   */
  assetUrl(path: string | null): string | null {
    const dir = this.#assetsDir;
    if (!path || !dir) return null;
    const asWritten = relative(dir, resolve(path));
    const rel = isAbsolute(path) || inside(asWritten) ? asWritten : path;
    if (!inside(rel)) return null;
    return `/assets/${rel.split(sep).map(encodeURIComponent).join('/')}`;
  }

  video(v: Video) {
    return {
      ...v,
      publishedAt: iso(v.publishedAt),
      createdAt: iso(v.createdAt),
      updatedAt: iso(v.updatedAt),
      thumbnailUrl: this.assetUrl(v.thumbnailPath),
    };
  }

  clip(c: Clip) {
    return {
      ...c,
      createdAt: iso(c.createdAt),
      fileUrl: this.assetUrl(c.filePath),
      thumbnailUrl: this.assetUrl(c.thumbnailPath),
      narrationUrl: this.assetUrl(c.narrationPath),
    };
  }

  job(j: QueueJobInfo) {
    return {
      ...j,
      createdAt: iso(j.createdAt),
      finishedAt: iso(j.finishedAt),
      failedReason: j.failedReason ?? null,
      requestId: j.requestId ?? null,
    };
  }
}
