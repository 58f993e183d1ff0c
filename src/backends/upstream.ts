import got, { RequestError, type Got } from "got";
import type { AuthProvider } from "../domain/user.js";
import { BackendError } from "../errors/backend-error.js";

/** What one finished upstream call looked like; safe to log (no URL, no header, no body). */
export interface UpstreamCallEvent {
  backend: AuthProvider;
  /** Endpoint template, e.g. `A001` or `userinfo`. */
  endpoint: string;
  status: number | undefined;
  failure: BackendError["failure"] | undefined;
  durationMs: number;
}

export interface UpstreamOptions {
  backend: AuthProvider;
  /** Base URL ending in `/`; request paths are relative to it. */
  baseUrl: string;
  /** Whole-call limit (connect to last byte), in milliseconds. */
  timeoutMs: number;
  /** Headers every call to this backend carries. */
  headers: Record<string, string>;
  /** Told about every call when it ends, for logs and metrics. */
  onCall?: (event: UpstreamCallEvent) => void;
}

export interface UpstreamRequest {
  /** Endpoint template used in errors and logs: never the concrete path (IdP paths carry tokens). */
  endpoint: string;
  method: "GET" | "POST" | "PUT" | "DELETE";
  /** Path relative to the base URL, without a leading slash. */
  path: string;
  headers?: Record<string, string>;
  json?: unknown;
  form?: Record<string, string>;
}

export interface UpstreamResponse {
  status: number;
  body: string;
}

/**
 * One configured HTTP client per backend. Every call has a timeout and none is retried:
 * A001/A002/A003 and IdP sign-in/sign-out change state, and a retried user-info read
 * could double the time a user waits past the timeout. 5xx and transport failures are
 * classified here, once; each backend's client handles the statuses its contract defines.
 */
export class Upstream {
  readonly #http: Got;
  readonly #options: UpstreamOptions;

  constructor(options: UpstreamOptions) {
    this.#options = options;
    this.#http = got.extend({
      prefixUrl: options.baseUrl,
      headers: options.headers,
      timeout: { request: options.timeoutMs },
      retry: { limit: 0 },
      throwHttpErrors: false,
      followRedirect: false,
      responseType: "text",
    });
  }

  /**
   * Whether the backend answers at all (any status below 500), for readiness. It asks the
   * base URL, which needs no credential of a user, within `timeoutMs`.
   */
  async reachable(timeoutMs: number): Promise<boolean> {
    try {
      const response = await this.#http("", { method: "GET", timeout: { request: Math.min(timeoutMs, this.#options.timeoutMs) } });
      return response.statusCode < 500;
    } catch {
      return false;
    }
  }

  async send(request: UpstreamRequest): Promise<UpstreamResponse> {
    const { backend, onCall } = this.#options;
    const started = performance.now();
    let status: number | undefined;
    let failure: BackendError | undefined;
    try {
      const response = await this.#http(request.path, {
        method: request.method,
        headers: request.headers,
        json: request.json,
        form: request.form,
      }).catch((error: unknown) => {
        throw classify(backend, request.endpoint, error);
      });
      status = response.statusCode;
      if (status >= 500) {
        throw new BackendError(backend, "SERVER_ERROR", request.endpoint, { status });
      }
      return { status, body: response.body };
    } catch (error) {
      failure = error as BackendError;
      throw error;
    } finally {
      onCall?.({ backend, endpoint: request.endpoint, status, failure: failure?.failure, durationMs: performance.now() - started });
    }
  }
}

/**
 * got's errors carry the request options (URL with tokens, headers with the API token):
 * they are kept only as a `cause` with those parts cut away, and never printed raw.
 */
function classify(backend: AuthProvider, endpoint: string, error: unknown): BackendError {
  if (error instanceof RequestError) {
    const failure = error.code === "ETIMEDOUT" ? "TIMEOUT" : "UNREACHABLE";
    return new BackendError(backend, failure, endpoint, { cause: { code: error.code, name: error.name } });
  }
  return new BackendError(backend, "UNREACHABLE", endpoint, { cause: { name: (error as Error)?.name } });
}
