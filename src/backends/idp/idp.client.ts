import { AuthProvider, type User } from "../../domain/user.js";
import { BackendError } from "../../errors/backend-error.js";
import { IDEMPOTENT_READ, SENT_ONCE, type CallPolicy } from "../resilience/call-policy.js";
import { Upstream, type UpstreamTuning, type UpstreamResponse } from "../upstream.js";
import { parseJson } from "../wire.js";
import { parseSigninBody, parseUserInfo } from "./idp.wire.js";

interface IdpClientOptions extends UpstreamTuning {
  /** Base URL of the IdP, ending in `/`. */
  baseUrl: string;
  /** The organisation's `client_id`. */
  clientId: string;
  /** The organisation's API token: sent to the IdP as `X-Auth-Token`, nowhere else. */
  apiToken: string;
  /** Budget of one call, every attempt included, in milliseconds (`IDP_TIMEOUT_MS`). */
  timeoutMs: number;
  /** IANA zone of the IdP's zone-less timestamps. */
  timeZone: string;
}

/** How each IdP call is made (issue 4): every one within `IDP_TIMEOUT_MS`; only the read is retried. */
const POLICY = {
  /**
   * Sign-in is sent once: it takes a password, and a POST retried after a lost answer is a
   * second attempt at the IdP (towards the account's lockout there, in its audit trail).
   */
  signin: SENT_ONCE,
  /**
   * Sign-out is sent once: it ends the token for every client of the user (idp.md); a retry
   * after a lost answer gets 401 for a token the first one ended, and the gateway session has
   * ended whatever the IdP does.
   */
  signout: SENT_ONCE,
  /**
   * User info is a GET that changes nothing, read on every sign-in and `me`: one retry after a
   * timeout, a failed connection or a 5xx turns a blip (a restarted IdP node, a connection the
   * IdP's keep-alive closed) into a slower answer instead of an error. Never after a 401/404:
   * the token is gone, asking again cannot bring it back.
   */
  userinfo: IDEMPOTENT_READ,
} as const satisfies Record<string, CallPolicy>;

/** The IdP's SSO API: sign-in, sign-out, user info. */
export class IdpClient {
  readonly #upstream: Upstream;
  readonly #timeZone: string;

  constructor(options: IdpClientOptions) {
    this.#timeZone = options.timeZone;
    this.#upstream = new Upstream({
      ...options,
      backend: AuthProvider.IDP,
      headers: { client_id: options.clientId, "X-Auth-Token": options.apiToken, Accept: "application/json" },
    });
  }

  /** Signs a user in; returns their access token. */
  async signin(email: string, password: string): Promise<string> {
    const response = await this.#upstream.send({
      endpoint: "signin",
      policy: POLICY.signin,
      method: "POST",
      path: "api/1.0/sso/signin",
      form: { email, password },
    });
    this.#expectSuccess("signin", response);
    return this.#parsed("signin", response, parseSigninBody);
  }

  /**
   * Signs the user out, which ends the access token for every client of that user.
   * Sends the email only: the gateway never keeps a password (idp.md).
   */
  async signout(accessToken: string, email: string): Promise<void> {
    const response = await this.#upstream.send({
      endpoint: "signout",
      policy: POLICY.signout,
      method: "POST",
      path: `api/1.0/sso/signout/${encodeURIComponent(accessToken)}`,
      form: { email },
    });
    this.#expectSuccess("signout", response);
  }

  /** The user behind an access token; NOT_AUTHENTICATED when the token is unknown, expired or signed out. */
  async userInfo(accessToken: string): Promise<User> {
    const response = await this.#upstream.send({
      endpoint: "userinfo",
      policy: POLICY.userinfo,
      method: "GET",
      path: `api/1.0/sso/token/${encodeURIComponent(accessToken)}`,
    });
    this.#expectSuccess("userinfo", response);
    return this.#parsed("userinfo", response, (body) => parseUserInfo(body, this.#timeZone));
  }

  /** For readiness: whether the backend's circuit refuses calls now (Upstream.circuitOpen). */
  get circuitOpen(): boolean {
    return this.#upstream.circuitOpen;
  }

  /** For readiness: whether the backend answers at all (Upstream.answers). */
  answers(timeoutMs: number): Promise<boolean> {
    return this.#upstream.answers(timeoutMs);
  }

  #expectSuccess(endpoint: string, response: UpstreamResponse): void {
    const { status } = response;
    if (status >= 200 && status < 300) return;
    // The published docs show "not authenticated" under 404 with code 401; deployed IdPs use 401.
    if (status === 401 || status === 404) throw new BackendError(AuthProvider.IDP, "NOT_AUTHENTICATED", endpoint, { status });
    throw new BackendError(AuthProvider.IDP, "BAD_RESPONSE", endpoint, { status });
  }

  #parsed<T>(endpoint: string, response: UpstreamResponse, read: (body: unknown) => T | undefined): T {
    const value = read(parseJson(response.body));
    if (value === undefined) throw new BackendError(AuthProvider.IDP, "BAD_RESPONSE", endpoint, { status: response.status });
    return value;
  }
}
