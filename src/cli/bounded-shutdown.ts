/** Exit status when a signal stopped a command before it finished (as a shell reports SIGINT). */
export const EXIT_INTERRUPTED = 130;

/** How long a command has, after the first SIGINT/SIGTERM, before the CLI exits anyway. */
export const DEFAULT_SHUTDOWN_BOUND_MS = 10_000;

/** After a second signal, the running work is aborted and has this long to record where it stopped. */
const SECOND_SIGNAL_GRACE_MS = 3_000;

export interface BoundedShutdown {
  /** Aborted by the first signal: stop taking new work, let running work finish. */
  readonly stopSignal: AbortSignal;
  /** Aborted by the second signal: abort the running work too. */
  readonly signal: AbortSignal;
  /** Resolves with EXIT_INTERRUPTED when the bound has passed since the first signal; never rejects. */
  readonly forced: Promise<number>;
  /** True once a signal has arrived. */
  readonly signalled: boolean;
  /** Changes the bound (once the configuration is read); a running countdown keeps its deadline. */
  setBound(ms: number): void;
  /** Removes the signal handlers and the timers. */
  dispose(): void;
}

export interface BoundedShutdownOptions {
  boundMs?: number;
  /** Where the one-line notices go (stderr). */
  notice: (line: string) => void;
  /** What the first signal means for this command, for the notice. */
  stopping?: string;
}

/**
 * Process-level handling of SIGINT and SIGTERM for one command: the first signal asks the command to
 * stop (stopSignal), the second aborts its running work (signal), and whatever the command is waiting
 * for (a database or Redis that is gone, a stuck HTTP call), `forced` resolves once the bound has passed
 * since the first signal, so the caller can exit.
 */
export function boundedShutdown(options: BoundedShutdownOptions): BoundedShutdown {
  let boundMs = options.boundMs ?? DEFAULT_SHUTDOWN_BOUND_MS;
  const stop = new AbortController();
  const abort = new AbortController();
  let resolveForced!: (code: number) => void;
  const forced = new Promise<number>((resolve) => {
    resolveForced = resolve;
  });
  let timer: NodeJS.Timeout | undefined;
  let deadline = Number.POSITIVE_INFINITY;
  const arm = (ms: number, why: string): void => {
    const at = Date.now() + ms;
    if (at >= deadline) return;
    deadline = at;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      options.notice(`opusclip: ${why}; exiting`);
      resolveForced(EXIT_INTERRUPTED);
    }, ms);
  };
  const onSignal = (name: NodeJS.Signals): void => {
    if (!stop.signal.aborted) {
      stop.abort(new Error(`received ${name}`));
      options.notice(
        `opusclip: ${name}: ${options.stopping ?? 'stopping'} (at most ${Math.round(boundMs / 1000)} s; Ctrl-C again to abort now)`,
      );
      arm(boundMs, `did not stop within ${Math.round(boundMs / 1000)} s`);
    } else if (!abort.signal.aborted) {
      abort.abort(new Error(`received ${name} again`));
      options.notice(`opusclip: ${name} again: aborting the running work (it stays resumable)`);
      arm(SECOND_SIGNAL_GRACE_MS, 'the aborted work did not end in time');
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    stopSignal: stop.signal,
    signal: abort.signal,
    forced,
    get signalled() {
      return stop.signal.aborted;
    },
    setBound(ms) {
      boundMs = ms;
    },
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (timer) clearTimeout(timer);
    },
  };
}
