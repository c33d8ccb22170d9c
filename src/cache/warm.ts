import { throwIfAborted } from '../core/index.js';
import type { GetOrSetOptions, WarmItem } from './cache-options.js';
import type { Loader } from './loader.js';

/** How a warm-up reads one item (the cache's `getOrSet`). */
export type WarmRead = (key: string, loader: Loader<unknown>, options: GetOrSetOptions) => Promise<unknown>;

/**
 * Reads every item through `read`, `concurrency` at a time (default 8), in order. Resolves with how many
 * were read; rejects with the first failure, or when `signal` aborts.
 */
export async function warmAll<T>(
  items: Iterable<WarmItem<T>>,
  read: WarmRead,
  options: { concurrency?: number; signal?: AbortSignal },
): Promise<number> {
  const queue = [...items];
  let next = 0;
  let loaded = 0;
  const worker = async (): Promise<void> => {
    while (next < queue.length) {
      throwIfAborted(options.signal);
      const item = queue[next++]!;
      await read(item.key, item.loader, {
        ...item.options,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      loaded++;
    }
  };
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(options.concurrency ?? 8, queue.length)) }, worker),
  );
  return loaded;
}
