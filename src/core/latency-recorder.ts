export interface LatencySummary {
  count: number;
  totalMs: number;
  avgMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

/**
 * Count and sum over all samples, percentiles over a ring of the most recent ones. Recording is O(1)
 * and allocation-free so it can sit on every query and request; the sort happens only on snapshot.
 */
export class LatencyRecorder {
  #ring: Float64Array;
  #next = 0;
  #filled = 0;
  #count = 0;
  #total = 0;
  #max = 0;

  constructor(capacity = 2048) {
    this.#ring = new Float64Array(capacity);
  }

  record(ms: number): void {
    this.#ring[this.#next] = ms;
    this.#next = (this.#next + 1) % this.#ring.length;
    if (this.#filled < this.#ring.length) this.#filled++;
    this.#count++;
    this.#total += ms;
    if (ms > this.#max) this.#max = ms;
  }

  get count(): number {
    return this.#count;
  }

  summary(): LatencySummary {
    const sorted = this.#ring.slice(0, this.#filled).sort();
    const pick = (q: number): number =>
      sorted.length === 0 ? 0 : (sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0);
    return {
      count: this.#count,
      totalMs: this.#total,
      avgMs: this.#count === 0 ? 0 : this.#total / this.#count,
      p50Ms: pick(0.5),
      p95Ms: pick(0.95),
      p99Ms: pick(0.99),
      maxMs: this.#max,
    };
  }

  reset(): void {
    this.#next = 0;
    this.#filled = 0;
    this.#count = 0;
    this.#total = 0;
    this.#max = 0;
  }
}
