/**
 * Settings of the gateway: read from the environment once at start-up, through the declarations
 * of settings.ts (parsers, defaults, docs), checked against each other here, and turned into
 * typed options. Internal tunables that are not settings are in tunables.ts.
 */
import { Expected, SETTINGS, type SettingName, type SettingValues } from "./settings.js";

/** Where and how the gateway reaches Spine (shared/contracts/spine.md). */
export interface SpineOptions {
  /** Base URL of the e-RS API; unset means "start the built-in simulator". */
  url: string | undefined;
  /** `XAPI_ASID` sent on every call. */
  asid: string;
  /** Upper bound for one call, connect to last byte, in milliseconds. */
  timeoutMs: number;
}

/** Where and how the gateway reaches the IdP (shared/contracts/idp.md). */
export interface IdpOptions {
  /** Base URL of the IdP; unset means "start the built-in simulator". */
  url: string | undefined;
  /** The organisation's `client_id`. */
  clientId: string;
  /** The organisation's API token (`X-Auth-Token`): a secret, sent to the IdP only. */
  apiToken: string;
  /** Upper bound for one call, connect to last byte, in milliseconds. */
  timeoutMs: number;
  /** IANA time zone of the IdP's zone-less timestamps (`last_login`). */
  timeZone: string;
}

export interface SessionOptions {
  /** A session unused for this long ends (server-side), in milliseconds. */
  idleTimeoutMs: number;
  /** A session ends this long after it was opened, however busy, in milliseconds. */
  absoluteTimeoutMs: number;
  /**
   * AES-256 key sealing stored sessions and cached user info; unset means a key made for this
   * process alone (demo mode: sessions do not survive a restart, nor are shared).
   */
  encryptionKey: Buffer | undefined;
  /** Keys that still open values sealed before a rotation. */
  previousEncryptionKeys: Buffer[];
  /** Live sessions one user may hold at once; opening one more ends their oldest. */
  maxPerUser: number;
}

/** Limits on failed sign-ins, createSession and signin (OWASP Authentication and Credential Stuffing cheat sheets). */
export interface LoginLimitOptions {
  /** Failures of one account within `accountWindowMs` that lock it for `accountLockMs`. */
  maxFailuresPerAccount: number;
  accountWindowMs: number;
  accountLockMs: number;
  /**
   * Consecutive failures of one account, across windows, after which it stays locked for
   * `consecutiveMemoryMs` (NIST SP 800-63B: no more than 100 consecutive failed attempts).
   */
  maxConsecutiveFailures: number;
  consecutiveMemoryMs: number;
  /** Failures from one client address within `addressWindowMs` after which it is refused. */
  maxFailuresPerAddress: number;
  addressWindowMs: number;
}

/** Limits of the gateway's own HTTP server (issue 14): what one client may hold, and for how long. */
export interface HttpLimitOptions {
  /** Longest a client may take to send one whole request, headers and body, in milliseconds; then 408 and the connection closes. */
  requestTimeoutMs: number;
  /** Longest a client may take to send a request's headers, in milliseconds (at most `requestTimeoutMs`). */
  headersTimeoutMs: number;
  /**
   * How long an idle keep-alive connection is kept, in milliseconds. Longer than the load
   * balancer's own idle timeout, so that the balancer, not the gateway, closes idle connections:
   * otherwise a request it sends as the gateway closes is lost (a 502 for the user).
   */
  keepAliveTimeoutMs: number;
  /** Open connections at most; the ones past it are closed at once. */
  maxConnections: number;
}

/** When a backend's circuit breaker opens, and for how long (src/backends/resilience/circuit-breaker.ts). */
export interface BreakerOptions {
  /** Consecutive failed attempts that open the circuit. */
  failureThreshold: number;
  /** How long an open circuit refuses calls before it lets one probe through, in milliseconds. */
  coolDownMs: number;
}

