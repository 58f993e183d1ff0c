import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import type { DestinationStream, Logger } from "pino";
import { randomBytes } from "node:crypto";
import { AuthService } from "./auth/auth.service.js";
import { SessionCredentialsService } from "./auth/session-credentials.js";
import { LoginThrottle } from "./auth/login-throttle.js";
import { UserInfoCache } from "./auth/user-info.cache.js";
import { IdpClient } from "./backends/idp/idp.client.js";
import { SpineClient } from "./backends/spine/spine.client.js";
import type { UpstreamCallEvent } from "./backends/upstream.js";
import type { CircuitChange } from "./backends/resilience/circuit-breaker.js";
import type { GatewayConfig } from "./config/config.js";
import {
  EXPIRY_SWEEP_INTERVAL_MS,
  LIVE_SESSIONS_REDIS_INTERVAL_MS,
  READINESS_PROBE_REUSE_MS,
  READINESS_TIMEOUT_MS,
  SHUTDOWN_GRACE_MS,
  STORE_OPERATION_TIMEOUT_MS,
} from "./config/tunables.js";
import type { User } from "./domain/user.js";
import { clientAddress, presentedToken, requestScope } from "./graph/context.js";
import { subgraphSchema } from "./graph/federation/subgraph.js";
import { gatewaySchema } from "./graph/schema.js";
import { createApollo } from "./graphql/apollo.js";
import { FastPath } from "./graphql/fast-path.js";
import { KnownOperations } from "./graphql/known-operations.js";
import { clearedSessionCookie, sessionCookie, sessionCookieToken } from "./http/cookies.js";
import { corsPolicy } from "./http/cors.js";
import { sharedProbe } from "./http/readiness.js";
import { createHttpServer } from "./http/server.js";
import { webSites } from "./http/static.js";
import { bufferedStdout, createLogger } from "./logging/logger.js";
import { OUTPUT_CLOSE_TIMEOUT_MS } from "./logging/stream-output.js";
import { AuditTrail, NO_REQUEST, openAuditDestination, sessionFields, type AuditDestination } from "./observability/audit.js";
import { GatewayMetrics } from "./observability/metrics.js";
import type { SessionRecord } from "./sessions/session.js";
import { SessionService, type SessionCoordination } from "./sessions/session.service.js";
import { Sealer, sealedStore, sealingKey } from "./store/sealed-store.js";
import type { RedisSettings } from "./store/redis/connection.js";
import { openStore, type KeyValueStore, type Store } from "./store/store.js";
import type { DemoUsers } from "./simulators/index.js";

/** Settings with both backends' URLs known (the simulators, if any, already started). */
type ResolvedConfig = GatewayConfig & { spine: { url: string }; idp: { url: string } };

interface GatewayDependencies {
  /** The clock; tests move it rather than sleep. */
  now?: () => number;
  /** Where log lines go; standard output when unset. */
  logDestination?: DestinationStream;
  /** Where audit lines go; the `AUDIT_LOG` setting's sink when unset. */
  auditDestination?: AuditDestination;
  /**
   * How often sessions past their limits are looked for; 0 turns the sweep off (tests that move
   * their clock ahead on a shared Redis would otherwise end other tests' sessions).
   */
  expirySweepIntervalMs?: number;
  /** The simulators' demo credentials, for the example app's quick-fill buttons; set only when the gateway runs on them. */
  demoUsers?: DemoUsers;
}

export interface RunningGateway {
  /** e.g. `http://127.0.0.1:4000` */
  url: string;
  log: Logger;
  /** Stops taking requests, lets those in progress finish (up to a grace period), closes the store. */
  close(): Promise<void>;
}

/**
 * Longest a shutdown takes from its start: the grace period, then closing the store and
 * writing out the log and audit lines still pending (at most OUTPUT_CLOSE_TIMEOUT_MS, 2 s),
 * and a margin. The process exits by then whatever its streams' readers do (main.ts).
 */
export const SHUTDOWN_LIMIT_MS = SHUTDOWN_GRACE_MS + 3_000;

