import { SingleBar } from 'cli-progress';
import type { PipelineEvent } from '../pipeline/video-pipeline.js';
import type { Output } from './output.js';

export interface ProgressReporter {
  /** Counts an input line as read (the bar's total grows with the input, whatever its length). */
  read(): void;
  onEvent(event: PipelineEvent): void;
  done(): void;
}

/**
 * Progress of `process` and `demo` on stderr. On a terminal: a cli-progress bar whose total is the
 * number of inputs read so far (known up front for URL arguments, growing while a file is streamed),
 * so it is right for any number of videos. Elsewhere (a pipe, a log file, `--json`): one plain line per
 * video and per bad input.
 */
export function progressReporter(options: {
  io: Output;
  /** A terminal on stderr and no --json. */
  bar: boolean;
  stream?: NodeJS.WritableStream;
}): ProgressReporter {
  const { io } = options;
  let read = 0;
  let finished = 0;
  const counts = { completed: 0, failed: 0, other: 0, bad: 0 };
  const bar = options.bar
    ? new SingleBar({
        stream: options.stream ?? process.stderr,
        format:
          '[{bar}] {value}/{total} | {completed} done, {failed} failed, {other} skipped, {bad} bad input | {duration_formatted}',
        barCompleteChar: '#',
        barIncompleteChar: '.',
        barsize: 30,
        hideCursor: true,
        clearOnComplete: false,
        stopOnComplete: false,
        gracefulExit: false,
        fps: 10,
      })
    : undefined;
  let started = false;
  const render = (): void => {
    if (!bar) return;
    const payload = { ...counts };
    if (!started) {
      bar.start(Math.max(read, finished, 1), finished, payload);
      started = true;
    } else {
      bar.setTotal(Math.max(read, finished, 1));
      bar.update(finished, payload);
    }
  };
  return {
    read() {
      read++;
      if (started) render();
    },
    onEvent(e) {
      if (e.type === 'bad-input') {
        counts.bad++;
        finished++;
        if (bar) render();
        else io.err(`bad input (line ${e.input.line}): ${e.input.reason}`);
        return;
      }
      if (e.type !== 'video') return;
      const o = e.outcome;
      finished++;
      if (o.status === 'completed') counts.completed++;
      else if (o.status === 'failed') counts.failed++;
      else counts.other++;
      if (bar) render();
      else
        io.err(`${o.status.padEnd(11)} ${o.youtubeId} ${o.clips} clips${o.reason ? `  (${o.reason})` : ''}`);
    },
    done() {
      if (!bar) return;
      if (!started) render();
      // Inputs that were read but produced no video (a second form of a video already in the run).
      bar.setTotal(Math.max(finished, 1));
      bar.update(finished, { ...counts });
      bar.stop();
    },
  };
}

/** Wraps URL sources, counting each line that can hold a URL (not blank, not a `#` comment). */
export async function* countingSources(
  sources: Iterable<string> | AsyncIterable<string>,
  onLine: () => void,
): AsyncGenerator<string> {
  for await (const line of sources) {
    const t = line.trim();
    if (t !== '' && !t.startsWith('#')) onLine();
    yield line;
  }
}
