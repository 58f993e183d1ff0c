import type { DestinationStream, Logger } from "pino";
import type { CircuitChange } from "../backends/resilience/circuit-breaker.js";
import type { UpstreamCallEvent } from "../backends/upstream.js";
import type { GatewayConfig } from "../config/config.js";
import { bufferedStdout, createLogger } from "../logging/logger.js";
import { OUTPUT_CLOSE_TIMEOUT_MS } from "../logging/stream-output.js";
import { AuditTrail, openAuditDestination, type AuditDestination } from "../observability/audit.js";
import { GatewayMetrics } from "../observability/metrics.js";

/** The gateway's logger, metrics and audit trail, and the observers the backends report to. */
export interface Observability {
  log: Logger;
  metrics: GatewayMetrics;
  audit: AuditTrail;
  /** Every backend call: counted, and logged at debug. */
  onCall(event: UpstreamCallEvent): void;
  /** A backend's circuit changing state: counted, and logged. */
  onCircuitChange(change: CircuitChange & { backend: string }): void;
  /** Writes out the log and audit lines still pending; bounded whatever the streams' readers do. */
  close: () => Promise<void>;
}

interface ObservabilityOptions {
  now: () => number;
  /** Where log lines go; standard output when unset. */
  logDestination?: DestinationStream;
  /** Where audit lines go; the `AUDIT_LOG` setting's sink when unset. */
  auditDestination?: AuditDestination;
  /** The live-sessions gauge, read at each scrape. */
  liveSessions: () => Promise<number>;
}

export function createObservability(config: GatewayConfig, options: ObservabilityOptions): Observability {
  const metrics = new GatewayMetrics({ liveSessions: options.liveSessions });
  const stdout = options.logDestination === undefined ? bufferedStdout() : undefined;
  stdout?.on("drop", (lines: number) => metrics.logLinesDropped(lines));
  const log = createLogger({ level: config.logLevel, destination: options.logDestination ?? stdout });
  const audit = new AuditTrail({
    destination: options.auditDestination ?? openAuditDestination(config.auditLog),
    log,
    now: options.now,
    spineAsid: config.spine.asid,
    onEvent: (event, result) => {
      metrics.auditEvent(event.event, result);
      if (event.event === "refused.rate_limited") metrics.rateLimited(event.reason ?? "unknown");
    },
  });
  return {
    log,
    metrics,
    audit,
    onCall: (event) => {
      metrics.upstreamCall(event);
      log.debug({ upstream: event }, "upstream call");
    },
    // An opening circuit means users of that backend are being refused at once: worth a warning.
    onCircuitChange: (change) => {
      metrics.circuit(change.backend, change.to);
      log[change.to === "open" ? "warn" : "info"]({ circuit: change }, "backend circuit changed");
    },
    close: async () => {
      await Promise.all([audit.close(), stdout?.close(OUTPUT_CLOSE_TIMEOUT_MS)]);
    },
  };
}