/** Builds the gateway from its settings and starts listening. */
export async function startGateway(config: ResolvedConfig, dependencies: GatewayDependencies = {}): Promise<RunningGateway> {
  const now = dependencies.now ?? Date.now;
  const metrics = new GatewayMetrics({ liveSessions: () => liveSessions() });
  const stdout = dependencies.logDestination === undefined ? bufferedStdout() : undefined;
  stdout?.on("drop", (lines: number) => metrics.logLinesDropped(lines));
  const log = createLogger({ level: config.logLevel, destination: dependencies.logDestination ?? stdout });
  const onCall = (event: UpstreamCallEvent): void => {
    metrics.upstreamCall(event);
    log.debug({ upstream: event }, "upstream call");
  };
  // An opening circuit means users of that backend are being refused at once: worth a warning.
  const onCircuitChange = (change: CircuitChange & { backend: string }): void => {
    metrics.circuit(change.backend, change.to);
    log[change.to === "open" ? "warn" : "info"]({ circuit: change }, "backend circuit changed");
  };
  const audit = new AuditTrail({
    destination: dependencies.auditDestination ?? openAuditDestination(config.auditLog),
    log,
    now,
    spineAsid: config.spine.asid,
    onEvent: (event, result) => {
      metrics.auditEvent(event.event, result);
      if (event.event === "refused.rate_limited") metrics.rateLimited(event.reason ?? "unknown");
    },
  });

  const store = openStore({
    redis: config.redis,
    operationTimeoutMs: STORE_OPERATION_TIMEOUT_MS,
    onError: (error) => log.warn({ error: (error as Error)?.message }, "session store connection trouble"),
    onDataLost: () => {
      metrics.storeDataLost();
      log.error("Redis lost its data (restarted without persistence, or flushed): every session and sign-in lockout is gone; see docs/redis.md");
    },
  });
  // What both backends' Upstreams share: observers, the clock, the answer cap and the breaker's settings.
  const tuning = {
    onCall,
    onCircuitChange,
    now,
    maxResponseBytes: config.backendMaxResponseBytes,
    circuitFailureThreshold: config.breaker.failureThreshold,
    circuitCoolDownMs: config.breaker.coolDownMs,
  };
  const spine = new SpineClient({ baseUrl: config.spine.url, asid: config.spine.asid, timeoutMs: config.spine.timeoutMs, ...tuning });
  const idp = new IdpClient({
    baseUrl: config.idp.url,
    clientId: config.idp.clientId,
    apiToken: config.idp.apiToken,
    timeoutMs: config.idp.timeoutMs,
    timeZone: config.idp.timeZone,
    ...tuning,
  });
  const stores = sessionStores(store, { redis: config.redis, ...config.sessions }, (namespace, key) =>
    log.warn({ namespace, key }, "a stored value could not be opened (key rotated away, or altered); treated as absent"),
  );
  const sessions = new SessionService(
    stores.sessions,
    store.expiryIndex("session"),
    sessionCoordination(store),
    // The lock outlives the Spine call made under it (A002, within SPINE_TIMEOUT_MS) and a store write around it.
    { ...config.sessions, now, lockTtlMs: config.spine.timeoutMs + STORE_OPERATION_TIMEOUT_MS },
  );
  const userInfo = new UserInfoCache(idp, stores.userInfo, config.userInfoTtlMs, (result) => metrics.userInfoCache(result));
  const throttle = new LoginThrottle(store.counters("login"), store.namespace<number>("login-lock"), { ...config.login, now });
  const auth = new AuthService(spine, idp, sessions, userInfo, throttle, audit);
  // In memory a count of the map is cheap, so it is fresh at every scrape; on Redis it is a SCAN, so it is reused for a while.
  let counted: { at: number; sessions: Promise<number> } | undefined;
  const liveSessions = (): Promise<number> => {
    const maxAgeMs = config.redis === undefined ? 0 : LIVE_SESSIONS_REDIS_INTERVAL_MS;
    if (counted === undefined || performance.now() - counted.at >= maxAgeMs) {
      counted = { at: performance.now(), sessions: store.count("session").catch(() => Number.NaN) };
    }
    return counted.sessions;
  };

  const sweepIntervalMs = dependencies.expirySweepIntervalMs ?? EXPIRY_SWEEP_INTERVAL_MS;
  const sweeper = sweepIntervalMs > 0 ? sweepExpiredSessions(sessions, audit, log, sweepIntervalMs) : undefined;


  const schema = await gatewaySchema();
  const known = new KnownOperations();
  const apollo = createApollo({ schema, production: config.production, known });
  await apollo.start();
  const credentials = new SessionCredentialsService({ spineAsid: config.spine.asid, idpClientId: config.idp.clientId });
  // The subgraph is served only when a router secret is set: without one, nobody could be told apart from the router.
  const subgraph =
    config.federationRouterSecret === undefined
      ? undefined
      : { apollo: createApollo({ schema: await subgraphSchema(), production: config.production }), routerSecret: config.federationRouterSecret };
  await subgraph?.apollo.start();

  const [spineReady, idpReady] = [backendReadiness(spine), backendReadiness(idp)];
  const server = createHttpServer({
    apollo,
    log,
    metrics,
    subgraph,
    cors: corsPolicy(config.corsOrigins),
    // The example app and the explorer, like the Sandbox, are for trying the gateway out, not for production.
    sites: config.production ? undefined : webSites({ demoUsers: dependencies.demoUsers }),
    fastPath: new FastPath(known, schema),
    limits: config.http,
    context: ({ requestId, authorization, peer, forwardedFor, viaRouter, cookie, setCookie, log: requestLog }) => ({
      requestId,
      get log() {
        return requestLog();
      },
      auth,
      credentials,
      scope: requestScope(sessions, userInfo, audit, {
        // Cookies count only in cookie mode: otherwise no browser-attached credential exists to forge requests with.
        token: presentedToken(authorization, config.sessionCookie ? sessionCookieToken(cookie) : undefined),
        // Through a router, the router is one more trusted hop: it appends the client's address
        // (docs/federation.md), and only a caller with the router's secret gets this far.
        clientAddress: clientAddress(peer, forwardedFor, config.trustedProxyHops + (viaRouter ? 1 : 0)),
        requestId,
        log: requestLog,
        sessionCookie: config.sessionCookie
          ? { set: (token, maxAgeMs) => setCookie(sessionCookie(token, maxAgeMs)), clear: () => setCookie(clearedSessionCookie()) }
          : undefined,
      }),
      outcome: { operation: null, rootFields: null, codes: new Set() },
    }),
    readiness: async () => {
      const [storeUp, spineUp, idpUp] = await Promise.all([
        store.ready().then(
          () => true,
          () => false,
        ),
        spineReady(),
        idpReady(),
      ]);
      return { store: storeUp ? "up" : "down", spine: spineUp ? "up" : "down", idp: idpUp ? "up" : "down", audit: audit.healthy ? "up" : "down" };
    },
  });

  try {
    await listen(server, config.port, config.host);
  } catch (error) {
    clearInterval(sweeper);
    await apollo.stop();
    await subgraph?.apollo.stop();
    await store.close();
    throw error;
  }
  const { port } = server.address() as AddressInfo;
  const url = `http://${config.host.includes(":") ? `[${config.host}]` : config.host}:${port}`;

  let closing: Promise<void> | undefined;
  return {
    url,
    log,
    close: () =>
      (closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const grace = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
        await closed;
        clearTimeout(grace);
        clearInterval(sweeper);
        await apollo.stop();
        await subgraph?.apollo.stop();
        await store.close();
        // Last, so the lines of everything above are in it; both bounded, whatever the readers do.
        await Promise.all([audit.close(), stdout?.close(OUTPUT_CLOSE_TIMEOUT_MS)]);
      })()),
  };
}

