import type { DestinationStream, Logger } from "pino";
import { createBackends } from "./composition/backends.js";
import type { ResolvedConfig } from "./composition/config.js";
import { startGraphql } from "./composition/graphql.js";
import { serve } from "./composition/lifecycle.js";
import { createObservability } from "./composition/observability.js";
import { gatewayReadiness } from "./composition/readiness.js";
import { createServices, sweepExpiredSessions } from "./composition/services.js";
import { createStore } from "./composition/store.js";
import { EXPIRY_SWEEP_INTERVAL_MS } from "./config/tunables.js";
import { corsPolicy } from "./http/cors.js";
import { requestContextFactory } from "./http/request-context.js";
import { createHttpServer } from "./http/server.js";
import { webSites } from "./http/static.js";
import type { AuditDestination } from "./observability/audit.js";
import type { DemoUsers } from "./simulators/index.js";

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
 * Builds the gateway from its settings and starts listening: the parts are made by the
 * factories in src/composition, each of which says what it builds; this wires them.
 */
export async function startGateway(config: ResolvedConfig, dependencies: GatewayDependencies = {}): Promise<RunningGateway> {
  const now = dependencies.now ?? Date.now;
  const { logDestination, auditDestination } = dependencies;
  // The live-sessions gauge reads the store, which is made after the logger it reports trouble to.
  const observability = createObservability(config, { now, logDestination, auditDestination, liveSessions: () => store.liveSessions() });
  const { log, metrics, audit } = observability;
  const store = createStore(config, observability);
  const backends = createBackends(config, observability, now);
  const services = createServices(config, { store, backends, observability, now });
  const stopSweep = sweepExpiredSessions(services.sessions, audit, log, dependencies.expirySweepIntervalMs ?? EXPIRY_SWEEP_INTERVAL_MS);
  const graphql = await startGraphql(config);

  const server = createHttpServer({
    apollo: graphql.apollo,
    fastPath: graphql.fastPath,
    subgraph: graphql.subgraph,
    log,
    metrics,
    cors: corsPolicy(config.corsOrigins),
    // The example app and the explorer, like the Sandbox, are for trying the gateway out, not for production.
    sites: config.production ? undefined : webSites({ demoUsers: dependencies.demoUsers }),
    limits: config.http,
    context: requestContextFactory({ ...services, audit, cookieMode: config.sessionCookie, trustedProxyHops: config.trustedProxyHops }),
    readiness: gatewayReadiness(store.store, backends, audit),
  });
  // Log and audit lines last, so the lines of everything before are in them.
  const { url, close } = await serve(server, config, [stopSweep, graphql.stop, () => store.store.close(), observability.close]);
  return { url, log, close };
}
