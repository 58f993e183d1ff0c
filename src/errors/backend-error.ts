import { type AuthProvider as Backend } from "../domain/user.js";

/**
 * What went wrong in a call to a backend, in the project's own words. Clients of the
 * backends (src/backends/*) throw only this; one translation (gateway-error.ts) turns it
 * into a public code.
 */
export type BackendFailure =
  /** No answer in time (connect or response timeout). */
  | "TIMEOUT"
  /** Connection refused, reset, dropped, DNS failure: the backend could not be reached. */
  | "UNREACHABLE"
  /** The backend answered 5xx. */
  | "SERVER_ERROR"
  /** The answer is not the backend's contract (bad JSON, wrong shape, unexpected status). */
  | "BAD_RESPONSE"
  /** The backend refused the credential it was given (IdP 401/404, Spine 403). */
  | "NOT_AUTHENTICATED"
  /** Spine 422 with an e-RS error code. */
  | "REJECTED"
  /** Not sent: the backend's circuit is open after repeated failures (src/backends/resilience). */
  | "CIRCUIT_OPEN";

/**
 * A failed backend call. The message names the backend, the endpoint template and the
 * status only: never a URL (IdP paths carry access tokens), a header or a body.
 */
export class BackendError extends Error {
  override readonly name = "BackendError";

  constructor(
    readonly backend: Backend,
    readonly failure: BackendFailure,
    /** Endpoint template, e.g. `A002` or `GET /sso/token/{token}`: safe to log. */
    readonly endpoint: string,
    readonly details: { status?: number; ersCode?: string; cause?: unknown } = {},
  ) {
    super(
      `${backend} ${endpoint}: ${failure}` +
        (details.status === undefined ? "" : ` (HTTP ${details.status})`) +
        (details.ersCode === undefined ? "" : ` [${details.ersCode}]`),
      { cause: details.cause },
    );
  }

  get status(): number | undefined {
    return this.details.status;
  }

  get ersCode(): string | undefined {
    return this.details.ersCode;
  }
}

/** The session store could not be read or written. The gateway fails closed on it. */
export class StoreError extends Error {
  override readonly name = "StoreError";

  constructor(operation: string, cause: unknown) {
    super(`session store ${operation} failed`, { cause });
  }
}
