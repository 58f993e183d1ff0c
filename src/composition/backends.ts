import { IdpClient } from "../backends/idp/idp.client.js";
import { SpineClient } from "../backends/spine/spine.client.js";
import type { Observability } from "./observability.js";
import type { ResolvedConfig } from "./config.js";

/** One client per backend, each with its own circuit. */
export interface Backends {
  spine: SpineClient;
  idp: IdpClient;
}

export function createBackends(
  config: ResolvedConfig,
  observability: Pick<Observability, "onCall" | "onCircuitChange">,
  now: () => number,
): Backends {
  // What both backends' clients share: the observers, the clock, the answer cap and the breaker's settings.
  const shared = {
    onCall: observability.onCall,
    onCircuitChange: observability.onCircuitChange,
    now,
    maxResponseBytes: config.backendMaxResponseBytes,
    circuitFailureThreshold: config.breaker.failureThreshold,
    circuitCoolDownMs: config.breaker.coolDownMs,
  };
  return {
    spine: new SpineClient({ baseUrl: config.spine.url, asid: config.spine.asid, timeoutMs: config.spine.timeoutMs, ...shared }),
    idp: new IdpClient({
      baseUrl: config.idp.url,
      clientId: config.idp.clientId,
      apiToken: config.idp.apiToken,
      timeoutMs: config.idp.timeoutMs,
      timeZone: config.idp.timeZone,
      ...shared,
    }),
  };
}