/**
 * Every so often, ends the sessions past their limits and records each expiry in the audit
 * trail, so that a session nobody came back for is not lost from it. One sweep at a time; a
 * store that fails is logged and tried again at the next tick.
 */
function sweepExpiredSessions(sessions: SessionService, audit: AuditTrail, log: Logger, intervalMs: number): NodeJS.Timeout {
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
  return timer;
}

/**
 * The namespaces that hold sessions and cached user info. On Redis they are sealed (see Sealer):
 * what is stored there leaves the process (dumps, backups, replicas). In this process's memory
 * they are not: nothing there leaves it, and whoever can read its memory can read the sealing key
 * beside the values, so sealing would protect nothing while costing an AES-GCM open on every
 * request (measured by `npm run bench`). keyv still stores them serialized, so no caller shares
 * an object with the store. Exported for the benchmark's memory probe, which must measure
 * sessions stored exactly as the gateway stores them.
 */
export function sessionStores(
  store: Store,
  settings: { redis: RedisSettings | undefined; encryptionKey: Buffer | undefined; previousEncryptionKeys: Buffer[] },
  onUnreadable: (namespace: string, key: string) => void,
): { sessions: KeyValueStore<SessionRecord>; userInfo: KeyValueStore<User> } {
  if (settings.redis === undefined) return { sessions: store.namespace<SessionRecord>("session"), userInfo: store.namespace<User>("userinfo") };
  const sealer = new Sealer(sealingKey(settings.encryptionKey ?? randomBytes(32)), settings.previousEncryptionKeys.map(sealingKey));
  const sealed = <T>(name: string): KeyValueStore<T> => sealedStore<T>(store.namespace<string>(name), sealer, (key) => onUnreadable(name, key));
  return { sessions: sealed<SessionRecord>("session"), userInfo: sealed<User>("userinfo") };
}

/**
 * Whether a backend is ready for its users' calls: its circuit read live (an open one is "down"
 * at once, at no cost to the backend), the network probe shared (see READINESS_PROBE_REUSE_MS).
 */
function backendReadiness(client: SpineClient | IdpClient): () => Promise<boolean> {
  const answers = sharedProbe(() => client.answers(READINESS_TIMEOUT_MS), READINESS_PROBE_REUSE_MS);
  return () => (client.circuitOpen ? Promise.resolve(false) : answers());
}

/** Where sessions are coordinated across instances (see SessionCoordination); exported for tests and the benchmark, which build sessions as the gateway does. */
export function sessionCoordination(store: Store): SessionCoordination {
  return { current: store.registers("session-current"), locks: store.registers("session-lock"), users: store.cappedIndex("user-sessions") };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}
