/**
 * Every setting of the gateway, declared once: its name, what it accepts (the parser, which
 * also says so for the docs), its default, one line of meaning and its group. loadConfig
 * (config.ts) reads the environment through these entries, and docs/configuration.md's table
 * is generated from them (`npm run docs:settings`, checked by test/config/settings-doc.test.ts).
 * Rules between settings (required together, one not longer than another) stay in loadConfig.
 */
import { MAX_UPSTREAM_TIMEOUT_MS } from "./tunables.js";

/** Thrown by a parser: says what was expected, never the value given (values may be secrets). */
export class Expected extends Error {}

/** How one setting is read: the parser and what the docs say about it. */
interface Parser<T> {
  /** The trimmed value, undefined when unset or blank, turned into the typed value; throws {@link Expected}. */
  parse(value: string | undefined): T;
  /** The values accepted, for the settings table. */
  accepts: string;
  /** What an unset setting means, for the settings table. */
  unset: string;
}

/** A declared setting. */
export interface Setting<T> extends Parser<T> {
  group: Group;
  /** One line of meaning, for the settings table (markdown). */
  doc: string;
}

/** The settings table's sections, in the order the docs show them. */
export const GROUPS = [
  "server",
  "backends",
  "Redis",
  "sessions",
  "sign-in limits",
  "browser apps",
  "logs and audit",
  "federation",
  "HTTP limits",
] as const;
type Group = (typeof GROUPS)[number];

const code = (value: unknown): string => `\`${String(value)}\``;

/** A whole number within [min, max]: digits only (no sign, fraction or exponent). `note` follows the default in the docs. */
function integer(min: number, max: number, fallback: number, note = ""): Parser<number> {
  return {
    accepts: `whole number, ${min}–${max}`,
    unset: `${code(fallback)}${note && ` (${note})`}`,
    parse(value) {
      if (value === undefined) return fallback;
      const number = Number(value);
      if (!/^\d+$/.test(value) || !Number.isSafeInteger(number) || number < min || number > max) {
        throw new Expected(`expected a whole number from ${min} to ${max}`);
      }
      return number;
    },
  };
}

/** One of a few words. `expected` overrides the message when the list reads better another way. */
function oneOf<const T extends string>(values: readonly T[], fallback: T, expected = `expected one of ${values.join(", ")}`): Parser<T> {
  return {
    accepts: values.map(code).join(", "),
    unset: code(fallback),
    parse(value) {
      if (value === undefined) return fallback;
      if (!(values as readonly string[]).includes(value)) throw new Expected(expected);
      return value as T;
    },
  };
}

/** Free text, or undefined when unset. */
function text(accepts: string, unset: string): Parser<string | undefined> {
  return { accepts, unset, parse: (value) => value };
}

/** A value checked by `valid`, or undefined when unset. */
function checked(accepts: string, unset: string, valid: (value: string) => boolean, expected: string): Parser<string | undefined> {
  return {
    accepts,
    unset,
    parse(value) {
      if (value !== undefined && !valid(value)) throw new Expected(expected);
      return value;
    },
  };
}

/** The entries of a comma-separated value, trimmed, empty ones left out. */
export function commaSeparated(value: string): string[] {
  return value
    .split(",")
    .map((entry) => entry.trim())
    .filter(Boolean);
}

/** A comma-separated list, each entry parsed by `item`; empty when unset. */
function list<T>(accepts: string, unset: string, item: (entry: string) => T): Parser<T[]> {
  return { accepts, unset, parse: (value) => commaSeparated(value ?? "").map(item) };
}

/** The URL, or undefined when `value` is not one. */
export function parseUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

/** A backend's base URL; undefined when unset (start the built-in simulator). */
function backendUrl(simulator: string): Parser<string | undefined> {
  return {
    accepts: "`http://` or `https://` URL",
    unset: `start the built-in ${simulator} simulator`,
    parse(value) {
      if (value === undefined) return undefined;
      const url = parseUrl(value);
      if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:")) throw new Expected("expected an http:// or https:// URL");
      // Paths in the contracts are relative to the base; one trailing slash keeps got's prefixUrl joining them.
      return url.href.endsWith("/") ? url.href : `${url.href}/`;
    },
  };
}

