import type { IdpClient } from "../backends/idp/idp.client.js";
import type { SpineClient } from "../backends/spine/spine.client.js";
import { READINESS_PROBE_REUSE_MS, READINESS_TIMEOUT_MS } from "../config/tunables.js";
import { sharedProbe } from "../http/readiness.js";
import type { AuditTrail } from "../observability/audit.js";
import type { Store } from "../store/store.js";
import type { Backends } from "./backends.js";

/** What `/readyz` reports: the store, each backend and the audit sink, up or down. */
export function gatewayReadiness(store: Store, backends: Backends, audit: AuditTrail): () => Promise<Record<string, "up" | "down">> {
  const [spineReady, idpReady] = [backendReadiness(backends.spine), backendReadiness(backends.idp)];
  return async () => {
    const [storeUp, spineUp, idpUp] = await Promise.all([
      store.ready().then(
        () => true,
        () => false,
      ),
      spineReady(),
      idpReady(),
    ]);
    return { store: storeUp ? "up" : "down", spine: spineUp ? "up" : "down", idp: idpUp ? "up" : "down", audit: audit.healthy ? "up" : "down" };
  };
}

/**
 * Whether a backend is ready for its users' calls: its circuit read live (an open one is "down"
 * at once, at no cost to the backend), the network probe shared (see READINESS_PROBE_REUSE_MS).
 */
function backendReadiness(client: SpineClient | IdpClient): () => Promise<boolean> {
  const answers = sharedProbe(() => client.answers(READINESS_TIMEOUT_MS), READINESS_PROBE_REUSE_MS);
  return () => (client.circuitOpen ? Promise.resolve(false) : answers());
}
