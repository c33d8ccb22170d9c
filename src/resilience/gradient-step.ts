/** What the gradient algorithm keeps between windows. */
export interface GradientState {
  /** The limit, fractional (permits are its whole part). */
  limit: number;
  /** The long-horizon mean latency (ms; 0 before the first window). */
  longLatencyMs: number;
  /** Windows the long mean has taken in (0 before the first). */
  windows: number;
}

/** One window of completed calls. */
export interface GradientWindow {
  /** The mean latency of the window's calls that completed (ms; 0 if none did). */
  latencyMs: number;
  /** Whether the dependency refused a call of the window for load (429, 503, timeout). */
  dropped?: boolean;
  /** The most permits in use at once during the window. */
  maxInFlight: number;
}

export interface GradientParams {
  minLimit: number;
  maxLimit: number;
  /** The limit's factor after a window with a refusal for load (default 0.9). */
  backoffRatio?: number;
  /** How much the window's latency may exceed the long mean before the limit backs off (default 1.5). */
  tolerance?: number;
  /** The weight of a window's new limit against the current one (default 0.2). */
  smoothing?: number;
  /** The long mean's horizon in windows (default 600). */
  longWindows?: number;
}

/**
 * Netflix's Gradient2: the window's mean latency (short) against an exponential moving average of it
 * over about 600 windows (long; a window is at least 10 calls and one round trip, so the horizon is
 * seconds to minutes whatever the throughput). `gradient = clamp(tolerance × long / short, 0.5, 1)`; the new limit is
 * `limit × gradient + queue` (queue: √limit, at least 4), blended into the current one by `smoothing`.
 * A latency within `tolerance` of the long mean keeps the gradient at 1, so the limit grows by the queue
 * allowance whatever the latency's spread; a rise past it shrinks the limit at most by half per window.
 * When the long mean is over twice the short one (latency came back down after a long overload) it
 * decays 5 % per window, so the limit recovers without waiting out the horizon. The limit does not move
 * while fewer than half its permits were in use (the long mean still does).
 *
 * Under a sustained queue the long mean follows the queued latency up, and the limit with it, until the
 * dependency refuses. So a window with a refusal for load, besides multiplying the limit by
 * `backoffRatio`, takes a quarter off the long mean (Gradient2 itself ignores refusals): the latency it
 * had followed was a full queue's, and with it lowered the limit keeps backing off until the latency is
 * back within `tolerance` of it. Simulated on the injected clock against a vendor with 16 workers, a
 * queue of 32 and a 1 s pause after each 429, this took throughput from half to 90 % of what the workers
 * serve, with half the 429s of a 10 % cut; a half cut did slightly better there but held the limit too
 * low behind a rate limiter that refuses without the latency rising.
 */
export function gradientStep(
  state: GradientState,
  window: GradientWindow,
  params: GradientParams,
): GradientState {
  const tolerance = params.tolerance ?? 1.5;
  const smoothing = params.smoothing ?? 0.2;
  const horizon = params.longWindows ?? 600;
  if (window.dropped === true) {
    return {
      limit: Math.max(params.minLimit, state.limit * (params.backoffRatio ?? 0.9)),
      longLatencyMs: state.longLatencyMs * LONG_BACKOFF,
      windows: state.windows,
    };
  }
  const short = window.latencyMs;
  if (!(short > 0) || !Number.isFinite(short)) return state;
  // The first windows are averaged plainly: the very first holds the calls that answered first, the
  // quick ones, and alone would set the long mean too low for the whole horizon.
  const windows = state.windows + 1;
  const weight = windows <= WARMUP_WINDOWS ? 1 / windows : 2 / (horizon + 1);
  let long = state.longLatencyMs + (short - state.longLatencyMs) * weight;
  if (long / short > 2) long *= 0.95;
  if (window.maxInFlight * 2 < state.limit) return { limit: state.limit, longLatencyMs: long, windows };
  const gradient = Math.max(0.5, Math.min(1, (tolerance * long) / short));
  const queue = Math.max(4, Math.sqrt(state.limit));
  const target = state.limit * gradient + queue;
  const next = state.limit * (1 - smoothing) + target * smoothing;
  return { limit: Math.min(params.maxLimit, Math.max(params.minLimit, next)), longLatencyMs: long, windows };
}

/** Windows averaged plainly before the long mean becomes an exponential one. */
const WARMUP_WINDOWS = 10;

/** The long mean's factor after a window with a refusal for load. */
const LONG_BACKOFF = 0.75;
