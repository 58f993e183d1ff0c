import type DataLoader from "dataloader";
import type { Logger } from "pino";
import type { User } from "../domain/user.js";
import type { SessionCredentialsService } from "../auth/session-credentials.js";
import type { AuthService, RequestScope, SessionCookieSink } from "../auth/auth.service.js";
import type { UserInfoCache } from "../auth/user-info.cache.js";
import { sessionFields, type AuditTrail } from "../observability/audit.js";
import type { ActiveSession } from "../sessions/session.js";
import type { SessionService } from "../sessions/session.service.js";

/** Everything a resolver may use, built once per request. */
export interface GatewayContext {
  requestId: string;
  log: Logger;
  auth: AuthService;
  scope: RequestScope;
  /** Reached only through the subgraph schema, which the router alone may query (src/graph/federation). */
  credentials: SessionCredentialsService;
  /**
   * Filled in as the request runs, for its log line and metrics: the operation's name as the
   * client gave it, its root fields (a bounded label: `me+session`), and the error codes.
   */
  outcome: { operation: string | null; rootFields: string | null; codes: Set<string> };
}

/** The request's session is looked up on first use and at most once, so `signin` never reads the store. */
export function requestScope(
  sessions: SessionService,
  userInfo: UserInfoCache,
  audit: AuditTrail,
  request: { token: string | undefined; clientAddress: string; requestId: string; log: () => Logger; sessionCookie?: SessionCookieSink },
): RequestScope {
  const { token, clientAddress, requestId, log, sessionCookie } = request;
  let lookup: Promise<ActiveSession | null> | undefined;
  // Made on first use, like the logger: most operations load no user info.
  let loader: DataLoader<string, User> | undefined;
  return {
    session: () =>
      (lookup ??= sessions.find(token, (record, reason) =>
        audit.record({ requestId, clientAddress }, "session.expired", "success", { ...sessionFields(record), reason }),
      )),
    forgetSession: () => {
      lookup = Promise.resolve(null);
    },
    get userInfo() {
      return (loader ??= userInfo.loader());
    },
    get log() {
      return log();
    },
    clientAddress,
    requestId,
    sessionCookie,
  };
}

/**
 * The session token a request presents: its bearer header, else (in cookie mode) its session
 * cookie. The header wins when both come: a client that sends one on purpose means it, while
 * a browser attaches cookies to whatever it sends.
 */
export function presentedToken(authorization: string | undefined, cookieToken: string | undefined): string | undefined {
  return bearerToken(authorization) ?? cookieToken;
}

/** The token of `Authorization: Bearer <token>`, if the header is one. */
function bearerToken(authorization: string | undefined): string | undefined {
  const match = authorization === undefined ? null : /^Bearer[ ]+([^ ]+)[ ]*$/i.exec(authorization);
  return match?.[1];
}

/**
 * The client's address: the socket's peer, or, behind `trustedProxyHops` proxies that each
 * append to X-Forwarded-For, the address the outermost trusted proxy saw. Entries further
 * left were written by the client itself and prove nothing.
 */
export function clientAddress(peer: string | undefined, forwardedFor: string | undefined, trustedProxyHops: number): string {
  // The common case, asked on every request: nothing to split.
  if (trustedProxyHops === 0 || forwardedFor === undefined) return peer ?? "unknown";
  const chain = [...(forwardedFor ?? "").split(",").map((entry) => entry.trim()).filter(Boolean), peer ?? "unknown"];
  return chain[Math.max(0, chain.length - 1 - trustedProxyHops)]!;
}
