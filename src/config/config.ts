import { readFileSync } from "node:fs";
import { X509Certificate, createPrivateKey } from "node:crypto";
import type { RedisEndpoint, RedisSettings, RedisTls } from "../store/redis/connection.js";

/**
 * Settings of the gateway: read from the environment once at start-up, validated, and
 * turned into typed options. Defaults live here and nowhere else.
 */

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

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];
/**
 * An answer must come within 10 s, whatever the backends do (issue 4), and one request makes at
 * most two backend calls in a row (sign-in then user info; an A002 still in flight, then A003):
 * so one backend's budget is at most 5 s.
 */
const MAX_UPSTREAM_TIMEOUT_MS = 5_000;

type Env = Record<string, string | undefined>;

/** Reads and validates every setting; throws ConfigError on the first bad one. */
export function loadConfig(env: Env, simulators: SimulatorDefaults): GatewayConfig {
  const read = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === "" ? undefined : value;
  };

  const spineUrl = httpUrl("SPINE_URL", read("SPINE_URL"));
  const idpUrl = httpUrl("IDP_URL", read("IDP_URL"));
  const idpClientId = read("IDP_CLIENT_ID");
  const idpApiToken = read("IDP_API_TOKEN");
  const asid = read("SPINE_ASID");

  if (idpUrl !== undefined && idpClientId === undefined) {
    throw new ConfigError("IDP_CLIENT_ID", "required when IDP_URL is set (the organisation's client id)");
  }
  if (idpUrl !== undefined && idpApiToken === undefined) {
    throw new ConfigError("IDP_API_TOKEN", "required when IDP_URL is set (the organisation's API token)");
  }
  if (spineUrl !== undefined && asid === undefined) {
    throw new ConfigError("SPINE_ASID", "required when SPINE_URL is set (the deployment's Accredited System ID)");
  }
  if (asid !== undefined && !/^\d{1,20}$/.test(asid)) {
    throw new ConfigError("SPINE_ASID", "expected an Accredited System ID of digits only, e.g. 200000000220");
  }

  const timeZone = read("IDP_TIME_ZONE") ?? "UTC";
  if (!isTimeZone(timeZone)) {
    throw new ConfigError("IDP_TIME_ZONE", "expected an IANA time zone name, e.g. Europe/London or Asia/Dhaka");
  }

  const redis = redisSettings(read);

  const logLevel = read("LOG_LEVEL") ?? "info";
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError("LOG_LEVEL", `expected one of ${LOG_LEVELS.join(", ")}`);
  }

  // Standard error by default: apart from the application log (standard output) with nothing to set up.
  const auditLog = read("AUDIT_LOG") ?? "stderr";
  if (auditLog.endsWith("/") || auditLog.includes("\0")) {
    throw new ConfigError("AUDIT_LOG", "expected stderr, stdout or the path of a file to append JSON lines to");
  }

  // Printable ASCII, so that it travels in a header as it is; 32 characters at the least, so it cannot be guessed.
  const federationRouterSecret = read("FEDERATION_ROUTER_SECRET");
  if (federationRouterSecret !== undefined && !/^[\x21-\x7e]{32,}$/.test(federationRouterSecret)) {
    throw new ConfigError("FEDERATION_ROUTER_SECRET", "expected at least 32 printable ASCII characters without spaces, e.g. from `openssl rand -hex 32`");
  }

  const idleSeconds = integer(env, "SESSION_IDLE_TIMEOUT_SECONDS", 30 * 60, 1, 7 * 24 * 3600);
  const absoluteSeconds = integer(env, "SESSION_ABSOLUTE_TIMEOUT_SECONDS", 12 * 3600, 1, 30 * 24 * 3600);
  if (idleSeconds > absoluteSeconds) {
    throw new ConfigError("SESSION_IDLE_TIMEOUT_SECONDS", "must not be longer than SESSION_ABSOLUTE_TIMEOUT_SECONDS");
  }

  const encryptionKey = aesKey("SESSION_ENCRYPTION_KEY", read("SESSION_ENCRYPTION_KEY"));
  if (redis !== undefined && encryptionKey === undefined) {
    throw new ConfigError("SESSION_ENCRYPTION_KEY", `required when ${redis.setting} is set: 32 random bytes in base64 or hex, e.g. from \`openssl rand -base64 32\``);
  }
  const previousEncryptionKeys = (read("SESSION_ENCRYPTION_PREVIOUS_KEYS") ?? "")
    .split(",")
    .map((key) => key.trim())
    .filter(Boolean)
    .map((key) => aesKey("SESSION_ENCRYPTION_PREVIOUS_KEYS", key)!);

  const sessionCookie = read("SESSION_COOKIE") ?? "off";
  if (sessionCookie !== "on" && sessionCookie !== "off") {
    throw new ConfigError("SESSION_COOKIE", "expected on or off");
  }
  const corsOrigins = (read("CORS_ORIGINS") ?? "")
    .split(",")
    .map((origin) => origin.trim())
    .filter(Boolean)
    .map(exactOrigin);

  const minutes = (name: string, fallback: number, max: number): number => integer(env, name, fallback, 1, max) * 60_000;

  const requestTimeoutMs = integer(env, "HTTP_REQUEST_TIMEOUT_MS", 10_000, 100, 300_000);
  const headersTimeoutMs = integer(env, "HTTP_HEADERS_TIMEOUT_MS", 5_000, 100, 300_000);
  // node:http refuses a headers timeout longer than the request timeout: said here, in the settings' words.
  if (headersTimeoutMs > requestTimeoutMs) {
    throw new ConfigError("HTTP_HEADERS_TIMEOUT_MS", "must not be longer than HTTP_REQUEST_TIMEOUT_MS");
  }

  return {
    port: integer(env, "PORT", 4000, 0, 65_535),
    host: read("HOST") ?? "127.0.0.1",
    production: read("NODE_ENV") === "production",
    spine: {
      url: spineUrl,
      asid: asid ?? simulators.asid,
      timeoutMs: integer(env, "SPINE_TIMEOUT_MS", 5_000, 1, MAX_UPSTREAM_TIMEOUT_MS),
    },
    idp: {
      url: idpUrl,
      clientId: idpClientId ?? simulators.clientId,
      apiToken: idpApiToken ?? simulators.apiToken,
      timeoutMs: integer(env, "IDP_TIMEOUT_MS", 5_000, 1, MAX_UPSTREAM_TIMEOUT_MS),
      timeZone,
    },
    redis: redis?.settings,
    sessions: {
      idleTimeoutMs: idleSeconds * 1000,
      absoluteTimeoutMs: absoluteSeconds * 1000,
      encryptionKey,
      previousEncryptionKeys,
      maxPerUser: integer(env, "SESSION_MAX_PER_USER", 10, 1, 1_000),
    },
    login: {
      maxFailuresPerAccount: integer(env, "LOGIN_MAX_FAILURES_PER_ACCOUNT", 10, 1, 100),
      accountWindowMs: minutes("LOGIN_ACCOUNT_WINDOW_MINUTES", 15, 24 * 60),
      accountLockMs: minutes("LOGIN_ACCOUNT_LOCK_MINUTES", 15, 24 * 60),
      // NIST SP 800-63B: no more than 100 consecutive failed attempts on one account.
      maxConsecutiveFailures: integer(env, "LOGIN_MAX_CONSECUTIVE_FAILURES", 100, 1, 100),
      consecutiveMemoryMs: minutes("LOGIN_CONSECUTIVE_LOCK_MINUTES", 24 * 60, 7 * 24 * 60),
      maxFailuresPerAddress: integer(env, "LOGIN_MAX_FAILURES_PER_ADDRESS", 100, 1, 1_000_000),
      addressWindowMs: minutes("LOGIN_ADDRESS_WINDOW_MINUTES", 60, 24 * 60),
    },
    trustedProxyHops: integer(env, "TRUSTED_PROXY_HOPS", 0, 0, 10),
    userInfoTtlMs: integer(env, "USER_INFO_CACHE_TTL_SECONDS", 60, 0, 3600) * 1000,
    logLevel,
    auditLog,
    federationRouterSecret,
    sessionCookie: sessionCookie === "on",
    corsOrigins,
    // 256 KiB: the largest real answer here (an IdP user with every profile) is a few KB.
    backendMaxResponseBytes: integer(env, "BACKEND_MAX_RESPONSE_BYTES", 256 * 1024, 1_024, 16 * 1024 * 1024),
    http: {
      requestTimeoutMs,
      headersTimeoutMs,
      // Above the 60 s idle timeout common to load balancers (see keepAliveTimeoutMs).
      keepAliveTimeoutMs: integer(env, "HTTP_KEEP_ALIVE_TIMEOUT_MS", 65_000, 1_000, 600_000),
      maxConnections: integer(env, "HTTP_MAX_CONNECTIONS", 1_024, 1, 1_000_000),
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
function redisSettings(read: (name: string) => string | undefined): { settings: RedisSettings; setting: string } | undefined {
  const topologies = ["REDIS_URL", "REDIS_CLUSTER_NODES", "REDIS_SENTINELS"].filter((name) => read(name) !== undefined);
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
    for (const [name, value] of [["REDIS_SENTINEL_MASTER", masterName], ["REDIS_SENTINEL_USERNAME", sentinelUsername], ["REDIS_SENTINEL_PASSWORD", sentinelPassword]] as const) {
      if (value !== undefined) throw new ConfigError(name, "set only with REDIS_SENTINELS");
    }
  }
  if (setting === undefined) {
    const stray = [["REDIS_USERNAME", username], ["REDIS_PASSWORD", password], ["REDIS_TLS_CA_FILE", tlsFiles.ca], ["REDIS_TLS_CERT_FILE", tlsFiles.cert], ["REDIS_TLS_KEY_FILE", tlsFiles.key]].find(([, value]) => value !== undefined);
    if (stray !== undefined) throw new ConfigError(stray[0]!, "set only with REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS");
    return undefined;
  }
  if (username !== undefined && password === undefined) throw new ConfigError("REDIS_PASSWORD", "required when REDIS_USERNAME is set");

  let topology: RedisSettings["topology"];
  let tlsWanted: boolean;
  if (setting === "REDIS_SENTINELS") {
    if (masterName === undefined) throw new ConfigError("REDIS_SENTINEL_MASTER", "required when REDIS_SENTINELS is set: the name the sentinels monitor the primary by");
    if (sentinelUsername !== undefined && sentinelPassword === undefined) throw new ConfigError("REDIS_SENTINEL_PASSWORD", "required when REDIS_SENTINEL_USERNAME is set");
    const sentinels = list(read(setting)!).map((entry) => hostPort(setting, entry));
    topology = { kind: "sentinel", sentinels, masterName, sentinelUsername, sentinelPassword };
    tlsWanted = Object.values(tlsFiles).some((file) => file !== undefined);
  } else {
    const example = setting === "REDIS_URL" ? "redis://127.0.0.1:6379" : "redis://redis-a:6379,redis://redis-b:6379";
    const urls = list(read(setting)!).map((value) => {
      const url = parseUrl(value);
      if (url === undefined || !/^rediss?:$/.test(url.protocol) || url.hostname === "") {
        throw new ConfigError(setting, `expected ${setting === "REDIS_URL" ? "a redis:// or rediss:// URL" : "comma-separated redis:// or rediss:// URLs"}, e.g. ${example}`);
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
      if (urls.some((url) => !["", "/", "/0"].includes(url.pathname))) throw new ConfigError(setting, "expected no database number: Redis Cluster has database 0 only");
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
    throw new ConfigError(files.cert === undefined ? "REDIS_TLS_CERT_FILE" : "REDIS_TLS_KEY_FILE", "set REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE together (the client certificate and its key)");
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

function list(value: string): string[] {
  return value
    .split(",")
    .map((entry) => entry.trim())
    .filter(Boolean);
}

function hostPort(setting: string, entry: string): RedisEndpoint {
  const match = /^(\[[^\]]+\]|[^:\s]+):(\d{1,5})$/.exec(entry);
  const port = Number(match?.[2]);
  if (match === null || port < 1 || port > 65_535) throw new ConfigError(setting, "expected comma-separated host:port of the sentinels, e.g. sentinel-a:26379,sentinel-b:26379");
  return { host: match[1]!.replace(/^\[(.*)\]$/, "$1"), port };
}

/** A 32-byte key given as base64 (44 characters) or hex (64). */
function aesKey(name: string, value: string | undefined): Buffer | undefined {
  if (value === undefined) return undefined;
  const key = /^[0-9a-fA-F]{64}$/.test(value) ? Buffer.from(value, "hex") : /^[A-Za-z0-9+/_-]{43}=?$/.test(value) ? Buffer.from(value, "base64") : undefined;
  if (key === undefined || key.length !== 32) {
    throw new ConfigError(name, "expected 32 random bytes in base64 or hex, e.g. from `openssl rand -base64 32`");
  }
  return key;
}

function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat("en-GB", { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

function parseUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

function httpUrl(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const url = parseUrl(value);
  if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:")) {
    throw new ConfigError(name, "expected an http:// or https:// URL");
  }
  // Paths in the contracts are relative to the base; one trailing slash keeps got's prefixUrl joining them.
  return url.href.endsWith("/") ? url.href : `${url.href}/`;
}

/**
 * An origin as browsers send it in `Origin`: scheme, host, port if not the default, nothing
 * else, so that comparing strings is comparing origins. `*` is refused: the gateway always
 * allows credentials to the origins it lists, and a wildcard with credentials would hand any
 * site the user's session.
 */
function exactOrigin(value: string): string {
  const url = parseUrl(value);
  if (value === "*" || url === undefined || (url.protocol !== "http:" && url.protocol !== "https:") || url.origin !== value) {
    throw new ConfigError("CORS_ORIGINS", `expected comma-separated exact origins such as https://app.example.org (scheme, host, port; no path, no trailing slash, no *)`);
  }
  return value;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(name, `expected a whole number from ${min} to ${max}`);
  }
  return value;
}
