/** What the gradient algorithm keeps between windows. */
export interface GradientState {
  /** The limit, fractional (permits are its whole part). */
  limit: number;
  /** The long-horizon mean latency (ms; 0 before the first window). */
  longLatencyMs: number;
}

/** One window of completed calls, none refused for load. */
export interface GradientWindow {
  /** The window's mean latency (ms). */
  latencyMs: number;
  /** The most permits in use at once during the window. */
  maxInFlight: number;
}

export interface GradientParams {
  minLimit: number;
  maxLimit: number;
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
 */
export function gradientStep(
  state: GradientState,
  window: GradientWindow,
  params: GradientParams,
): GradientState {
  const tolerance = params.tolerance ?? 1.5;
  const smoothing = params.smoothing ?? 0.2;
  const horizon = params.longWindows ?? 600;
  const short = window.latencyMs;
  if (!(short > 0) || !Number.isFinite(short)) return state;
  let long =
    state.longLatencyMs > 0
      ? state.longLatencyMs + ((short - state.longLatencyMs) * 2) / (horizon + 1)
      : short;
  if (long / short > 2) long *= 0.95;
  if (window.maxInFlight * 2 < state.limit) return { limit: state.limit, longLatencyMs: long };
  const gradient = Math.max(0.5, Math.min(1, (tolerance * long) / short));
  const queue = Math.max(4, Math.sqrt(state.limit));
  const target = state.limit * gradient + queue;
  const next = state.limit * (1 - smoothing) + target * smoothing;
  return { limit: Math.min(params.maxLimit, Math.max(params.minLimit, next)), longLatencyMs: long };
}
