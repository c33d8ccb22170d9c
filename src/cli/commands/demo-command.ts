import type { CommandContext } from '../main.js';
import { formatTable } from '../output.js';
import { openStore } from './open-store.js';

/**
 * The README's main-job command. Until the pipeline lands it shows the store end to end on the
 * embedded default: migrations, videos, clips in a transaction, status transitions, stats.
 */
export async function runDemo(ctx: CommandContext): Promise<number> {
  const config = {
    ...ctx.config,
    databaseUrl: ctx.flags['database-url'] ? ctx.config.databaseUrl : 'sqlite:./opusclip-demo.db',
  };
  const { store, db, close } = await openStore(config);
  try {
    ctx.io.out(`opusclip demo: database ${db.redactedUrl} (${db.dialect})`);
    const urls = [
      'https://www.youtube.com/watch?v=dQw4w9WgXcQ',
      'https://youtu.be/9bZkp7q5f0E?t=42',
      'https://www.youtube.com/shorts/kJQP7kiw5Fk',
    ];
    for (const [i, url] of urls.entries()) {
      const { id, created } = await store.createVideo({
        url,
        title: `Demo video ${i + 1}`,
        duration: 180 + i * 60,
      });
      const video = await store.getVideoById(id);
      if (created || video?.status === 'pending') {
        await store.updateVideoStatus(id, 'processing');
        await store.transaction(async (s) => {
          await s.replaceClips(id, [
            { startTime: 5, endTime: 35, caption: 'The hook', score: 0.9 },
            { startTime: 60, endTime: 95, caption: 'The payoff', score: 0.8 },
          ]);
          await s.updateVideoStatus(id, 'completed');
        });
      }
      ctx.io.out(`  ${created ? 'stored ' : 'reused '} ${id}  ${url}`);
    }
    const stats = await store.stats();
    ctx.io.out('');
    ctx.io.out(
      formatTable(
        ['status', 'videos'],
        Object.entries(stats.videos.byStatus).map(([k, v]) => [k, Number(v)]),
      ),
    );
    ctx.io.out(`\nqueries executed: ${db.metrics().queriesExecuted}`);
    return 0;
  } finally {
    await close();
  }
}
