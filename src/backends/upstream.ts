import { setTimeout as sleep } from "node:timers/promises";
import got, { RequestError, type CancelableRequest, type Got, type Response } from "got";
import { defaultOf } from "../config/settings.js";
import { LEAST_RETRY_SHARE } from "../config/tunables.js";
import type { AuthProvider } from "../domain/user.js";
import { BackendError } from "../errors/backend-error.js";
import type { CallPolicy, TransientFailure } from "./resilience/call-policy.js";
import { CircuitBreaker, type CircuitChange } from "./resilience/circuit-breaker.js";
import { RetryBudget, type RetryBudgetOptions } from "./resilience/retry-budget.js";

/** What one attempt of an upstream call looked like; safe to log (no URL, no header, no body). */
export interface UpstreamCallEvent {
  backend: AuthProvider;
  /** Endpoint template, e.g. `A001` or `userinfo`. */
  endpoint: string;
  /** 1 for the first attempt, 2 for a retry. */
  attempt: number;
  status: number | undefined;
  failure: BackendError["failure"] | undefined;
  durationMs: number;
}

/** What both backends' clients pass through to their Upstream: observers, the breaker's clock and settings, the retry budget. */
export interface UpstreamTuning {
  /** Told about every attempt when it ends, for logs and metrics. */
  onCall?: (event: UpstreamCallEvent) => void;
  /** Told when the backend's circuit opens, lets a probe through, or closes. */
  onCircuitChange?: (event: CircuitChange & { backend: AuthProvider }) => void;
  /** The breaker's clock; tests move it to end a cool-down. Default `Date.now`. */
  now?: () => number;
  /** Consecutive failed attempts that open the circuit; default `BREAKER_FAILURE_THRESHOLD`'s. */
  circuitFailureThreshold?: number;
  /** How long an open circuit refuses calls before a probe; default `BREAKER_COOL_DOWN_MS`'s. */
  circuitCoolDownMs?: number;
  /** The retry budget (retry-budget.ts); default RETRY_BUDGET (tunables.ts). */
  retryBudget?: RetryBudgetOptions;
  /** Source of the backoff jitter, in [0, 1); default `Math.random`. */
  random?: () => number;
  /** Largest answer body taken from the backend, counted after decompression; default `BACKEND_MAX_RESPONSE_BYTES`'s. */
  maxResponseBytes?: number;
}

interface UpstreamOptions extends UpstreamTuning {
  backend: AuthProvider;
  /** Base URL ending in `/`; request paths are relative to it. */
  baseUrl: string;
  /** Budget of one call, every attempt and backoff included, in milliseconds (at most MAX_UPSTREAM_TIMEOUT_MS by the settings). */
  timeoutMs: number;
  /** Headers every call to this backend carries. */
  headers: Record<string, string>;
}

interface UpstreamRequest {
  /** Endpoint template used in errors and logs: never the concrete path (IdP paths carry tokens). */
  endpoint: string;
  method: "GET" | "POST" | "PUT" | "DELETE";
  /** Path relative to the base URL, without a leading slash. */
  path: string;
  /** How this endpoint is called: limits, retries (call-policy.ts). */
  policy: CallPolicy;
  headers?: Record<string, string>;
  json?: unknown;
  form?: Record<string, string>;
}

export interface UpstreamResponse {
  status: number;
  body: string;
}

/**
 * One configured HTTP client per backend. Each call follows its endpoint's {@link CallPolicy}
 * within the backend's budget; the retry loop is written out here, not left to got, so that
 * the bound on the whole call, the retry budget and the breaker are plain to see (got's own
 * retry is off: by default it would retry A002's PUT and A003's DELETE). 5xx and transport
 * failures are classified here, once; each backend's client handles the statuses its
 * contract defines.
 */
export class Upstream {
  readonly #http: Got;
  readonly #options: UpstreamOptions;
  readonly #breaker: CircuitBreaker;
  readonly #retryBudget: RetryBudget;
  readonly #random: () => number;
  readonly #maxResponseBytes: number;

