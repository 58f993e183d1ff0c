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
  /** How long IdP user info is reused before it is asked for again, in milliseconds. */
  userInfoTtlMs: number;
  /** pino level: fatal, error, warn, info, debug, trace or silent. */
  logLevel: string;
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

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];
/** Issue 4 of the project caps any backend answer at 10 s, whatever the setting. */
const MAX_UPSTREAM_TIMEOUT_MS = 10_000;

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

  const redisUrl = read("REDIS_URL");
  if (redisUrl !== undefined && !/^rediss?:$/.test(parseUrl(redisUrl)?.protocol ?? "")) {
    throw new ConfigError("REDIS_URL", "expected a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379");
  }

  const logLevel = read("LOG_LEVEL") ?? "info";
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError("LOG_LEVEL", `expected one of ${LOG_LEVELS.join(", ")}`);
  }

  const idleSeconds = integer(env, "SESSION_IDLE_TIMEOUT_SECONDS", 30 * 60, 1, 7 * 24 * 3600);
  const absoluteSeconds = integer(env, "SESSION_ABSOLUTE_TIMEOUT_SECONDS", 12 * 3600, 1, 30 * 24 * 3600);
  if (idleSeconds > absoluteSeconds) {
    throw new ConfigError("SESSION_IDLE_TIMEOUT_SECONDS", "must not be longer than SESSION_ABSOLUTE_TIMEOUT_SECONDS");
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
    redisUrl,
    sessions: { idleTimeoutMs: idleSeconds * 1000, absoluteTimeoutMs: absoluteSeconds * 1000 },
    userInfoTtlMs: integer(env, "USER_INFO_CACHE_TTL_SECONDS", 60, 0, 3600) * 1000,
    logLevel,
  };
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

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(name, `expected a whole number from ${min} to ${max}`);
  }
  return value;
}
