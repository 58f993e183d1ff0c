import { AuthProvider, type Permission } from "../../domain/user.js";
import { BackendError } from "../../errors/backend-error.js";
import { parseJson } from "../wire.js";
import { SENT_ONCE, type CallPolicy } from "../resilience/call-policy.js";
import { Upstream, type UpstreamTuning, type UpstreamResponse } from "../upstream.js";
import { PROFESSIONAL_SESSION_TYPE, ersCodeOf, parseProfessionalSession, type SpineSession } from "./spine.wire.js";

interface SpineClientOptions extends UpstreamTuning {
  /** Base URL of the e-RS API, ending in `/`. */
  baseUrl: string;
  /** Accredited System ID, sent as `XAPI_ASID` on every call. */
  asid: string;
  /** Budget of one call, connect to last byte, in milliseconds (`SPINE_TIMEOUT_MS`). */
  timeoutMs: number;
}

const SESSIONS = "v1/ProfessionalSession";

/**
 * How each e-RS call is made (issue 4): every one within `SPINE_TIMEOUT_MS`, none retried.
 * A failure is answered at once as UPSTREAM_UNAVAILABLE; the user (or the app) decides to try again.
 */
const POLICY = {
  /**
   * A001 opens a professional session: if the answer is lost on the way back, a retry would
   * open a second one, and the first, whose key the gateway never saw, could never be closed.
   */
  A001: SENT_ONCE,
  /**
   * A002 changes the session's role: a retry after a timeout can reach Spine while it still
   * works on the first, and which role the session ends with is then up to Spine's ordering.
   * It is also a call the session's A003 must wait for (spine.md): one that returns, not two.
   */
  A002: SENT_ONCE,
  /**
   * A003 ends the session: a retry after a lost answer gets 403 (already ended) and blurs the
   * log; and the gateway session has already ended whatever Spine does (auth.service.ts).
   */
  A003: SENT_ONCE,
} as const satisfies Record<string, CallPolicy>;

/** The e-RS professional session API: A001, A002, A003. */
export class SpineClient {
  readonly #upstream: Upstream;

  constructor(options: SpineClientOptions) {
    this.#upstream = new Upstream({
      ...options,
      backend: AuthProvider.SPINE,
      // The underscores are the real header names (spine.md).
      headers: { XAPI_ASID: options.asid, Accept: "application/json" },
    });
  }

  /** A001: opens a professional session from a smartcard SSO token. */
  async createSession(smartcardToken: string): Promise<SpineSession> {
    const response = await this.#upstream.send({
      endpoint: "A001",
      policy: POLICY.A001,
      method: "POST",
      path: SESSIONS,
      json: { typeInfo: PROFESSIONAL_SESSION_TYPE, token: smartcardToken },
    });
    return this.#session("A001", response, false);
  }

  /** A002: selects one of the user's permissions for the session. */
  async selectRole(
    sessionKey: string,
    smartcardToken: string,
    permission: Pick<Permission, "businessFunction" | "orgIdentifier">,
  ): Promise<SpineSession> {
    const response = await this.#upstream.send({
      endpoint: "A002",
      policy: POLICY.A002,
      method: "PUT",
      path: `${SESSIONS}/${encodeURIComponent(sessionKey)}`,
      headers: { HTTP_X_SESSION_KEY: sessionKey },
      json: {
        typeInfo: PROFESSIONAL_SESSION_TYPE,
        token: smartcardToken,
        permission: { businessFunction: permission.businessFunction, orgIdentifier: permission.orgIdentifier },
      },
    });
    return this.#session("A002", response, true);
  }

  /** A003: ends the session. A 403 means Spine already considers it ended. */
  async endSession(sessionKey: string): Promise<void> {
    const response = await this.#upstream.send({
      endpoint: "A003",
      policy: POLICY.A003,
      method: "DELETE",
      path: `${SESSIONS}/${encodeURIComponent(sessionKey)}`,
      headers: { HTTP_X_SESSION_KEY: sessionKey },
    });
    if (response.status >= 200 && response.status < 300) return;
    throw this.#failure("A003", response);
  }

  /** For readiness: whether the backend's circuit refuses calls now (Upstream.circuitOpen). */
  get circuitOpen(): boolean {
    return this.#upstream.circuitOpen;
  }

  /** For readiness: whether the backend answers at all (Upstream.answers). */
  answers(timeoutMs: number): Promise<boolean> {
    return this.#upstream.answers(timeoutMs);
  }

  #session(endpoint: string, response: UpstreamResponse, roleRequired: boolean): SpineSession {
    if (response.status < 200 || response.status >= 300) throw this.#failure(endpoint, response);
    const session = parseProfessionalSession(parseJson(response.body));
    if (session === undefined || (roleRequired && session.permission === null)) {
      throw new BackendError(AuthProvider.SPINE, "BAD_RESPONSE", endpoint, { status: response.status });
    }
    return session;
  }

  #failure(endpoint: string, response: UpstreamResponse): BackendError {
    const { status } = response;
    if (status === 403) return new BackendError(AuthProvider.SPINE, "NOT_AUTHENTICATED", endpoint, { status });
    if (status === 422) {
      // The e-RS code is what clients can act on; the free-text diagnostics may echo input, so they stay here.
      return new BackendError(AuthProvider.SPINE, "REJECTED", endpoint, { status, ersCode: ersCodeOf(parseJson(response.body)) });
    }
    return new BackendError(AuthProvider.SPINE, "BAD_RESPONSE", endpoint, { status });
  }
}
