import { z } from 'zod';

/** Only the fields the client reads are required; everything else passes through untouched. */
const thumbnail = z.object({
  url: z.string(),
  width: z.number().int().optional(),
  height: z.number().int().optional(),
});

/** uint64 counters arrive as decimal strings. */
const counter = z.string().regex(/^\d+$/, 'expected a decimal string');

const videoSchema = z.object({
  id: z.string(),
  snippet: z.object({
    publishedAt: z.string(),
    channelId: z.string(),
    channelTitle: z.string().optional(),
    title: z.string(),
    description: z.string().default(''),
    tags: z.array(z.string()).optional(),
    categoryId: z.string().optional(),
    thumbnails: z.record(z.string(), thumbnail).default({}),
    defaultLanguage: z.string().optional(),
    defaultAudioLanguage: z.string().optional(),
  }),
  contentDetails: z.object({
    duration: z.string(),
    definition: z.string().optional(),
    caption: z.string().optional(),
  }),
  statistics: z
    .object({
      viewCount: counter.optional(),
      likeCount: counter.optional(),
      commentCount: counter.optional(),
      favoriteCount: counter.optional(),
    })
    .default({}),
});
export type RawVideo = z.output<typeof videoSchema>;

export const videoListSchema = z.object({
  items: z.array(videoSchema),
  nextPageToken: z.string().optional(),
});

export const searchListSchema = z.object({
  items: z.array(
    z.object({
      id: z.object({
        kind: z.string(),
        videoId: z.string().optional(),
        channelId: z.string().optional(),
        playlistId: z.string().optional(),
      }),
      snippet: z
        .object({
          publishedAt: z.string(),
          channelId: z.string(),
          title: z.string(),
          description: z.string().default(''),
          channelTitle: z.string().optional(),
          thumbnails: z.record(z.string(), thumbnail).default({}),
        })
        .optional(),
    }),
  ),
  nextPageToken: z.string().optional(),
  pageInfo: z.object({ totalResults: z.number().int(), resultsPerPage: z.number().int() }).optional(),
});

export const channelListSchema = z.object({
  items: z
    .array(
      z.object({
        id: z.string(),
        snippet: z.object({ title: z.string(), customUrl: z.string().optional() }).optional(),
        contentDetails: z.object({ relatedPlaylists: z.object({ uploads: z.string() }) }),
      }),
    )
    .default([]),
});

export const playlistItemListSchema = z.object({
  items: z.array(
    z.object({
      contentDetails: z.object({ videoId: z.string(), videoPublishedAt: z.string().optional() }),
    }),
  ),
  nextPageToken: z.string().optional(),
});

export const captionListSchema = z.object({
  items: z.array(
    z.object({
      id: z.string(),
      snippet: z.object({
        videoId: z.string(),
        language: z.string(),
        name: z.string().default(''),
        trackKind: z.string(),
        isAutoSynced: z.boolean().optional(),
        isDraft: z.boolean().optional(),
        status: z.string().optional(),
        lastUpdated: z.string().optional(),
      }),
    }),
  ),
});

/** Google's JSON error envelope, for classifying errors. */
export const googleErrorSchema = z.object({
  error: z.object({
    code: z.number().optional(),
    message: z.string().optional(),
    errors: z.array(z.object({ reason: z.string().optional(), domain: z.string().optional() })).optional(),
  }),
});
