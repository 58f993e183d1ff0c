/**
 * Settings of the gateway: read from the environment once at start-up, through the declarations
 * of settings.ts (parsers, defaults, docs), checked against each other here, and turned into
 * typed options. Internal tunables that are not settings are in tunables.ts.
 */
import { readFileSync } from "node:fs";
import { X509Certificate, createPrivateKey } from "node:crypto";
import type { RedisEndpoint, RedisSettings, RedisTls } from "../store/redis/connection.js";
import { commaSeparated, Expected, parseUrl, SETTINGS, type SettingName, type SettingValues } from "./settings.js";

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
   * AES-256 key sealing stored sessions and cached user info in Redis; unset only without Redis,
   * whose in-process store is not sealed (its values never leave the process).
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
  /** Shared store for sessions and caches (one primary, Cluster or Sentinel); unset means in-process memory. */
  redis: RedisSettings | undefined;
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
interface SimulatorDefaults {
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
  const redis = redisSettings((name) => s[name]);
  if (s.SESSION_IDLE_TIMEOUT_SECONDS > s.SESSION_ABSOLUTE_TIMEOUT_SECONDS) {
    throw new ConfigError("SESSION_IDLE_TIMEOUT_SECONDS", "must not be longer than SESSION_ABSOLUTE_TIMEOUT_SECONDS");
  }
  if (redis !== undefined && s.SESSION_ENCRYPTION_KEY === undefined) {
    throw new ConfigError(
      "SESSION_ENCRYPTION_KEY",
      `required when ${redis.setting} is set: 32 random bytes in base64 or hex, e.g. from \`openssl rand -base64 32\``,
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
    redis: redis?.settings,
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

/**
 * Where Redis is: at most one of REDIS_URL (one primary), REDIS_CLUSTER_NODES (Cluster seed
 * nodes) and REDIS_SENTINELS (with REDIS_SENTINEL_MASTER); credentials of the data nodes in the
 * URLs or in REDIS_USERNAME/REDIS_PASSWORD (not both), of the sentinels in their own settings;
 * TLS by rediss:// URLs (with Sentinel, by a REDIS_TLS_* file), with the files read now. `setting`
 * names the topology's setting for messages.
 */
function redisSettings(
  read: (name: Extract<SettingName, `REDIS_${string}`>) => string | undefined,
): { settings: RedisSettings; setting: string } | undefined {
  const topologies = (["REDIS_URL", "REDIS_CLUSTER_NODES", "REDIS_SENTINELS"] as const).filter((name) => read(name) !== undefined);
  if (topologies.length > 1) {
    throw new ConfigError(topologies[1]!, `set only one of REDIS_URL, REDIS_CLUSTER_NODES, REDIS_SENTINELS (${topologies.join(" and ")} are set)`);
  }
  const setting = topologies[0];
  const masterName = read("REDIS_SENTINEL_MASTER");
  const sentinelUsername = read("REDIS_SENTINEL_USERNAME");
  const sentinelPassword = read("REDIS_SENTINEL_PASSWORD");
  const tlsFiles = { ca: read("REDIS_TLS_CA_FILE"), cert: read("REDIS_TLS_CERT_FILE"), key: read("REDIS_TLS_KEY_FILE") };
  let username = read("REDIS_USERNAME");
  let password = read("REDIS_PASSWORD");
  if (setting !== "REDIS_SENTINELS") {
    for (const [name, value] of [
      ["REDIS_SENTINEL_MASTER", masterName],
      ["REDIS_SENTINEL_USERNAME", sentinelUsername],
      ["REDIS_SENTINEL_PASSWORD", sentinelPassword],
    ] as const) {
      if (value !== undefined) throw new ConfigError(name, "set only with REDIS_SENTINELS");
    }
  }
  if (setting === undefined) {
    const stray = [
      ["REDIS_USERNAME", username],
      ["REDIS_PASSWORD", password],
      ["REDIS_TLS_CA_FILE", tlsFiles.ca],
      ["REDIS_TLS_CERT_FILE", tlsFiles.cert],
      ["REDIS_TLS_KEY_FILE", tlsFiles.key],
    ].find(([, value]) => value !== undefined);
    if (stray !== undefined) throw new ConfigError(stray[0]!, "set only with REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS");
    return undefined;
  }
  if (username !== undefined && password === undefined) throw new ConfigError("REDIS_PASSWORD", "required when REDIS_USERNAME is set");

  let topology: RedisSettings["topology"];
  let tlsWanted: boolean;
  if (setting === "REDIS_SENTINELS") {
    if (masterName === undefined)
      throw new ConfigError("REDIS_SENTINEL_MASTER", "required when REDIS_SENTINELS is set: the name the sentinels monitor the primary by");
    if (sentinelUsername !== undefined && sentinelPassword === undefined)
      throw new ConfigError("REDIS_SENTINEL_PASSWORD", "required when REDIS_SENTINEL_USERNAME is set");
    const sentinels = commaSeparated(read(setting)!).map((entry) => hostPort(setting, entry));
    topology = { kind: "sentinel", sentinels, masterName, sentinelUsername, sentinelPassword };
    tlsWanted = Object.values(tlsFiles).some((file) => file !== undefined);
  } else {
    const example = setting === "REDIS_URL" ? "redis://127.0.0.1:6379" : "redis://redis-a:6379,redis://redis-b:6379";
    const urls = commaSeparated(read(setting)!).map((value) => {
      const url = parseUrl(value);
      if (url === undefined || !/^rediss?:$/.test(url.protocol) || url.hostname === "") {
        throw new ConfigError(
          setting,
          `expected ${setting === "REDIS_URL" ? "a redis:// or rediss:// URL" : "comma-separated redis:// or rediss:// URLs"}, e.g. ${example}`,
        );
      }
      return url;
    });
    // One client, one way of talking to every node: a cluster's nodes share scheme and credentials.
    const first = urls[0]!;
    if (urls.some((url) => url.protocol !== first.protocol || url.username !== first.username || url.password !== first.password)) {
      throw new ConfigError(setting, "expected the same scheme (redis:// or rediss://) and the same credentials on every node");
    }
    if (first.password !== "" && password !== undefined) {
      throw new ConfigError("REDIS_PASSWORD", `set the password in ${setting} or in REDIS_PASSWORD, not in both`);
    }
    if (first.password !== "") {
      username = first.username === "" ? undefined : decodeURIComponent(first.username);
      password = decodeURIComponent(first.password);
    }
    const nodes = urls.map((url) => ({ host: url.hostname.replace(/^\[(.*)\]$/, "$1"), port: url.port === "" ? 6379 : Number(url.port) }));
    if (setting === "REDIS_URL") {
      const path = first.pathname.replace(/^\//, "");
      if (!/^\d{0,2}$/.test(path)) throw new ConfigError(setting, "expected a database number (0-15) as the URL's path, or none");
      topology = { kind: "standalone", node: nodes[0]!, db: Number(path) };
    } else {
      if (urls.some((url) => !["", "/", "/0"].includes(url.pathname)))
        throw new ConfigError(setting, "expected no database number: Redis Cluster has database 0 only");
      topology = { kind: "cluster", nodes };
    }
    tlsWanted = first.protocol === "rediss:";
    const file = Object.entries(tlsFiles).find(([, value]) => value !== undefined);
    if (!tlsWanted && file !== undefined) {
      throw new ConfigError(`REDIS_TLS_${file[0].toUpperCase()}_FILE`, `set, but ${setting} asks for no TLS: use rediss:// URLs`);
    }
  }
  return { settings: { topology, username, password, tls: tlsWanted ? redisTls(tlsFiles) : undefined }, setting };
}

/** The TLS files, read and checked now: a bad or unreadable file must stop start-up, not the first sign-in. */
function redisTls(files: { ca: string | undefined; cert: string | undefined; key: string | undefined }): RedisTls {
  if ((files.cert === undefined) !== (files.key === undefined)) {
    throw new ConfigError(
      files.cert === undefined ? "REDIS_TLS_CERT_FILE" : "REDIS_TLS_KEY_FILE",
      "set REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE together (the client certificate and its key)",
    );
  }
  const readPem = (setting: string, path: string | undefined, check: (pem: Buffer) => unknown): Buffer | undefined => {
    if (path === undefined) return undefined;
    let pem: Buffer;
    try {
      pem = readFileSync(path);
    } catch (error) {
      throw new ConfigError(setting, `cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? "unreadable"})`);
    }
    try {
      check(pem);
    } catch {
      throw new ConfigError(setting, `${path} is not a PEM ${setting === "REDIS_TLS_KEY_FILE" ? "private key" : "certificate"}`);
    }
    return pem;
  };
  const ca = readPem("REDIS_TLS_CA_FILE", files.ca, (pem) => new X509Certificate(pem));
  const cert = readPem("REDIS_TLS_CERT_FILE", files.cert, (pem) => new X509Certificate(pem));
  const key = readPem("REDIS_TLS_KEY_FILE", files.key, (pem) => createPrivateKey(pem));
  if (cert !== undefined && key !== undefined && !new X509Certificate(cert).checkPrivateKey(createPrivateKey(key))) {
    throw new ConfigError("REDIS_TLS_KEY_FILE", "is not the key of the certificate in REDIS_TLS_CERT_FILE");
  }
  return { ca, cert, key };
}

function hostPort(setting: string, entry: string): RedisEndpoint {
  const match = /^(\[[^\]]+\]|[^:\s]+):(\d{1,5})$/.exec(entry);
  const port = Number(match?.[2]);
  if (match === null || port < 1 || port > 65_535)
    throw new ConfigError(setting, "expected comma-separated host:port of the sentinels, e.g. sentinel-a:26379,sentinel-b:26379");
  return { host: match[1]!.replace(/^\[(.*)\]$/, "$1"), port };
}