  constructor(options: UpstreamOptions) {
    this.#options = options;
    this.#http = got.extend({
      prefixUrl: options.baseUrl,
      headers: options.headers,
      retry: { limit: 0 },
      throwHttpErrors: false,
      followRedirect: false,
      responseType: "text",
    });
    const { backend, onCircuitChange } = options;
    this.#breaker = new CircuitBreaker({
      failureThreshold: options.circuitFailureThreshold ?? defaultOf("BREAKER_FAILURE_THRESHOLD"),
      coolDownMs: options.circuitCoolDownMs ?? defaultOf("BREAKER_COOL_DOWN_MS"),
      now: options.now,
      onChange: onCircuitChange === undefined ? undefined : (change) => onCircuitChange({ ...change, backend }),
    });
    this.#retryBudget = new RetryBudget(options.retryBudget);
    this.#random = options.random ?? Math.random;
    this.#maxResponseBytes = options.maxResponseBytes ?? defaultOf("BACKEND_MAX_RESPONSE_BYTES");
  }

  /**
   * Whether the circuit refuses calls now (open, cool-down not over): users of this backend are
   * being refused, so for readiness the backend is down, whatever the network says. Once the
   * cool-down is over this is false again and the network decides, so an instance taken out of
   * rotation comes back without waiting for a user's call to probe the circuit.
   */
  get circuitOpen(): boolean {
    return this.#breaker.state === "open";
  }

  /**
   * Whether the backend answers at all (any status below 500), for readiness. It asks the base
   * URL, which needs no credential of a user, within `timeoutMs`; the breaker is not consulted
   * (see circuitOpen), and the probe does not count towards it.
   */
  async answers(timeoutMs: number): Promise<boolean> {
    try {
      const response = await this.#capped(
        "readiness",
        this.#http("", { method: "GET", timeout: { request: Math.min(timeoutMs, this.#options.timeoutMs) } }),
      );
      return response.statusCode < 500;
    } catch {
      return false;
    }
  }

  /**
   * Sends the request under its policy. Resolves with any answer below 500 (the client reads
   * it); rejects with a BackendError for a timeout, a failed connection, a 5xx, or an open circuit.
   */
  async send(request: UpstreamRequest): Promise<UpstreamResponse> {
    const { policy } = request;
    const deadline = performance.now() + this.#options.timeoutMs;
    const attemptLimitMs = this.#options.timeoutMs / (1 + policy.retries);
    this.#retryBudget.deposit();
    for (let attempt = 1; ; attempt++) {
      const leftMs = deadline - performance.now();
      try {
        return await this.#attempt(request, attempt, Math.max(1, Math.min(attemptLimitMs, leftMs)));
      } catch (error) {
        const waitMs = this.#random() * Math.min(policy.backoff.capMs, policy.backoff.baseMs * 2 ** (attempt - 1));
        const retried =
          attempt <= policy.retries &&
          error instanceof BackendError &&
          policy.retryOn.includes(error.failure as TransientFailure) &&
          deadline - performance.now() - waitMs >= attemptLimitMs * LEAST_RETRY_SHARE &&
          // Last, so a token is spent only on a retry that is really sent.
          this.#retryBudget.withdraw();
        if (!retried) throw error;
        await sleep(waitMs);
      }
    }
  }

  async #attempt(request: UpstreamRequest, attempt: number, limitMs: number): Promise<UpstreamResponse> {
    const { backend, onCall } = this.#options;
    const started = performance.now();
    let status: number | undefined;
    let failure: BackendError | undefined;
    const permit = this.#breaker.admit();
    try {
      if (permit === undefined) throw new BackendError(backend, "CIRCUIT_OPEN", request.endpoint);
      const connectMs = Math.min(request.policy.connectTimeoutMs, limitMs);
      const response = await this.#capped(
        request.endpoint,
        this.#http(request.path, {
          method: request.method,
          headers: request.headers,
          json: request.json,
          form: request.form,
          timeout: { lookup: connectMs, connect: connectMs, secureConnect: connectMs, request: limitMs },
        }),
      );
      status = response.statusCode;
      if (status >= 500) {
        throw new BackendError(backend, "SERVER_ERROR", request.endpoint, { status });
      }
      permit.succeeded();
      return { status, body: response.body };
    } catch (error) {
      failure = error as BackendError;
      permit?.failed();
      throw error;
    } finally {
      onCall?.({ backend, endpoint: request.endpoint, attempt, status, failure: failure?.failure, durationMs: performance.now() - started });
    }
  }

  /**
   * The call, refused as BAD_RESPONSE once its body grows past `maxResponseBytes` (issue 14: a
   * gzip bomb of 1.2 MB inflated to 1.2 GB in memory). got counts the body as it hands it on,
   * after decompressing it, one chunk (16 KiB inflated, or one socket read) at a time; at the cap
   * the transfer is cancelled, which destroys the socket and the inflater, so no more than the
   * cap and one chunk is ever held. Any other failure is classified as usual.
   */
  #capped(endpoint: string, call: CancelableRequest<Response<string>>): Promise<Response<string>> {
    const { backend } = this.#options;
    let tooLarge = false;
    void call.on("downloadProgress", ({ transferred }: { transferred: number }) => {
      if (tooLarge || transferred <= this.#maxResponseBytes) return;
      tooLarge = true;
      call.cancel();
    });
    return call.catch((error: unknown) => {
      if (tooLarge)
        throw new BackendError(backend, "BAD_RESPONSE", endpoint, { cause: { code: "RESPONSE_TOO_LARGE", limitBytes: this.#maxResponseBytes } });
      throw toBackendError(backend, endpoint, error);
    });
  }
}

/**
 * got's errors carry the request options (URL with tokens, headers with the API token):
 * they are kept only as a `cause` with those parts cut away, and never printed raw.
 */
function toBackendError(backend: AuthProvider, endpoint: string, error: unknown): BackendError {
  if (error instanceof RequestError) {
    const failure = error.code === "ETIMEDOUT" ? "TIMEOUT" : "UNREACHABLE";
    return new BackendError(backend, failure, endpoint, { cause: { code: error.code, name: error.name } });
  }
  return new BackendError(backend, "UNREACHABLE", endpoint, { cause: { name: (error as Error)?.name } });
}
