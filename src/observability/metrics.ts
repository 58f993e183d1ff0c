import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { UpstreamCallEvent } from "../backends/upstream.js";
import type { CircuitState } from "../backends/resilience/circuit-breaker.js";

/** Latency buckets in seconds: a cached read takes milliseconds, a backend call at most its 5 s budget, a request at most 10 s. */
const LATENCY_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The circuit's state as a number, so a graph can show it and an alert can compare it. */
const CIRCUIT_STATE_VALUE: Record<CircuitState, number> = { closed: 0, "half-open": 1, open: 2 };

interface GatewayMetricsOptions {
  /** Sessions held now (approximate: see README, "Operating it"); undefined leaves the gauge out. */
  liveSessions?: () => Promise<number>;
}

/**
 * The gateway's Prometheus metrics, in a registry of this instance alone: tests run several
 * gateways in one process, and the global default registry would mix their counts. Every label
 * takes values from a bounded set (root fields of the schema, the contract's error codes,
 * backends, endpoint templates): nothing a client sends becomes a label value as it is.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  readonly #requests = new Counter({
    name: "gateway_requests_total",
    help: "GraphQL requests answered, by operation (root fields, e.g. me+session) and outcome (OK or the error codes)",
    labelNames: ["operation", "outcome"] as const,
    registers: [this.registry],
  });
  readonly #requestSeconds = new Histogram({
    name: "gateway_request_duration_seconds",
    help: "Time to answer a GraphQL request, by operation and outcome",
    labelNames: ["operation", "outcome"] as const,
    buckets: LATENCY_BUCKETS_SECONDS,
    registers: [this.registry],
  });
  readonly #upstreamCalls = new Counter({
    name: "gateway_upstream_calls_total",
    help: "Backend call attempts (a retry counts again), by backend, endpoint template and outcome (HTTP status, or the failure class)",
    labelNames: ["backend", "endpoint", "outcome"] as const,
    registers: [this.registry],
  });
  readonly #upstreamSeconds = new Histogram({
    name: "gateway_upstream_call_duration_seconds",
    help: "Time of one backend call attempt, by backend, endpoint template and outcome",
    labelNames: ["backend", "endpoint", "outcome"] as const,
    buckets: LATENCY_BUCKETS_SECONDS,
    registers: [this.registry],
  });
  readonly #userInfoCache = new Counter({
    name: "gateway_user_info_cache_total",
    help: "IdP user-info reads: hit (answered from the cache), miss (not cached: the IdP was asked), bypass (a sign-in reads fresh, or the TTL is 0)",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });
  readonly #rateLimited = new Counter({
    name: "gateway_rate_limit_refusals_total",
    help: "Sign-in attempts refused with RATE_LIMITED before any backend was asked, by flow (signin, createSession)",
    labelNames: ["flow"] as const,
    registers: [this.registry],
  });
  readonly #circuit = new Gauge({
    name: "gateway_circuit_state",
    help: "State of each backend's circuit breaker in this instance: 0 closed, 1 half-open (a probe is allowed), 2 open (calls refused at once)",
    labelNames: ["backend"] as const,
    registers: [this.registry],
  });
  readonly #auditEvents = new Counter({
    name: "gateway_audit_events_total",
    help: "Audit events by event and whether the sink took them (written) or they were lost because it had failed (dropped)",
    labelNames: ["event", "result"] as const,
    registers: [this.registry],
  });

  readonly #storeDataLost = new Counter({
    name: "gateway_store_data_lost_total",
    help: "Times this instance found Redis had lost its data (restarted without persistence, or flushed): sessions and sign-in lockouts gone",
    registers: [this.registry],
  });
  readonly #logLinesDropped = new Counter({
    name: "gateway_log_lines_dropped_total",
    help: "Log lines dropped because standard output was not being read and too much was pending",
    registers: [this.registry],
  });

  constructor(options: GatewayMetricsOptions = {}) {
    // Node's process metrics keep their usual names (process_*, nodejs_*): dashboards and
    // alerts written for any Node service expect them so.
    collectDefaultMetrics({ register: this.registry });
    for (const backend of ["SPINE", "IDP"]) this.#circuit.set({ backend }, 0);
    const { liveSessions } = options;
    if (liveSessions !== undefined) {
      new Gauge({
        name: "gateway_sessions_live",
        help: "Gateway sessions held in the store (approximate: expired sessions not yet swept count until they are)",
        registers: [this.registry],
        async collect() {
          this.set(await liveSessions());
        },
      });
    }
  }

  /** One answered GraphQL request. */
  request(operation: string, outcome: string, seconds: number): void {
    this.#requests.inc({ operation, outcome });
    this.#requestSeconds.observe({ operation, outcome }, seconds);
  }

  /** Redis was found to have lost its data (see RedisStore's marker). */
  storeDataLost(): void {
    this.#storeDataLost.inc();
  }

  /** Application log lines dropped because standard output was not taking them. */
  logLinesDropped(lines: number): void {
    this.#logLinesDropped.inc(lines);
  }

  /** One backend call attempt, as the upstream client reports it. */
  upstreamCall(event: UpstreamCallEvent): void {
    const labels = { backend: event.backend, endpoint: event.endpoint, outcome: event.failure ?? String(event.status) };
    this.#upstreamCalls.inc(labels);
    this.#upstreamSeconds.observe(labels, event.durationMs / 1000);
  }

  userInfoCache(result: "hit" | "miss" | "bypass"): void {
    this.#userInfoCache.inc({ result });
  }

  rateLimited(flow: string): void {
    this.#rateLimited.inc({ flow });
  }

  circuit(backend: string, state: CircuitState): void {
    this.#circuit.set({ backend }, CIRCUIT_STATE_VALUE[state]);
  }

  auditEvent(event: string, result: "written" | "dropped"): void {
    this.#auditEvents.inc({ event, result });
  }

  /** The Prometheus text exposition of every metric, with its content type. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
