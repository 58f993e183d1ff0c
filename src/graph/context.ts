import type { Logger } from "pino";
import type { AuthService, RequestScope } from "../auth/auth.service.js";
import type { UserInfoCache } from "../auth/user-info.cache.js";
import type { ActiveSession } from "../sessions/session.js";
import type { SessionService } from "../sessions/session.service.js";

/** Everything a resolver may use, built once per request. */
export interface GatewayContext {
  requestId: string;
  log: Logger;
  auth: AuthService;
  scope: RequestScope;
  /** Filled in as the request runs, for its log line. */
  outcome: { operation: string | null; codes: Set<string> };
}

/** The request's session is looked up on first use and at most once, so `signin` never reads the store. */
export function requestScope(sessions: SessionService, userInfo: UserInfoCache, token: string | undefined, log: Logger): RequestScope {
  let lookup: Promise<ActiveSession | null> | undefined;
  return {
    session: () => (lookup ??= sessions.find(token)),
    forgetSession: () => {
      lookup = Promise.resolve(null);
    },
    userInfo: userInfo.loader(),
    log,
  };
}

/** The token of `Authorization: Bearer <token>`, if the header is one. */
export function bearerToken(authorization: string | undefined): string | undefined {
  const match = authorization === undefined ? null : /^Bearer[ ]+([^ ]+)[ ]*$/i.exec(authorization);
  return match?.[1];
}
