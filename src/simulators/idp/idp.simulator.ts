import { randomInt } from "node:crypto";
import { isObject } from "../../backends/wire.js";
import { headerOf, startSimServer, type SimRequest, type SimResponse, type SimulatorHandle } from "../sim-server.js";
import { IDP_DEMO, type Json } from "./idp.seed.js";

/** Options of {@link startIdpSimulator}. */
interface IdpSimulatorOptions {
  /** Interface to listen on; default `127.0.0.1`. */
  host?: string;
  /** Port to listen on; default 0 (ephemeral). */
  port?: number;
  /** The organisation's `client_id`; default {@link IDP_DEMO}.clientId. */
  clientId?: string;
  /** The organisation's API token (`X-Auth-Token`); default {@link IDP_DEMO}.apiToken. */
  apiToken?: string;
  /** How long an access token lives after the sign-in that created it; default 600 (idp.md). */
  tokenLifetimeSeconds?: number;
  /** Clock for token lifetimes, `last_login` and the call log; default `Date.now`. */
  now?: () => number;
}

/** A running simulator of the IdP SSO API (sign in, sign out, user info). */
export interface IdpSimulator extends SimulatorHandle {
  readonly clientId: string;
  readonly apiToken: string;
  /** 401 (deployed IdPs) or 404 (the published docs' quirk) for "not authenticated" answers */
  setNotAuthenticatedStatus(status: 401 | 404): void;
  /** Ends every live access token of a user (as if it expired), for tests of revocation */
  expireTokensOf(email: string): void;
}

interface Account {
  readonly email: string;
  readonly password: string;
  readonly userInfo: { [field: string]: Json };
  token?: { value: string; expiresAt: number };
}

const TOKEN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const TOKEN_LENGTH = 42;

/** Starts an IdP simulator that follows shared/contracts/idp.md, seeded with {@link IDP_DEMO}. */
export async function startIdpSimulator(options: IdpSimulatorOptions = {}): Promise<IdpSimulator> {
  const clientId = options.clientId ?? IDP_DEMO.clientId;
  const apiToken = options.apiToken ?? IDP_DEMO.apiToken;
  const lifetimeMs = (options.tokenLifetimeSeconds ?? 600) * 1000;
  if (!(lifetimeMs > 0)) throw new RangeError("tokenLifetimeSeconds must be a positive number of seconds");
  const now = options.now ?? Date.now;
  const accounts: Account[] = IDP_DEMO.users.map((u) => ({
    email: u.email,
    password: u.password,
    userInfo: structuredClone<{ [field: string]: Json }>(u.userInfo),
  }));
  let notAuthenticatedStatus: 401 | 404 = 401;

  // The organisation's pair is checked first and always answers 401 (idp.md); the configurable
  // status is only for a user's bad credentials or token.
  const clientAccepted = (req: SimRequest): boolean => headerOf(req, "client_id") === clientId && headerOf(req, "X-Auth-Token") === apiToken;
  const notAuthenticated = (status: number = notAuthenticatedStatus): SimResponse => ({
    status,
    body: { error: true, message: "Not authenticated", code: 401 },
  });

  // Emails are matched as the reference IdP's database does: case-insensitively.
  const accountOf = (email: unknown): Account | undefined =>
    typeof email === "string" ? accounts.find((a) => a.email.toLowerCase() === email.toLowerCase()) : undefined;

  function liveToken(account: Account): string | undefined {
    if (account.token !== undefined && now() >= account.token.expiresAt) delete account.token;
    return account.token?.value;
  }

  const accountOfToken = (token: string | undefined): Account | undefined =>
    token === undefined ? undefined : accounts.find((a) => liveToken(a) === token);

  const formOf = (req: SimRequest): Record<string, unknown> => (isObject(req.body) ? req.body : {});

  const handle = await startSimServer({
    host: options.host,
    port: options.port,
    now,
    bodyFormat: "form",
    routes: [
      {
        name: "signin",
        method: "POST",
        path: "/api/1.0/sso/signin",
        handle(req) {
          if (!clientAccepted(req)) return notAuthenticated(401);
          const { email, password } = formOf(req);
          const account = accountOf(email);
          if (account === undefined || password !== account.password) return notAuthenticated();
          // A live token is handed out again, not renewed: its 600 s count from the sign-in that made it (idp.md).
          let token = liveToken(account);
          if (token === undefined) {
            token = newAccessToken();
            account.token = { value: token, expiresAt: now() + lifetimeMs };
          }
          account.userInfo["last_login"] = formatTimestamp(now());
          return { status: 200, body: { access_token: token } };
        },
      },
      {
        name: "signout",
        method: "POST",
        path: "/api/1.0/sso/signout/:accessToken",
        handle(req) {
          if (!clientAccepted(req)) return notAuthenticated(401);
          const account = accountOfToken(req.params["accessToken"]);
          // The gateway sends only `email` (idp.md): a password is not asked for, the email must match.
          if (account === undefined || accountOf(formOf(req)["email"]) !== account) return notAuthenticated();
          delete account.token;
          return { status: 200, body: { message: "Signed out" } };
        },
      },
      {
        name: "userinfo",
        method: "GET",
        path: "/api/1.0/sso/token/:accessToken",
        handle(req) {
          if (!clientAccepted(req)) return notAuthenticated(401);
          const account = accountOfToken(req.params["accessToken"]);
          if (account === undefined) return notAuthenticated();
          return { status: 200, body: { ...account.userInfo, access_token: account.token!.value } };
        },
      },
    ],
    fallback: (status) => ({
      status,
      body: { error: true, message: status === 404 ? "Not found" : "Method not allowed", code: status },
    }),
  });

  return {
    ...handle,
    clientId,
    apiToken,
    setNotAuthenticatedStatus(status) {
      if (status !== 401 && status !== 404) throw new RangeError("not-authenticated status must be 401 or 404");
      notAuthenticatedStatus = status;
    },
    expireTokensOf(email) {
      const account = accountOf(email);
      if (account === undefined) throw new Error(`no IdP user with email "${email}"`);
      delete account.token;
    },
  };
}

function newAccessToken(): string {
  let token = "";
  for (let i = 0; i < TOKEN_LENGTH; i++) token += TOKEN_ALPHABET[randomInt(TOKEN_ALPHABET.length)];
  return token;
}

/** `yyyy-MM-dd HH:mm:ss` with no zone, as the IdP writes timestamps (rendered in UTC here). */
function formatTimestamp(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace("T", " ");
}