const AES_KEY_EXPECTED = "expected 32 random bytes in base64 or hex, e.g. from `openssl rand -base64 32`";

/** A 32-byte key given as base64 (44 characters) or hex (64). */
function aesKey(value: string): Buffer {
  const key = /^[0-9a-fA-F]{64}$/.test(value)
    ? Buffer.from(value, "hex")
    : /^[A-Za-z0-9+/_-]{43}=?$/.test(value)
      ? Buffer.from(value, "base64")
      : undefined;
  if (key === undefined || key.length !== 32) throw new Expected(AES_KEY_EXPECTED);
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

/**
 * An origin as browsers send it in `Origin`: scheme, host, port if not the default, nothing
 * else, so that comparing strings is comparing origins. `*` is refused: the gateway always
 * allows credentials to the origins it lists, and a wildcard with credentials would hand any
 * site the user's session.
 */
function exactOrigin(value: string): string {
  const url = parseUrl(value);
  if (value === "*" || url === undefined || (url.protocol !== "http:" && url.protocol !== "https:") || url.origin !== value) {
    throw new Expected(
      "expected comma-separated exact origins such as https://app.example.org (scheme, host, port; no path, no trailing slash, no *)",
    );
  }
  return value;
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
/** Any backend's call budget: see MAX_UPSTREAM_TIMEOUT_MS. */
const BACKEND_TIMEOUT = integer(1, MAX_UPSTREAM_TIMEOUT_MS, 5_000);

/** Every setting, in the order the docs list them within their group. */
export const SETTINGS = {
  PORT: { group: "server", doc: "HTTP port; `0` picks a free one", ...integer(0, 65_535, 4_000) },
  HOST: {
    group: "server",
    doc: "bind address",
    accepts: "host name or IP address",
    unset: "`127.0.0.1`",
    parse: (value: string | undefined): string => value ?? "127.0.0.1",
  },
  NODE_ENV: {
    group: "server",
    doc: "`production` turns off introspection, field suggestions, the Sandbox landing page, the explorer and the example app",
    accepts: "any; only `production` counts",
    unset: "not production",
    parse: (value: string | undefined): boolean => value === "production",
  },

  SPINE_URL: { group: "backends", doc: "base URL of the e-RS API, e.g. `https://api.dev1.ers.ncrs.nhs.uk/ers-api`", ...backendUrl("Spine") },
  SPINE_ASID: {
    group: "backends",
    doc: "`XAPI_ASID` sent to Spine; required with `SPINE_URL`",
    ...checked(
      "digits, e.g. `200000000220`",
      "the simulator's demo ASID",
      (value) => /^\d{1,20}$/.test(value),
      "expected an Accredited System ID of digits only, e.g. 200000000220",
    ),
  },
  SPINE_TIMEOUT_MS: {
    group: "backends",
    doc: "budget of one Spine call, every attempt and backoff included (a request makes at most two calls in a row, and answers within 10 s)",
    ...BACKEND_TIMEOUT,
  },
  IDP_URL: { group: "backends", doc: "base URL of the IdP", ...backendUrl("IdP") },
  IDP_CLIENT_ID: {
    group: "backends",
    doc: "the organisation's IdP `client_id`; required with `IDP_URL`",
    ...text("text", "the simulator's demo client"),
  },
  IDP_API_TOKEN: {
    group: "backends",
    doc: "the organisation's IdP API token (a secret); required with `IDP_URL`",
    ...text("text", "the simulator's demo token"),
  },
  IDP_TIMEOUT_MS: { group: "backends", doc: "budget of one IdP call, every attempt and backoff included", ...BACKEND_TIMEOUT },
  IDP_TIME_ZONE: {
    group: "backends",
    doc: "IANA zone of the IdP's zone-less timestamps (`last_login`)",
    parse: (value: string | undefined): string => {
      if (!isTimeZone(value ?? "UTC")) throw new Expected("expected an IANA time zone name, e.g. Europe/London or Asia/Dhaka");
      return value ?? "UTC";
    },
    accepts: "IANA zone name, e.g. `Europe/London`",
    unset: "`UTC`",
  },
  BACKEND_MAX_RESPONSE_BYTES: {
    group: "backends",
    doc: "largest answer body taken from Spine or the IdP, counted after decompression as it streams in; a larger one is cut off there, answered `UPSTREAM_BAD_RESPONSE`, and counts as a backend failure for the circuit breaker (see [operations](operations.md#backend-answer-size-cap))",
    // 256 KiB: the largest real answer here (an IdP user with every profile) is a few KB.
    ...integer(1_024, 16 * 1024 * 1024, 256 * 1024, "256 KiB"),
  },
  BREAKER_FAILURE_THRESHOLD: {
    group: "backends",
    doc: "consecutive failed attempts (timeout, connection failure, 5xx, oversized answer; never a 4xx) that open a backend's circuit: its calls then fail at once with `UPSTREAM_UNAVAILABLE` and `/readyz` reports it down",
    ...integer(1, 1_000, 5),
  },
  BREAKER_COOL_DOWN_MS: {
    group: "backends",
    doc: "how long an open circuit refuses calls before it lets one probe call through; the probe's success closes it, its failure reopens it for another cool-down",
    ...integer(100, 600_000, 10_000),
  },

  // Redis's settings are read as text here: which of them may, must or must not be set, and how
  // each is checked, depends on the topology chosen, so redisSettings (config.ts) checks them together.
  REDIS_URL: {
    group: "Redis",
    doc: "shared store for sessions and caches, one Redis primary (`rediss://` for TLS; user and password may be in the URL; a database number as its path); see [Redis](redis.md)",
    ...text("`redis://` or `rediss://` URL, e.g. `redis://127.0.0.1:6379`", "in-process memory"),
  },
  REDIS_CLUSTER_NODES: {
    group: "Redis",
    doc: "instead of `REDIS_URL`: Redis Cluster, its seed nodes (same scheme and credentials on each)",
    ...text("comma-separated `redis://` or `rediss://` URLs, e.g. `redis://redis-a:6379,redis://redis-b:6379`", "no Cluster"),
  },
  REDIS_SENTINELS: {
    group: "Redis",
    doc: "instead of `REDIS_URL`: Redis behind Sentinel, the sentinels' addresses",
    ...text("comma-separated `host:port`, e.g. `sentinel-a:26379,sentinel-b:26379`", "no Sentinel"),
  },
  REDIS_SENTINEL_MASTER: {
    group: "Redis",
    doc: "the name the sentinels monitor the primary by; required with `REDIS_SENTINELS`",
    ...text("text", "none"),
  },
  REDIS_USERNAME: {
    group: "Redis",
    doc: "ACL user of the Redis data nodes, when not in the URLs (with Sentinel, the only way); needs `REDIS_PASSWORD`",
    ...text("text", "none"),
  },
  REDIS_PASSWORD: {
    group: "Redis",
    doc: "password of the Redis data nodes (a secret), when not in the URLs: in one or the other, not both",
    ...text("text", "none"),
  },
  REDIS_SENTINEL_USERNAME: { group: "Redis", doc: "ACL user of the sentinels themselves (only with `REDIS_SENTINELS`)", ...text("text", "none") },
  REDIS_SENTINEL_PASSWORD: {
    group: "Redis",
    doc: "password of the sentinels themselves (a secret; only with `REDIS_SENTINELS`)",
    ...text("text", "none"),
  },
  REDIS_TLS_CA_FILE: {
    group: "Redis",
    doc: "PEM CA bundle to trust for TLS to Redis, read and checked at start-up; needs `rediss://` URLs, and turns TLS on for Sentinel",
    ...text("file path", "the system's CAs"),
  },
  REDIS_TLS_CERT_FILE: {
    group: "Redis",
    doc: "client certificate for mutual TLS, set together with `REDIS_TLS_KEY_FILE`",
    ...text("file path", "no client certificate"),
  },
  REDIS_TLS_KEY_FILE: { group: "Redis", doc: "that certificate's private key", ...text("file path", "none") },

  SESSION_ENCRYPTION_KEY: {
    group: "sessions",
    doc: "key sealing stored sessions and cached user info with AES-256-GCM; **required with any Redis** (`REDIS_URL`, `REDIS_CLUSTER_NODES` or `REDIS_SENTINELS`), and the same on every instance; unused by the in-process store, which is not sealed (see [security](security.md#sign-in-limits-and-stored-secrets))",
    accepts: "32 random bytes in base64 or hex, e.g. `openssl rand -base64 32`",
    unset: "none (the in-process store is not sealed)",
    parse: (value: string | undefined): Buffer | undefined => (value === undefined ? undefined : aesKey(value)),
  },
  SESSION_ENCRYPTION_PREVIOUS_KEYS: {
    group: "sessions",
    doc: "keys that still open values sealed before a rotation",
    ...list("comma-separated keys, as above", "none", aesKey),
  },
  SESSION_IDLE_TIMEOUT_SECONDS: {
    group: "sessions",
    doc: "a session unused this long ends (at most `SESSION_ABSOLUTE_TIMEOUT_SECONDS`)",
    ...integer(1, 7 * 24 * 3600, 30 * 60, "30 min"),
  },
  SESSION_ABSOLUTE_TIMEOUT_SECONDS: {
    group: "sessions",
    doc: "a session ends this long after it opened, however busy",
    ...integer(1, 30 * 24 * 3600, 12 * 3600, "12 h"),
  },
  SESSION_MAX_PER_USER: {
    group: "sessions",
    doc: "live sessions one user may hold at once, counted across instances; opening one more ends the user's oldest (audited as `session.evicted`; a Spine session gets its A003, an IdP session ends at the gateway only)",
    ...integer(1, 1_000, 10),
  },
  USER_INFO_CACHE_TTL_SECONDS: { group: "sessions", doc: "how long IdP user info is reused (`0`: ask every time)", ...integer(0, 3600, 60) },

  LOGIN_MAX_FAILURES_PER_ACCOUNT: {
    group: "sign-in limits",
    doc: "failed sign-ins of one account (email, or smartcard token) within `LOGIN_ACCOUNT_WINDOW_MINUTES` that lock it",
    ...integer(1, 100, 10),
  },
  LOGIN_ACCOUNT_WINDOW_MINUTES: { group: "sign-in limits", doc: "the window `LOGIN_MAX_FAILURES_PER_ACCOUNT` counts in", ...integer(1, 24 * 60, 15) },
  LOGIN_ACCOUNT_LOCK_MINUTES: {
    group: "sign-in limits",
    doc: "how long an account locked by `LOGIN_MAX_FAILURES_PER_ACCOUNT` stays locked",
    ...integer(1, 24 * 60, 15),
  },
  LOGIN_MAX_CONSECUTIVE_FAILURES: {
    group: "sign-in limits",
    doc: "consecutive failures of one account, across windows, after which it stays locked (NIST SP 800-63B: at most 100)",
    ...integer(1, 100, 100),
  },
  LOGIN_CONSECUTIVE_LOCK_MINUTES: {
    group: "sign-in limits",
    doc: "how long an account locked by `LOGIN_MAX_CONSECUTIVE_FAILURES` stays locked",
    ...integer(1, 7 * 24 * 60, 24 * 60, "24 h"),
  },
  LOGIN_MAX_FAILURES_PER_ADDRESS: {
    group: "sign-in limits",
    doc: "failed sign-ins from one client address within `LOGIN_ADDRESS_WINDOW_MINUTES`, any accounts, after which it is refused (credential stuffing)",
    ...integer(1, 1_000_000, 100),
  },
  LOGIN_ADDRESS_WINDOW_MINUTES: { group: "sign-in limits", doc: "the window `LOGIN_MAX_FAILURES_PER_ADDRESS` counts in", ...integer(1, 24 * 60, 60) },
  TRUSTED_PROXY_HOPS: {
    group: "sign-in limits",
    doc: "proxies in front of the gateway that append to `X-Forwarded-For`; the client address is the one the outermost of them saw (`0`: the socket's peer)",
    ...integer(0, 10, 0),
  },

  SESSION_COOKIE: {
    group: "browser apps",
    doc: "`on`: cookie mode. `createSession`, `signin` and `selectRole` put the session token in an HttpOnly `__Host-session` cookie and answer `token: null`; requests without a bearer header authenticate by that cookie (see [browser apps](browser-apps.md)). **`npm start` with both simulators turns it `on`** unless it is set",
    ...oneOf(["on", "off"], "off", "expected on or off"),
  },
  CORS_ORIGINS: {
    group: "browser apps",
    doc: "exact origins whose pages may call `/graphql` from another origin, always with credentials; `*` is refused",
    ...list(
      "comma-separated origins: scheme, host, port, e.g. `https://app.example.org,http://127.0.0.1:5173`",
      "none: no cross-origin access",
      exactOrigin,
    ),
  },

  LOG_LEVEL: { group: "logs and audit", doc: "least severe log line written", ...oneOf(LOG_LEVELS, "info") },
  AUDIT_LOG: {
    group: "logs and audit",
    doc: "where the audit trail goes, as JSON lines, appended to (see [operations](operations.md#audit-trail)); `stdout` mixes it with the application log: avoid",
    // Standard error by default: apart from the application log (standard output) with nothing to set up.
    parse: (value: string | undefined): string => {
      if (value !== undefined && (value.endsWith("/") || value.includes("\0")))
        throw new Expected("expected stderr, stdout or the path of a file to append JSON lines to");
      return value ?? "stderr";
    },
    accepts: "`stderr`, `stdout` or a file path",
    unset: "`stderr`",
  },

  FEDERATION_ROUTER_SECRET: {
    group: "federation",
    doc: "the secret a Federation router presents in the `Router-Secret` header; when set, the graph is also served as a Federation 2 subgraph at `/subgraph` (see [federation](federation.md))",
    // Printable ASCII, so that it travels in a header as it is; 32 characters at the least, so it cannot be guessed.
    ...checked(
      "32 or more printable ASCII characters, no spaces, e.g. `openssl rand -hex 32`",
      "no `/subgraph`",
      (value) => /^[\x21-\x7e]{32,}$/.test(value),
      "expected at least 32 printable ASCII characters without spaces, e.g. from `openssl rand -hex 32`",
    ),
  },

  HTTP_REQUEST_TIMEOUT_MS: {
    group: "HTTP limits",
    doc: "longest a client may take to send a whole request, headers and body; then `408` and the connection closes (see [operations](operations.md#http-limits))",
    ...integer(100, 300_000, 10_000),
  },
  HTTP_HEADERS_TIMEOUT_MS: {
    group: "HTTP limits",
    doc: "longest a client may take to send a request's headers (at most `HTTP_REQUEST_TIMEOUT_MS`)",
    ...integer(100, 300_000, 5_000),
  },
  HTTP_KEEP_ALIVE_TIMEOUT_MS: {
    group: "HTTP limits",
    doc: "how long an idle keep-alive connection is kept; keep it above the load balancer's own idle timeout (the default is above the common 60 s)",
    ...integer(1_000, 600_000, 65_000),
  },
  HTTP_MAX_CONNECTIONS: { group: "HTTP limits", doc: "open connections at most; one past it is closed at once", ...integer(1, 1_000_000, 1_024) },
} satisfies Record<string, Setting<unknown>>;

export type SettingName = keyof typeof SETTINGS;
/** Every setting's typed value. */
export type SettingValues = { [Name in SettingName]: ReturnType<(typeof SETTINGS)[Name]["parse"]> };

/** A setting's value when it is unset: for parts built without the settings (tests, tools), so the default stays declared once. */
export function defaultOf<Name extends SettingName>(name: Name): SettingValues[Name] {
  return SETTINGS[name].parse(undefined) as SettingValues[Name];
}
