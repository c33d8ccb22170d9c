import { InvalidArgumentError } from '../../core/errors.js';
import { setupStore, VIDEO_STATUSES, type VideoStatus } from '../../store/index.js';
import type { CommandContext } from '../command-context.js';
import { connectDatabase } from '../dependency-check.js';
import { formatTable } from '../output.js';
import { openStore } from './open-store.js';

/** `setup`: the only command besides the writers (process, demo, worker, serve) that creates tables. */
export async function runSetup(ctx: CommandContext): Promise<number> {
  const db = await connectDatabase(ctx.config);
  try {
    const result = await setupStore(db);
    if (ctx.flags.json) ctx.io.out(JSON.stringify(result));
    else {
      ctx.io.out(`database: ${db.redactedUrl} (${db.dialect})`);
      ctx.io.out(
        result.applied.length > 0
          ? `applied migrations: ${result.applied.join(', ')}`
          : `up to date (${result.alreadyApplied.length} migrations already applied)`,
      );
    }
    return 0;
  } finally {
    await db.close();
  }
}

export async function runVideos(ctx: CommandContext): Promise<number> {
  const status = typeof ctx.flags.status === 'string' ? (ctx.flags.status as VideoStatus) : undefined;
  const limit = typeof ctx.flags.limit === 'number' ? ctx.flags.limit : 50;
  const { store, close } = await openStore(ctx.config);
  try {
    const statuses: VideoStatus[] = status ? [status] : [...VIDEO_STATUSES];
    const videos = [];
    for (const s of statuses) videos.push(...(await store.getVideosByStatus(s, { limit })).items);
    videos.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
    const shown = videos.slice(0, limit);
    if (ctx.flags.json) ctx.io.out(JSON.stringify(shown));
    else
      ctx.io.out(
        formatTable(
          ['id', 'status', 'duration', 'title', 'url'],
          shown.map((v) => [v.id, v.status, v.duration ?? '', (v.title ?? '').slice(0, 48), v.url]),
        ),
      );
    return 0;
  } finally {
    await close();
  }
}

export async function runVideo(ctx: CommandContext): Promise<number> {
  const id = ctx.args[0];
  if (!id) throw new InvalidArgumentError('Usage: opusclip video <id>');
  const { store, close } = await openStore(ctx.config);
  try {
    const video = await store.getVideoById(id);
    if (!video) {
      ctx.io.err(`opusclip video: no video with id ${id}`);
      return 1;
    }
    const clips = await store.getClipsByVideoId(id);
    if (ctx.flags.json) {
      ctx.io.out(JSON.stringify({ video, clips }));
      return 0;
    }
    ctx.io.out(
      `${video.title ?? '(untitled)'}  [${video.status}${video.statusReason ? `: ${video.statusReason}` : ''}]`,
    );
    ctx.io.out(`${video.url}  ${video.duration ?? '?'} s  ${video.viewCount ?? '?'} views`);
    ctx.io.out('');
    ctx.io.out(
      formatTable(
        ['start', 'end', 'score', 'title', 'thumbnail'],
        clips.map((c) => [
          c.startTime,
          c.endTime,
          c.score ?? '',
          (c.title ?? c.caption ?? '').slice(0, 40),
          c.thumbnailPath ?? '',
        ]),
      ),
    );
    return 0;
  } finally {
    await close();
  }
}

export async function runStats(ctx: CommandContext): Promise<number> {
  const { store, db, close } = await openStore(ctx.config);
  try {
    const stats = await store.stats();
    const m = db.metrics();
    if (ctx.flags.json) ctx.io.out(JSON.stringify({ stats, queriesExecuted: m.queriesExecuted }));
    else ctx.io.out(JSON.stringify(stats, null, 2));
    return 0;
  } finally {
    await close();
  }
}