export interface GatewayConfig {
  /** HTTP port; 0 picks a free one (tests). */
  port: number;
  /** Bind address. */
  host: string;
  /** `NODE_ENV=production`: no introspection, no Sandbox landing page. */
  production: boolean;
  spine: SpineOptions;
  idp: IdpOptions;
  /** Shared store for sessions and caches; unset means in-process memory. */
  redisUrl: string | undefined;
  sessions: SessionOptions;
  login: LoginLimitOptions;
  /** Proxies in front of the gateway that append to X-Forwarded-For; 0 trusts none. */
  trustedProxyHops: number;
  /** How long IdP user info is reused before it is asked for again, in milliseconds. */
  userInfoTtlMs: number;
  /** pino level: fatal, error, warn, info, debug, trace or silent. */
  logLevel: string;
  /** Where audit events go, as JSON lines: `stderr`, `stdout` (mixed with the log: avoid) or a file path, appended to. */
  auditLog: string;
  /**
   * The secret a Federation router presents (`Router-Secret` header) on every request to
   * `/subgraph`; unset means the gateway is not served as a subgraph at all. A secret: never logged.
   */
  federationRouterSecret: string | undefined;
  /**
   * `SESSION_COOKIE=on`: sign-ins put the session token in an HttpOnly `__Host-` cookie instead of
   * the payload, and requests without a bearer header authenticate by it (browser apps, BFF style).
   */
  sessionCookie: boolean;
  /** Exact origins (`https://app.example.org`) whose pages may call `/graphql` cross-origin, with credentials. */
  corsOrigins: string[];
  /** Largest answer body taken from a backend, in bytes after decompression; larger is UPSTREAM_BAD_RESPONSE. */
  backendMaxResponseBytes: number;
  /** Each backend's circuit breaker. */
  breaker: BreakerOptions;
  http: HttpLimitOptions;
}

/** Demo credentials of the built-in simulators; used only when the matching URL is unset. */
export interface SimulatorDefaults {
  asid: string;
  clientId: string;
  apiToken: string;
}

/** A setting is present but unusable. The message names the setting and what was expected. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";

  constructor(
    readonly setting: string,
    expected: string,
  ) {
    super(`${setting}: ${expected}`);
  }
}

type Env = Record<string, string | undefined>;

/** Reads every declared setting; throws ConfigError naming the first bad one. Blank counts as unset. */
function readSettings(env: Env): SettingValues {
  const values: Partial<Record<SettingName, unknown>> = {};
  for (const name of Object.keys(SETTINGS) as SettingName[]) {
    const raw = env[name]?.trim();
    try {
      values[name] = SETTINGS[name].parse(raw === "" ? undefined : raw);
    } catch (error) {
      if (error instanceof Expected) throw new ConfigError(name, error.message);
      throw error;
    }
  }
  return values as SettingValues;
}

