import { RETRY_BUDGET } from "../../config/tunables.js";

/** Options of {@link RetryBudget}; defaults and their reasons in RETRY_BUDGET (tunables.ts). */
export interface RetryBudgetOptions {
  /** Retries earned per call: 0.2 lets retries add at most a fifth to a backend's load. */
  ratio?: number;
  /** Most retries saved up (and the starting balance), for a burst after a quiet spell. */
  maxTokens?: number;
}

/**
 * A backend's retry budget (as Finagle's and gRPC's): every call deposits `ratio` of a token,
 * every retry spends one. While a backend fails for everyone, retries therefore stop once the
 * saved tokens are spent and then run at `ratio` of the call rate: they cannot multiply the
 * load on a backend that is already in trouble.
 */
export class RetryBudget {
  readonly #ratio: number;
  readonly #max: number;
  #balance: number;

  constructor(options: RetryBudgetOptions = {}) {
    this.#ratio = options.ratio ?? RETRY_BUDGET.ratio;
    this.#max = options.maxTokens ?? RETRY_BUDGET.maxTokens;
    this.#balance = this.#max;
  }

  /** A call was made (its first attempt): it earns part of a retry. */
  deposit(): void {
    this.#balance = Math.min(this.#max, this.#balance + this.#ratio);
  }

  /** Spends a token for one retry; false when the budget is spent and the retry must not be sent. */
  withdraw(): boolean {
    // A hair under one token counts as one: 5 × 0.2 adds up to 0.9999999999999999 in floating point.
    if (this.#balance < 1 - 1e-9) return false;
    this.#balance = Math.max(0, this.#balance - 1);
    return true;
  }
}
