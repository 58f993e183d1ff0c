import { AuthProvider, type User } from "../../domain/user.js";
import { BackendError } from "../../errors/backend-error.js";
import { Upstream, type UpstreamCallEvent, type UpstreamResponse } from "../upstream.js";
import { parseJson } from "../wire.js";
import { parseSigninBody, parseUserInfo } from "./idp.wire.js";

export interface IdpClientOptions {
  /** Base URL of the IdP, ending in `/`. */
  baseUrl: string;
  /** The organisation's `client_id`. */
  clientId: string;
  /** The organisation's API token: sent to the IdP as `X-Auth-Token`, nowhere else. */
  apiToken: string;
  /** Whole-call limit in milliseconds. */
  timeoutMs: number;
  /** IANA zone of the IdP's zone-less timestamps. */
  timeZone: string;
  onCall?: (event: UpstreamCallEvent) => void;
}

/** The IdP's SSO API: sign-in, sign-out, user info. */
export class IdpClient {
  readonly #upstream: Upstream;
  readonly #timeZone: string;

  constructor(options: IdpClientOptions) {
    this.#timeZone = options.timeZone;
    this.#upstream = new Upstream({
      backend: AuthProvider.IDP,
      baseUrl: options.baseUrl,
      timeoutMs: options.timeoutMs,
      headers: { client_id: options.clientId, "X-Auth-Token": options.apiToken, Accept: "application/json" },
      onCall: options.onCall,
    });
  }

  /** Signs a user in; returns their access token. */
  async signin(email: string, password: string): Promise<string> {
    const response = await this.#upstream.send({
      endpoint: "signin",
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
      method: "GET",
      path: `api/1.0/sso/token/${encodeURIComponent(accessToken)}`,
    });
    this.#expectSuccess("userinfo", response);
    return this.#parsed("userinfo", response, (body) => parseUserInfo(body, this.#timeZone));
  }

  /** Whether the backend answers at all, for readiness. */
  reachable(timeoutMs: number): Promise<boolean> {
    return this.#upstream.reachable(timeoutMs);
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