/** Reads and validates every setting; throws ConfigError on the first bad one. */
export function loadConfig(env: Env, simulators: SimulatorDefaults): GatewayConfig {
  const s = readSettings(env);

  // Rules between settings.
  if (s.IDP_URL !== undefined && s.IDP_CLIENT_ID === undefined) {
    throw new ConfigError("IDP_CLIENT_ID", "required when IDP_URL is set (the organisation's client id)");
  }
  if (s.IDP_URL !== undefined && s.IDP_API_TOKEN === undefined) {
    throw new ConfigError("IDP_API_TOKEN", "required when IDP_URL is set (the organisation's API token)");
  }
  if (s.SPINE_URL !== undefined && s.SPINE_ASID === undefined) {
    throw new ConfigError("SPINE_ASID", "required when SPINE_URL is set (the deployment's Accredited System ID)");
  }
  if (s.SESSION_IDLE_TIMEOUT_SECONDS > s.SESSION_ABSOLUTE_TIMEOUT_SECONDS) {
    throw new ConfigError("SESSION_IDLE_TIMEOUT_SECONDS", "must not be longer than SESSION_ABSOLUTE_TIMEOUT_SECONDS");
  }
  if (s.REDIS_URL !== undefined && s.SESSION_ENCRYPTION_KEY === undefined) {
    throw new ConfigError(
      "SESSION_ENCRYPTION_KEY",
      "required when REDIS_URL is set: 32 random bytes in base64 or hex, e.g. from `openssl rand -base64 32`",
    );
  }
  // node:http refuses a headers timeout longer than the request timeout: said here, in the settings' words.
  if (s.HTTP_HEADERS_TIMEOUT_MS > s.HTTP_REQUEST_TIMEOUT_MS) {
    throw new ConfigError("HTTP_HEADERS_TIMEOUT_MS", "must not be longer than HTTP_REQUEST_TIMEOUT_MS");
  }

  return {
    port: s.PORT,
    host: s.HOST,
    production: s.NODE_ENV,
    spine: { url: s.SPINE_URL, asid: s.SPINE_ASID ?? simulators.asid, timeoutMs: s.SPINE_TIMEOUT_MS },
    idp: {
      url: s.IDP_URL,
      clientId: s.IDP_CLIENT_ID ?? simulators.clientId,
      apiToken: s.IDP_API_TOKEN ?? simulators.apiToken,
      timeoutMs: s.IDP_TIMEOUT_MS,
      timeZone: s.IDP_TIME_ZONE,
    },
    redisUrl: s.REDIS_URL,
    sessions: {
      idleTimeoutMs: s.SESSION_IDLE_TIMEOUT_SECONDS * 1000,
      absoluteTimeoutMs: s.SESSION_ABSOLUTE_TIMEOUT_SECONDS * 1000,
      encryptionKey: s.SESSION_ENCRYPTION_KEY,
      previousEncryptionKeys: s.SESSION_ENCRYPTION_PREVIOUS_KEYS,
      maxPerUser: s.SESSION_MAX_PER_USER,
    },
    login: {
      maxFailuresPerAccount: s.LOGIN_MAX_FAILURES_PER_ACCOUNT,
      accountWindowMs: s.LOGIN_ACCOUNT_WINDOW_MINUTES * 60_000,
      accountLockMs: s.LOGIN_ACCOUNT_LOCK_MINUTES * 60_000,
      maxConsecutiveFailures: s.LOGIN_MAX_CONSECUTIVE_FAILURES,
      consecutiveMemoryMs: s.LOGIN_CONSECUTIVE_LOCK_MINUTES * 60_000,
      maxFailuresPerAddress: s.LOGIN_MAX_FAILURES_PER_ADDRESS,
      addressWindowMs: s.LOGIN_ADDRESS_WINDOW_MINUTES * 60_000,
    },
    trustedProxyHops: s.TRUSTED_PROXY_HOPS,
    userInfoTtlMs: s.USER_INFO_CACHE_TTL_SECONDS * 1000,
    logLevel: s.LOG_LEVEL,
    auditLog: s.AUDIT_LOG,
    federationRouterSecret: s.FEDERATION_ROUTER_SECRET,
    sessionCookie: s.SESSION_COOKIE === "on",
    corsOrigins: s.CORS_ORIGINS,
    backendMaxResponseBytes: s.BACKEND_MAX_RESPONSE_BYTES,
    breaker: { failureThreshold: s.BREAKER_FAILURE_THRESHOLD, coolDownMs: s.BREAKER_COOL_DOWN_MS },
    http: {
      requestTimeoutMs: s.HTTP_REQUEST_TIMEOUT_MS,
      headersTimeoutMs: s.HTTP_HEADERS_TIMEOUT_MS,
      keepAliveTimeoutMs: s.HTTP_KEEP_ALIVE_TIMEOUT_MS,
      maxConnections: s.HTTP_MAX_CONNECTIONS,
    },
  };
}
