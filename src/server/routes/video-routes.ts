import type { FastifyInstance } from 'fastify';
import { describeVideoUrl, StoreError, VIDEO_STATUSES, type VideoStatus } from '../../store/index.js';
import { ServerError, ServerErrorCode } from '../errors.js';
import type { RouteContext } from '../route-context.js';
import { createVideoSchema, getVideoSchema, listClipsSchema, listVideosSchema } from '../route-schemas.js';

/** The videos group: list, one video, its clips, and registering a video by URL. */
export async function videoRoutes(app: FastifyInstance, ctx: RouteContext): Promise<void> {
  app.get<{ Querystring: { status?: VideoStatus; limit: number; cursor?: string } }>(
    '/api/videos',
    { schema: listVideosSchema },
    async (request) => {
      const { status, limit, cursor } = request.query;
      const page = (s: VideoStatus) =>
        ctx.database(request, (signal) =>
          ctx.store.getVideosByStatus(s, { limit, cursor: cursor ?? null, signal }),
        );
      if (status) {
        const p = await page(status);
        return { items: p.items.map((v) => ctx.dto.video(v)), nextCursor: p.nextCursor };
      }
      // All statuses: ids are UUIDv7 (time-ordered), so merging per-status pages by id keeps the
      // keyset order and the same cursor works across them.
      const pages = await Promise.all(VIDEO_STATUSES.map(page));
      const merged = pages
        .flatMap((p) => p.items)
        .sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
        .slice(0, limit);
      const nextCursor = merged.length === limit ? (merged.at(-1)?.id ?? null) : null;
      return { items: merged.map((v) => ctx.dto.video(v)), nextCursor };
    },
  );

  app.get<{ Params: { id: string } }>('/api/videos/:id', { schema: getVideoSchema }, async (request) => {
    const video = await ctx.database(request, (signal) =>
      ctx.store.getVideoById(request.params.id, { signal }),
    );
    if (!video) throw noSuchVideo();
    return ctx.dto.video(video);
  });

  app.post<{ Body: { url: string; priority?: number } }>(
    '/api/videos',
    { schema: createVideoSchema },
    async (request, reply) => {
      // Validate, then act: the URL is checked in full (credentials, NUL, a YouTube video id) before
      // anything is enqueued or stored, and only its canonical form travels on.
      const youtube = youtubeVideo(request.body.url);
      const queued = await ctx.withQueue(request, (queue) =>
        queue.enqueue([youtube.url], {
          requestId: request.id,
          ...(request.body.priority !== undefined ? { priority: request.body.priority } : {}),
        }),
      );
      const job = queued.enqueued[0];
      if (!job) throw badUrl(queued.rejected[0]?.reason ?? 'not a YouTube video URL');
      const video = await ctx.database(request, (signal) =>
        ctx.store.createVideo({ url: youtube.url }, { signal }),
      );
      // Only the request that created the row is not a duplicate: the store decides that atomically.
      const duplicate = !video.created;
      request.log.info({ jobId: job.jobId, videoId: video.id, duplicate }, 'video enqueued');
      return reply.status(202).send({
        jobId: job.jobId,
        videoId: video.id,
        youtubeId: job.youtubeId,
        url: job.url,
        duplicate,
        requestId: request.id,
      });
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/videos/:id/clips',
    { schema: listClipsSchema },
    async (request) => {
      const video = await ctx.database(request, (signal) =>
        ctx.store.getVideoById(request.params.id, { signal }),
      );
      if (!video) throw noSuchVideo();
      const clips = await ctx.database(request, (signal) =>
        ctx.store.getClipsByVideoId(video.id, { signal }),
      );
      return { items: clips.map((c) => ctx.dto.clip(c)) };
    },
  );
}

/** The canonical YouTube watch URL of `input`, or a 400 naming `url`. */
function youtubeVideo(input: string): { url: string; id: string } {
  let described: ReturnType<typeof describeVideoUrl>;
  try {
    described = describeVideoUrl(input);
  } catch (error) {
    // The store's message shows the URL redacted; the reason is what the caller needs.
    const reason = error instanceof StoreError ? String(error.details.reason ?? error.message) : 'invalid';
    throw badUrl(reason);
  }
  if (described.source !== 'youtube' || described.sourceVideoId === null) {
    throw badUrl('not a YouTube video URL');
  }
  return { url: described.url, id: described.sourceVideoId };
}

function badUrl(reason: string): ServerError {
  return new ServerError(ServerErrorCode.BadRequest, 400, `url: ${reason}`, { details: { field: 'url' } });
}

function noSuchVideo(): ServerError {
  return new ServerError(ServerErrorCode.NotFound, 404, 'No such video', { details: { field: 'id' } });
}
