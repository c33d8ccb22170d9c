import type { QueueJobInfo } from '../pipeline/pipeline-queue.js';
import type { Clip, Video } from '../store/index.js';
import { assetUrlBuilder } from './asset-url.js';

function iso(d: Date | null | undefined): string | null {
  return d ? d.toISOString() : null;
}

/**
 * The JSON the API answers with for videos, clips and jobs: dates as ISO strings, and file paths
 * inside the assets directory as URLs under /assets/ (null for files elsewhere, or without a directory).
 */
export class ApiDto {
  readonly assetUrl: (path: string | null | undefined) => string | null;

  /** `assetsDir`: the directory served under /assets/, or undefined when no assets are served. */
  constructor(assetsDir: string | undefined) {
    this.assetUrl = assetUrlBuilder(assetsDir);
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
