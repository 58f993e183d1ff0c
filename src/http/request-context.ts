import type DataLoader from "dataloader";
import type { Logger } from "pino";
import type { AuthService, RequestScope } from "../auth/auth.service.js";
import type { SessionCredentialsService } from "../auth/session-credentials.js";
import type { UserInfoCache } from "../auth/user-info.cache.js";
import type { User } from "../domain/user.js";
import type { GatewayContext, SessionTokenTransport } from "../graph/context.js";
import { sessionFields, type AuditTrail } from "../observability/audit.js";
import type { ActiveSession } from "../sessions/session.js";
import type { SessionService } from "../sessions/session.service.js";
import { clearedSessionCookie, sessionCookieHeader, sessionCookieToken } from "./cookies.js";

/** What the HTTP front reads off one request for its context (src/http/server.ts). */
export interface IncomingGraphqlRequest {
  requestId: string;
  authorization: string | undefined;
  /** The socket's peer and X-Forwarded-For, from which the client address is told. */
  peer: string | undefined;
  forwardedFor: string | undefined;
  /** True on `/subgraph` once the router's secret was checked: the router appended the client's address to X-Forwarded-For. */
  viaRouter: boolean;
  /** The `Cookie` header, and a way to add a `Set-Cookie` to the answer (cookie mode). */
  cookie: string | undefined;
  setCookie: (cookie: string) => void;
  /** The request's logger (with its request id), made on first use. */
  log: () => Logger;
}

interface RequestContextOptions {
  auth: AuthService;
  credentials: SessionCredentialsService;
  sessions: SessionService;
  userInfo: UserInfoCache;
  audit: AuditTrail;
  /** `SESSION_COOKIE=on`: session tokens travel in an HttpOnly cookie, never in the payload, and a cookie presents one. */
  cookieMode: boolean;
  /** `TRUSTED_PROXY_HOPS`: the proxies in front of the gateway that append to X-Forwarded-For. */
  trustedProxyHops: number;
}

/**
 * The one place a request's GraphQL context is made: who is asking (token, client address),
 * its session (looked up once, on first use), its loaders and logger, and where a new session
 * token goes.
 */
export function requestContextFactory(options: RequestContextOptions): (request: IncomingGraphqlRequest) => GatewayContext {
  const { auth, credentials, sessions, userInfo, audit, cookieMode, trustedProxyHops } = options;
  return (request) => {
    const { requestId, log, setCookie } = request;
    // Cookies count only in cookie mode: otherwise no browser-attached credential exists to forge requests with.
    const token = presentedToken(request.authorization, cookieMode ? sessionCookieToken(request.cookie) : undefined);
    // Through a router, the router is one more trusted hop: it appends the client's address
    // (docs/federation.md), and only a caller with the router's secret gets this far.
    const address = clientAddress(request.peer, request.forwardedFor, trustedProxyHops + (request.viaRouter ? 1 : 0));
    const scope = requestScope(sessions, userInfo, audit, {
      token,
      clientAddress: address,
      requestId,
      log,
      onEnded: cookieMode ? () => setCookie(clearedSessionCookie()) : undefined,
    });
    const sessionTokens: SessionTokenTransport = cookieMode
      ? {
          // The cookie lives until the session's absolute limit. It may outlive an idle expiry; the
          // gateway refuses that session all the same, so the cookie is then merely stale.
          hand: (issued, session) => {
            setCookie(sessionCookieHeader(issued, sessions.lifetimeLeftMs(session.record)));
            return null;
          },
        }
      : PAYLOAD_TOKENS;
    return {
      requestId,
      get log() {
        return log();
      },
      auth,
      credentials,
      scope,
      sessionTokens,
      outcome: { operation: null, rootFields: null, codes: new Set() },
    };
  };
}

const PAYLOAD_TOKENS: SessionTokenTransport = { hand: (token) => token };

/**
 * The request's side of the auth service; its session is looked up on first use and at most
 * once, so `signin` never reads the store. Exported for the service's tests, which build it as
 * a request does.
 */
export function requestScope(
  sessions: SessionService,
  userInfo: UserInfoCache,
  audit: AuditTrail,
  request: { token: string | undefined; clientAddress: string; requestId: string; log: () => Logger; onEnded?: () => void },
): RequestScope {
  const { token, clientAddress, requestId, log, onEnded } = request;
  let lookup: Promise<ActiveSession | null> | undefined;
  // Made on first use, like the logger: most operations load no user info.
  let loader: DataLoader<string, User> | undefined;
  const forgetSession = (): void => {
    lookup = Promise.resolve(null);
  };
  return {
    session: () =>
      (lookup ??= sessions.find(token, (record, reason) =>
        audit.record({ requestId, clientAddress }, "session.expired", "success", { ...sessionFields(record), reason }),
      )),
    forgetSession,
    sessionEnded: () => {
      forgetSession();
      onEnded?.();
    },
    get userInfo() {
      return (loader ??= userInfo.loader());
    },
    get log() {
      return log();
    },
    clientAddress,
    requestId,
  };
}

/**
 * The session token a request presents: its bearer header, else (in cookie mode) its session
 * cookie. The header wins when both come: a client that sends one on purpose means it, while
 * a browser attaches cookies to whatever it sends.
 */
function presentedToken(authorization: string | undefined, cookieToken: string | undefined): string | undefined {
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
function clientAddress(peer: string | undefined, forwardedFor: string | undefined, trustedProxyHops: number): string {
  // The common case, asked on every request: nothing to split.
  if (trustedProxyHops === 0 || forwardedFor === undefined) return peer ?? "unknown";
  const chain = [
    ...(forwardedFor ?? "")
      .split(",")
      .map((entry) => entry.trim())
      .filter(Boolean),
    peer ?? "unknown",
  ];
  return chain[Math.max(0, chain.length - 1 - trustedProxyHops)]!;
}
