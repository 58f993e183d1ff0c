/**
 * What a backend's circuit breaker lets through: `closed` everything, `open` nothing (calls
 * fail at once), `half-open` one probe call, whose outcome closes or reopens the circuit.
 */
export type CircuitState = "closed" | "open" | "half-open";

/** A change of a breaker's state, for the log. */
export interface CircuitChange {
  from: CircuitState;
  to: CircuitState;
  /** Consecutive failures counted when the circuit opened; 0 otherwise. */
  failures: number;
}

/** Options of {@link CircuitBreaker}. */
interface CircuitBreakerOptions {
  /** Consecutive failed attempts that open the circuit (`BREAKER_FAILURE_THRESHOLD`). */
  failureThreshold: number;
  /** How long an open circuit refuses calls before it lets one probe through (`BREAKER_COOL_DOWN_MS`). */
  coolDownMs: number;
  /** The clock, in milliseconds; tests move it instead of waiting out the cool-down. */
  now?: () => number;
  onChange?: (change: CircuitChange) => void;
}

/** Leave to send one attempt; tell the breaker how it went, exactly once. */
interface CircuitPermit {
  /** The backend answered (any status below 500, even a refusal: that is the backend working). */
  succeeded(): void;
  /** Timeout, connection failure or 5xx. */
  failed(): void;
}

/**
 * A circuit breaker for one backend: after `failureThreshold` consecutive failed attempts the
 * circuit opens and calls fail at once, instead of piling up behind a backend that is not
 * answering (each would hold a user and a socket for the whole timeout). After `coolDownMs`
 * one call goes through as a probe: success closes the circuit, failure reopens it for another
 * cool-down. Consecutive failures rather than a failure rate: it only has to notice a backend
 * that is down or hanging, and a count is easy to reason about and to test.
 */
export class CircuitBreaker {
  readonly #threshold: number;
  readonly #coolDownMs: number;
  readonly #now: () => number;
  readonly #onChange: ((change: CircuitChange) => void) | undefined;
  #failures = 0;
  /** When the circuit opened; undefined while closed. */
  #openedAt: number | undefined;
  #probing = false;

  constructor(options: CircuitBreakerOptions) {
    this.#threshold = options.failureThreshold;
    this.#coolDownMs = options.coolDownMs;
    this.#now = options.now ?? Date.now;
    this.#onChange = options.onChange;
  }

  /** The state now; an open circuit whose cool-down is over reads `half-open` (a probe may go). */
  get state(): CircuitState {
    if (this.#openedAt === undefined) return "closed";
    return this.#probing || this.#now() - this.#openedAt >= this.#coolDownMs ? "half-open" : "open";
  }

  /** Leave for one attempt, or undefined when the circuit refuses it. */
  admit(): CircuitPermit | undefined {
    const state = this.state;
    if (state === "closed") return this.#permit(false);
    if (state === "open" || this.#probing) return undefined;
    this.#probing = true;
    this.#onChange?.({ from: "open", to: "half-open", failures: 0 });
    return this.#permit(true);
  }

  #permit(probe: boolean): CircuitPermit {
    let settled = false;
    const settle = (outcome: () => void) => () => {
      if (settled) return;
      settled = true;
      outcome();
    };
    return {
      succeeded: settle(() => this.#succeeded(probe)),
      failed: settle(() => this.#failed(probe)),
    };
  }

  #succeeded(probe: boolean): void {
    if (probe) {
      this.#probing = false;
      this.#openedAt = undefined;
      this.#onChange?.({ from: "half-open", to: "closed", failures: 0 });
    }
    // An attempt admitted before the circuit opened says nothing about the backend now: only
    // the probe closes an open circuit.
    if (this.#openedAt === undefined) this.#failures = 0;
  }

  #failed(probe: boolean): void {
    if (probe) {
      this.#probing = false;
      this.#openedAt = this.#now();
      this.#onChange?.({ from: "half-open", to: "open", failures: this.#failures });
      return;
    }
    if (this.#openedAt !== undefined) return;
    this.#failures += 1;
    if (this.#failures >= this.#threshold) {
      this.#openedAt = this.#now();
      this.#onChange?.({ from: "closed", to: "open", failures: this.#failures });
    }
  }
}
