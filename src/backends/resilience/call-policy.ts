import { CONNECT_TIMEOUT_MS, READ_RETRY_BACKOFF } from "../../config/tunables.js";
import type { BackendFailure } from "../../errors/backend-error.js";

/** Failures of one attempt that a retry may cure: the backend was slow, out of reach or failing, not refusing. */
export type TransientFailure = Extract<BackendFailure, "TIMEOUT" | "UNREACHABLE" | "SERVER_ERROR">;

/**
 * How one backend endpoint is called (issue 4). Every client method names its policy beside
 * it, with the reason. The whole call, every attempt and every backoff included, stays within
 * the backend's budget (`SPINE_TIMEOUT_MS` / `IDP_TIMEOUT_MS`, at most 5 s, so that a request
 * making two calls in a row still answers within 10 s) whatever the backend does.
 */
export interface CallPolicy {
  /** Longest opening the connection of one attempt may take (DNS, TCP, TLS), within the attempt's limit. */
  connectTimeoutMs: number;
  /**
   * Retries after the first attempt: 0 for anything that changes state at the backend. With
   * retries, each attempt gets an equal share of the budget, so a hung first attempt leaves
   * time for the next.
   */
  retries: 0 | 1 | 2;
  /** The failures of an attempt that are retried; a 4xx never is (the backend has answered). */
  retryOn: readonly TransientFailure[];
  /**
   * Wait before retry n (0-based), with full jitter: uniform in [0, min(capMs, baseMs × 2^n)).
   * Jitter keeps the retries of many users who failed together from arriving together.
   */
  backoff: { baseMs: number; capMs: number };
}

/** Sent exactly once: the call changes state at the backend, so a retry could do it twice. */
export const SENT_ONCE: CallPolicy = {
  connectTimeoutMs: CONNECT_TIMEOUT_MS,
  retries: 0,
  retryOn: [],
  backoff: { baseMs: 0, capMs: 0 },
};

/**
 * An idempotent read: one retry on a timeout, a failed connection or a 5xx, after 0–50 ms (READ_RETRY_BACKOFF).
 * One, not two: each attempt gets half the budget, a third would be too short for a slow but
 * working backend. The retry budget (retry-budget.ts) stops retries adding load to a backend in trouble.
 */
export const IDEMPOTENT_READ: CallPolicy = {
  connectTimeoutMs: CONNECT_TIMEOUT_MS,
  retries: 1,
  retryOn: ["TIMEOUT", "UNREACHABLE", "SERVER_ERROR"],
  backoff: READ_RETRY_BACKOFF,
};
