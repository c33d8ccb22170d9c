import type { NewVideo } from '../../src/store/index.js';

/** Video `i` of a benchmark's data set `tag`: distinct URLs, fields of typical length. */
export function sampleVideo(tag: string, i: number): NewVideo {
  return {
    url: `https://cdn.example.com/${tag}/v/${i}.mp4`,
    title: `Video ${i}: a title of a typical length`,
    description: 'A description of moderate length that a platform would keep for a video.',
    channelId: `UC${(i % 997).toString(36).padStart(22, '0')}`,
    channelTitle: `Channel ${i % 997}`,
    publishedAt: new Date(Date.UTC(2024, 0, 1) + i * 60_000),
    duration: 60 + (i % 3600),
    viewCount: (i * 7919) % 10_000_000,
    likeCount: (i * 31) % 100_000,
  };
}
