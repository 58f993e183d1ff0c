import type { Logger } from "pino";
import { AuthService } from "../auth/auth.service.js";
import { LoginThrottle } from "../auth/login-throttle.js";
import { SessionCredentialsService } from "../auth/session-credentials.js";
import { UserInfoCache } from "../auth/user-info.cache.js";
import { STORE_OPERATION_TIMEOUT_MS } from "../config/tunables.js";
import { NO_REQUEST, sessionFields, type AuditTrail } from "../observability/audit.js";
import { SessionService } from "../sessions/session.service.js";
import type { Backends } from "./backends.js";
import type { ResolvedConfig } from "./config.js";
import type { Observability } from "./observability.js";
import type { GatewayStore } from "./store.js";

interface Services {
  sessions: SessionService;
  userInfo: UserInfoCache;
  auth: AuthService;
  credentials: SessionCredentialsService;
}

export function createServices(
  config: ResolvedConfig,
  parts: { store: GatewayStore; backends: Backends; observability: Observability; now: () => number },
): Services {
  const { store, backends, observability, now } = parts;
  const { metrics, audit } = observability;
  const sessions = new SessionService({
    store: store.sessions,
    expiries: store.store.expiryIndex("session"),
    coordination: store.coordination,
    ...config.sessions,
    now,
    // The lock outlives the Spine call made under it (A002, within SPINE_TIMEOUT_MS) and a store write around it.
    lockTtlMs: config.spine.timeoutMs + STORE_OPERATION_TIMEOUT_MS,
  });
  const userInfo = new UserInfoCache({
    idp: backends.idp,
    cache: store.userInfo,
    ttlMs: config.userInfoTtlMs,
    onRead: (result) => metrics.userInfoCache(result),
  });
  const throttle = new LoginThrottle({
    counters: store.store.counters("login"),
    locks: store.store.namespace<number>("login-lock"),
    ...config.login,
    now,
  });
  return {
    sessions,
    userInfo,
    auth: new AuthService({ spine: backends.spine, idp: backends.idp, sessions, userInfo, throttle, audit }),
    credentials: new SessionCredentialsService({ spineAsid: config.spine.asid, idpClientId: config.idp.clientId }),
  };
}

/**
 * Every so often, ends the sessions past their limits and records each expiry in the audit
 * trail, so that a session nobody came back for is not lost from it. One sweep at a time; a
 * store that fails is logged and tried again at the next tick. Returns what stops it.
 */
export function sweepExpiredSessions(sessions: SessionService, audit: AuditTrail, log: Logger, intervalMs: number): () => void {
  if (intervalMs <= 0) return () => {};
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    sessions
      .expireDue((record, reason) => audit.record(NO_REQUEST, "session.expired", "success", { ...sessionFields(record), reason }))
      .catch((error: unknown) => log.warn({ error: (error as Error)?.message }, "expired sessions could not be swept; trying again later"))
      .finally(() => {
        running = false;
      });
  }, intervalMs);
  // The sweep must not keep a process alive that has otherwise finished.
  timer.unref();
  return () => clearInterval(timer);
}
