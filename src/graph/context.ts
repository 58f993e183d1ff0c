import type { Logger } from "pino";
import type { SessionCredentialsService } from "../auth/session-credentials.js";
import type { AuthService, RequestScope } from "../auth/auth.service.js";
import type { ActiveSession } from "../sessions/session.js";

/** Where a new session token goes: the answer's payload, or (cookie mode) the session cookie. */
export interface SessionTokenTransport {
  /** Hands `token` to the client; what the payload's `token` shows (null when the cookie carries it). */
  hand(token: string, session: ActiveSession): string | null;
}

/** Everything a resolver may use, built once per request (src/http/request-context.ts). */
export interface GatewayContext {
  requestId: string;
  log: Logger;
  auth: AuthService;
  scope: RequestScope;
  sessionTokens: SessionTokenTransport;
  /** Reached only through the subgraph schema, which the router alone may query (src/graph/federation). */
  credentials: SessionCredentialsService;
  /**
   * Filled in as the request runs, for its log line and metrics: the operation's name as the
   * client gave it, its root fields (a bounded label: `me+session`), and the error codes.
   */
  outcome: { operation: string | null; rootFields: string | null; codes: Set<string> };
}
