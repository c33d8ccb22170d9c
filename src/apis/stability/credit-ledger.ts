import { ApiError, ApiErrorCode } from '../errors.js';

/** Dec-2024 prices in credits (1 credit = US$0.01); override per account with `costs`. */
export const STABILITY_CREDIT_COSTS: Readonly<Record<string, number>> = Object.freeze({
  core: 3,
  ultra: 8,
  'sd3.5-large': 6.5,
  'sd3.5-large-turbo': 4,
  'sd3.5-medium': 3.5,
  'sd3-large': 6.5,
  'sd3-large-turbo': 4,
  'sd3-medium': 3.5,
  /** v1 SDXL at <= 30 steps (more steps cost proportionally more). */
  'stable-diffusion-xl-1024-v1-0': 0.9,
});

export interface CreditLedgerOptions {
  /** Credits this client may spend; refused before sending past it. Default: no limit. */
  limit?: number;
  costs?: Readonly<Record<string, number>>;
}

/**
 * Counts Stability credits per model. A generation reserves its price before it is sent and gets it
 * back when it fails (Stability does not charge failed generations), so concurrent calls cannot
 * overspend the limit. Hand-written: it is a counter, and the provider sends no cost header to read.
 */
export class CreditLedger {
  readonly limit: number;
  readonly costs: Readonly<Record<string, number>>;
  #spent = 0;
  #reserved = 0;
  readonly #byModel = new Map<string, number>();

  constructor(options: CreditLedgerOptions = {}) {
    this.limit = options.limit ?? Number.POSITIVE_INFINITY;
    this.costs = { ...STABILITY_CREDIT_COSTS, ...(options.costs ?? {}) };
  }

  priceOf(model: string, multiplier = 1): number {
    const price = this.costs[model];
    if (price === undefined) {
      throw new ApiError(
        ApiErrorCode.InvalidRequest,
        'stability',
        `No credit price configured for ${model}`,
        {
          details: { model },
        },
      );
    }
    return price * multiplier;
  }

  /** Holds `credits` for a call; returns settle functions. Throws ERR_API_CREDITS_EXHAUSTED past the limit. */
  reserve(model: string, credits: number): { commit: () => void; refund: () => void } {
    if (this.#spent + this.#reserved + credits > this.limit + 1e-9) {
      throw new ApiError(
        ApiErrorCode.CreditsExhausted,
        'stability',
        `A ${model} generation costs ${credits} credits; ${Math.max(0, this.limit - this.#spent - this.#reserved)} of ${this.limit} left`,
        { details: { model, credits, limit: this.limit, spent: this.#spent } },
      );
    }
    this.#reserved += credits;
    let settled = false;
    return {
      commit: () => {
        if (settled) return;
        settled = true;
        this.#reserved -= credits;
        this.#spent += credits;
        this.#byModel.set(model, (this.#byModel.get(model) ?? 0) + credits);
      },
      refund: () => {
        if (settled) return;
        settled = true;
        this.#reserved -= credits;
      },
    };
  }

  get spent(): number {
    return this.#spent;
  }

  get remaining(): number {
    return this.limit - this.#spent - this.#reserved;
  }

  byModel(): Record<string, number> {
    return Object.fromEntries(this.#byModel);
  }
}
