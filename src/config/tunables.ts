/**
 * The gateway's internal tunables: numbers that shape how it behaves under load and failure
 * but that an operator has no reason to change, each with the reason for its value. The ones
 * an operator does need are settings (settings.ts: e.g. BREAKER_FAILURE_THRESHOLD,
 * BREAKER_COOL_DOWN_MS, SPINE_TIMEOUT_MS); a tunable that turns out to need changing in a
 * deployment moves there.
 *
 * Kept beside their code, being part of what it does rather than knobs: the GraphQL engine's
 * document limits and the known-operations cache size (src/graphql/); the log and audit streams'
 * buffering and close timeouts (logging/stream-output.ts, observability/audit.ts); how long an
 * expired session's record is kept for the sweep (EXPIRED_RECORD_GRACE_MS, session.service.ts).
 */

/**
 * Longest budget of one backend call (`SPINE_TIMEOUT_MS`, `IDP_TIMEOUT_MS`). An answer must come
 * within 10 s, whatever the backends do (issue 4), and one request makes at most two backend
 * calls in a row (sign-in then user info; an A002 still in flight, then A003): so 5 s each.
 */
export const MAX_UPSTREAM_TIMEOUT_MS = 5_000;

/**
 * Longest opening a backend connection may take (DNS, TCP, TLS), within the attempt's limit. A
 * TCP handshake on the health network takes milliseconds; 2 s covers one lost SYN (resent after
 * 1 s) and stops an address that swallows packets from holding a user for the whole budget.
 */
export const CONNECT_TIMEOUT_MS = 2_000;

/**
 * Backoff before the retry of an idempotent read, full jitter: uniform in [0, min(cap, base × 2^n)).
 * 50 ms is long enough for a backend's restarted worker or a re-sent SYN, short against a 5 s budget.
 */
export const READ_RETRY_BACKOFF = { baseMs: 50, capMs: 500 };

/**
 * Each backend's retry budget (retry-budget.ts): every call earns a fifth of a retry, so retries
 * add at most a fifth to the load of a backend in trouble; ten saved up cover a burst of
 * failures after a quiet spell without a retry storm.
 */
export const RETRY_BUDGET = { ratio: 0.2, maxTokens: 10 };

/**
 * A retry is sent only if at least this share of an attempt's limit is left after the backoff:
 * less would be an attempt set up to time out.
 */
export const LEAST_RETRY_SHARE = 0.25;

/** Longest a store round trip may take before the request fails with STORE_UNAVAILABLE. */
export const STORE_OPERATION_TIMEOUT_MS = 2_000;

/** `/readyz` answers within this, whatever the backends and the store do. */
export const READINESS_TIMEOUT_MS = 2_000;

/**
 * A backend's or Redis's readiness answer serves every `/readyz` call for this long (issue 14):
 * any number of calls make at most one probe of each per second, and one going down or coming
 * back shows within a second and one probe.
 */
export const READINESS_PROBE_REUSE_MS = 1_000;

/** Requests still running at shutdown get this long before their connections are closed. */
export const SHUTDOWN_GRACE_MS = 10_000;

/** Sessions nobody comes back for are found expired (and audited) within about this long. */
export const EXPIRY_SWEEP_INTERVAL_MS = 15_000;

/** On Redis the live-sessions gauge SCANs the keyspace: at most once per this, whatever the scrape rate. */
export const LIVE_SESSIONS_REDIS_INTERVAL_MS = 30_000;

/**
 * A session's last use is written back at most once per `min(maxMs, idle timeout × idleShare)`:
 * a busy session costs one store write a minute, not one per request, and the idle timeout is
 * still kept to within a tenth.
 */
export const SESSION_TOUCH = { maxMs: 60_000, idleShare: 0.1 };

/** Due sessions handled per sweep call; the rest wait for the next call, so one sweep never holds the store long. */
export const SWEEP_BATCH = 500;

/**
 * A wait for a session's lock asks again after `firstMs`, doubling up to `maxMs`: the lock is
 * held for one backend call at most, so the first asks come soon and later ones do not hammer the store.
 */
export const SESSION_LOCK_RETRY = { firstMs: 5, maxMs: 50 };

/**
 * How often node:http looks for requests past their timeouts (HTTP_*_TIMEOUT_MS). Its default,
 * 30 s, would let a slow client hold its connection up to 30 s past the request timeout; the
 * sweep over the open connections is cheap next to that.
 */
export const TIMEOUT_CHECK_INTERVAL_MS = 250;

/**
 * Texts of the in-memory store decoded lately, each kept with its value. A warm request reads its
 * session and its user info again and again, and parsing them was a tenth of its time; texts
 * are kept as texts (a fraction of the memory of the objects they hold), so this keeps the
 * objects of the last few hundred read only.
 */
export const DECODED_TEXTS_KEPT = 512;

/** How often the in-memory store drops expired entries nobody read again, so they do not stay for the life of the process. */
export const MEMORY_SWEEP_INTERVAL_MS = 60_000;

/**
 * How often the Cluster client reloads the slot map without being told to. A killed primary's
 * replica is promoted after the cluster's node timeout; its slots are served again at most this
 * long after that (see docs/redis.md).
 */
export const CLUSTER_SLOTS_REFRESH_MS = 2_000;

/** Time between Redis reconnection attempts: `firstMs` doubling, then every `maxMs` for as long as it takes. */
export const REDIS_RECONNECT = { firstMs: 100, maxMs: 2_000 };

/** How often Redis's data-loss marker is checked even when no orchestrator asks /readyz. */
export const MARKER_CHECK_INTERVAL_MS = 5_000;
