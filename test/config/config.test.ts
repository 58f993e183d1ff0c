import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { ConfigError, loadConfig, type GatewayConfig } from "../../src/config/config.js";
import { makeCertificates, type TestCertificates } from "../support/tls.js";
import { readFileSync } from "node:fs";

const SIMULATORS = { asid: "999000000001", clientId: "sim-client", apiToken: "sim-api-token" };

/** Settings that are valid together with a real IdP and Spine; each bad case changes one of them. */
const REAL_BACKENDS = {
  SPINE_URL: "https://ers.example.nhs.uk/ers-api",
  SPINE_ASID: "200000000220",
  IDP_URL: "https://idp.example.org",
  IDP_CLIENT_ID: "100042",
  IDP_API_TOKEN: "org-api-token",
};

/** The ConfigError `loadConfig` throws for `env`; fails the test when it throws nothing or something else. */
function refusal(env: Record<string, string | undefined>): ConfigError {
  try {
    loadConfig(env, SIMULATORS);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

/** Test keys only: 32 bytes each, in the two accepted spellings. */
const KEY_BASE64 = Buffer.alloc(32, 7).toString("base64");
const KEY_HEX = Buffer.alloc(32, 9).toString("hex");
/** A test router secret: 32 printable characters, the shortest accepted. */
const ROUTER_SECRET = "router-secret-for-config-tests-!";

describe("loadConfig", () => {
  it("applies the documented defaults, and the simulators' credentials, when nothing is set", () => {
    const config = loadConfig({}, SIMULATORS);

    const expected: GatewayConfig = {
      port: 4000,
      host: "127.0.0.1",
      production: false,
      spine: { url: undefined, asid: "999000000001", timeoutMs: 5_000 },
      idp: { url: undefined, clientId: "sim-client", apiToken: "sim-api-token", timeoutMs: 5_000, timeZone: "UTC" },
      redis: undefined,
      sessions: {
        idleTimeoutMs: 30 * 60 * 1000,
        absoluteTimeoutMs: 12 * 3600 * 1000,
        encryptionKey: undefined,
        previousEncryptionKeys: [],
        maxPerUser: 10,
      },
      login: {
        maxFailuresPerAccount: 10,
        accountWindowMs: 15 * 60_000,
        accountLockMs: 15 * 60_000,
        maxConsecutiveFailures: 100,
        consecutiveMemoryMs: 24 * 3600_000,
        maxFailuresPerAddress: 100,
        addressWindowMs: 3600_000,
      },
      trustedProxyHops: 0,
      userInfoTtlMs: 60_000,
      logLevel: "info",
      auditLog: "stderr",
      federationRouterSecret: undefined,
      sessionCookie: false,
      corsOrigins: [],
      backendMaxResponseBytes: 256 * 1024,
      breaker: { failureThreshold: 5, coolDownMs: 10_000 },
      http: { requestTimeoutMs: 10_000, headersTimeoutMs: 5_000, keepAliveTimeoutMs: 65_000, maxConnections: 1_024 },
    };
    expect(config).toEqual(expected);
  });

  it("treats empty and blank settings as unset", () => {
    const blank = {
      PORT: "",
      HOST: " ",
      SPINE_URL: "",
      IDP_URL: "  ",
      REDIS_URL: "",
      LOG_LEVEL: "",
      AUDIT_LOG: " ",
      SESSION_IDLE_TIMEOUT_SECONDS: " ",
    };

    expect(loadConfig(blank, SIMULATORS)).toEqual(loadConfig({}, SIMULATORS));
  });

  it("reads every setting that is given", () => {
    const config = loadConfig(
      {
        ...REAL_BACKENDS,
        PORT: "8080",
        HOST: "0.0.0.0",
        NODE_ENV: "production",
        SPINE_TIMEOUT_MS: "2500",
        IDP_TIMEOUT_MS: "5000",
        IDP_TIME_ZONE: "Asia/Dhaka",
        REDIS_URL: "redis://cache.internal:6379/2",
        SESSION_ENCRYPTION_KEY: KEY_BASE64,
        SESSION_ENCRYPTION_PREVIOUS_KEYS: `${KEY_HEX}, ${KEY_BASE64}`,
        LOGIN_MAX_FAILURES_PER_ACCOUNT: "5",
        LOGIN_ACCOUNT_WINDOW_MINUTES: "10",
        LOGIN_ACCOUNT_LOCK_MINUTES: "30",
        LOGIN_MAX_CONSECUTIVE_FAILURES: "50",
        LOGIN_CONSECUTIVE_LOCK_MINUTES: "120",
        LOGIN_MAX_FAILURES_PER_ADDRESS: "1000",
        LOGIN_ADDRESS_WINDOW_MINUTES: "30",
        TRUSTED_PROXY_HOPS: "1",
        SESSION_IDLE_TIMEOUT_SECONDS: "600",
        SESSION_ABSOLUTE_TIMEOUT_SECONDS: "3600",
        SESSION_MAX_PER_USER: "3",
        USER_INFO_CACHE_TTL_SECONDS: "0",
        LOG_LEVEL: "warn",
        AUDIT_LOG: "/var/log/gateway/audit.jsonl",
        FEDERATION_ROUTER_SECRET: ROUTER_SECRET,
        SESSION_COOKIE: "on",
        CORS_ORIGINS: "https://app.example.org, http://127.0.0.1:5173",
        BACKEND_MAX_RESPONSE_BYTES: "65536",
        BREAKER_FAILURE_THRESHOLD: "3",
        BREAKER_COOL_DOWN_MS: "30000",
        HTTP_REQUEST_TIMEOUT_MS: "20000",
        HTTP_HEADERS_TIMEOUT_MS: "20000",
        HTTP_KEEP_ALIVE_TIMEOUT_MS: "350000",
        HTTP_MAX_CONNECTIONS: "200",
      },
      SIMULATORS,
    );

    const expected: GatewayConfig = {
      port: 8080,
      host: "0.0.0.0",
      production: true,
      spine: { url: "https://ers.example.nhs.uk/ers-api/", asid: "200000000220", timeoutMs: 2_500 },
      idp: { url: "https://idp.example.org/", clientId: "100042", apiToken: "org-api-token", timeoutMs: 5_000, timeZone: "Asia/Dhaka" },
      redis: {
        topology: { kind: "standalone", node: { host: "cache.internal", port: 6379 }, db: 2 },
        username: undefined,
        password: undefined,
        tls: undefined,
      },
      sessions: {
        idleTimeoutMs: 600_000,
        absoluteTimeoutMs: 3_600_000,
        encryptionKey: Buffer.from(KEY_BASE64, "base64"),
        previousEncryptionKeys: [Buffer.from(KEY_HEX, "hex"), Buffer.from(KEY_BASE64, "base64")],
        maxPerUser: 3,
      },
      login: {
        maxFailuresPerAccount: 5,
        accountWindowMs: 10 * 60_000,
        accountLockMs: 30 * 60_000,
        maxConsecutiveFailures: 50,
        consecutiveMemoryMs: 120 * 60_000,
        maxFailuresPerAddress: 1000,
        addressWindowMs: 30 * 60_000,
      },
      trustedProxyHops: 1,
      userInfoTtlMs: 0,
      logLevel: "warn",
      auditLog: "/var/log/gateway/audit.jsonl",
      federationRouterSecret: ROUTER_SECRET,
      sessionCookie: true,
      corsOrigins: ["https://app.example.org", "http://127.0.0.1:5173"],
      backendMaxResponseBytes: 65_536,
      breaker: { failureThreshold: 3, coolDownMs: 30_000 },
      http: { requestTimeoutMs: 20_000, headersTimeoutMs: 20_000, keepAliveTimeoutMs: 350_000, maxConnections: 200 },
    };
    expect(config).toEqual(expected);
  });

  it("accepts PORT 0 (any free port) and rediss:// for REDIS_URL", () => {
    const config = loadConfig({ PORT: "0", REDIS_URL: "rediss://user:secret@cache.internal:6380", SESSION_ENCRYPTION_KEY: KEY_HEX }, SIMULATORS);

    expect(config.port).toBe(0);
    expect(config.redis).toEqual({
      topology: { kind: "standalone", node: { host: "cache.internal", port: 6380 }, db: 0 },
      username: "user",
      password: "secret",
      tls: { ca: undefined, cert: undefined, key: undefined },
    });
  });

  it("ends a backend URL with exactly one slash, so the contracts' relative paths join onto it", () => {
    const withSlash = loadConfig({ ...REAL_BACKENDS, SPINE_URL: "http://spine.internal:9000/base/" }, SIMULATORS);
    const withoutSlash = loadConfig({ ...REAL_BACKENDS, SPINE_URL: "http://spine.internal:9000/base" }, SIMULATORS);

    expect(withSlash.spine.url).toBe("http://spine.internal:9000/base/");
    expect(withoutSlash.spine.url).toBe("http://spine.internal:9000/base/");
  });

  it("is production only when NODE_ENV is exactly production", () => {
    expect(loadConfig({ NODE_ENV: "production" }, SIMULATORS).production).toBe(true);
    expect(loadConfig({ NODE_ENV: "development" }, SIMULATORS).production).toBe(false);
    expect(loadConfig({ NODE_ENV: "test" }, SIMULATORS).production).toBe(false);
  });

  it("allows idle and absolute timeouts to be equal", () => {
    const config = loadConfig({ SESSION_IDLE_TIMEOUT_SECONDS: "900", SESSION_ABSOLUTE_TIMEOUT_SECONDS: "900" }, SIMULATORS);

    expect(config.sessions).toMatchObject({ idleTimeoutMs: 900_000, absoluteTimeoutMs: 900_000 });
  });

  it.each<[string, string, Record<string, string>]>([
    ["PORT", "non-numeric", { PORT: "abc" }],
    ["PORT", "negative", { PORT: "-1" }],
    ["PORT", "above 65535", { PORT: "65536" }],
    ["PORT", "fractional", { PORT: "4000.5" }],
    ["PORT", "in exponent notation", { PORT: "4e3" }],
    ["SPINE_URL", "not a URL", { SPINE_URL: "spine.internal" }],
    ["SPINE_URL", "not http(s)", { SPINE_URL: "ftp://spine.internal", SPINE_ASID: "200000000220" }],
    ["IDP_URL", "not a URL", { IDP_URL: "not a url" }],
    ["IDP_URL", "not http(s)", { IDP_URL: "redis://idp.internal", IDP_CLIENT_ID: "100042", IDP_API_TOKEN: "t" }],
    ["IDP_CLIENT_ID", "missing while IDP_URL is set", { IDP_URL: "https://idp.example.org", IDP_API_TOKEN: "org-api-token" }],
    ["IDP_API_TOKEN", "missing while IDP_URL is set", { IDP_URL: "https://idp.example.org", IDP_CLIENT_ID: "100042" }],
    ["IDP_API_TOKEN", "blank while IDP_URL is set", { IDP_URL: "https://idp.example.org", IDP_CLIENT_ID: "100042", IDP_API_TOKEN: "  " }],
    ["SPINE_ASID", "missing while SPINE_URL is set", { SPINE_URL: "https://ers.example.nhs.uk" }],
    ["SPINE_ASID", "not digits", { SPINE_ASID: "ASID-200000000220" }],
    ["SPINE_ASID", "not digits with SPINE_URL set", { SPINE_URL: "https://ers.example.nhs.uk", SPINE_ASID: "2000 0000 0220" }],
    ["REDIS_URL", "http://", { REDIS_URL: "http://cache.internal:6379" }],
    ["REDIS_URL", "not a URL", { REDIS_URL: "cache.internal:6379" }],
    ["REDIS_URL", "a path that is not a database number", { REDIS_URL: "redis://cache.internal:6379/sessions" }],
    ["REDIS_CLUSTER_NODES", "set with REDIS_URL", { REDIS_URL: "redis://a:6379", REDIS_CLUSTER_NODES: "redis://b:6379" }],
    ["REDIS_SENTINELS", "set with REDIS_URL", { REDIS_URL: "redis://a:6379", REDIS_SENTINELS: "s:26379", REDIS_SENTINEL_MASTER: "m" }],
    ["REDIS_CLUSTER_NODES", "mixing redis:// and rediss://", { REDIS_CLUSTER_NODES: "redis://a:6379,rediss://b:6379" }],
    ["REDIS_CLUSTER_NODES", "with different credentials per node", { REDIS_CLUSTER_NODES: "redis://u:p1@a:6379,redis://u:p2@b:6379" }],
    ["REDIS_CLUSTER_NODES", "naming a database (Cluster has only 0)", { REDIS_CLUSTER_NODES: "redis://a:6379/2" }],
    ["REDIS_CLUSTER_NODES", "host:port without a scheme", { REDIS_CLUSTER_NODES: "a:6379" }],
    ["REDIS_SENTINELS", "a URL, not host:port", { REDIS_SENTINELS: "redis://s:26379", REDIS_SENTINEL_MASTER: "m" }],
    ["REDIS_SENTINEL_MASTER", "missing while REDIS_SENTINELS is set", { REDIS_SENTINELS: "s:26379" }],
    ["REDIS_SENTINEL_MASTER", "set without REDIS_SENTINELS", { REDIS_URL: "redis://a:6379", REDIS_SENTINEL_MASTER: "m" }],
    [
      "REDIS_SENTINEL_PASSWORD",
      "missing while REDIS_SENTINEL_USERNAME is set",
      { REDIS_SENTINELS: "s:26379", REDIS_SENTINEL_MASTER: "m", REDIS_SENTINEL_USERNAME: "u" },
    ],
    ["REDIS_PASSWORD", "set while REDIS_URL has a password too", { REDIS_URL: "redis://u:p@a:6379", REDIS_PASSWORD: "p" }],
    ["REDIS_PASSWORD", "missing while REDIS_USERNAME is set", { REDIS_URL: "redis://a:6379", REDIS_USERNAME: "gateway" }],
    ["REDIS_PASSWORD", "set without any Redis", { REDIS_PASSWORD: "p" }],
    ["REDIS_TLS_CA_FILE", "set while REDIS_URL is redis:// (no TLS)", { REDIS_URL: "redis://a:6379", REDIS_TLS_CA_FILE: "/etc/hostname" }],
    ["REDIS_TLS_CA_FILE", "set without any Redis", { REDIS_TLS_CA_FILE: "/etc/hostname" }],
    ["REDIS_TLS_CA_FILE", "unreadable", { REDIS_URL: "rediss://a:6379", REDIS_TLS_CA_FILE: "/nonexistent/ca.pem" }],
    ["REDIS_TLS_CA_FILE", "not a certificate", { REDIS_URL: "rediss://a:6379", REDIS_TLS_CA_FILE: "/etc/hostname" }],
    ["REDIS_TLS_KEY_FILE", "missing while REDIS_TLS_CERT_FILE is set", { REDIS_URL: "rediss://a:6379", REDIS_TLS_CERT_FILE: "/etc/hostname" }],
    ["REDIS_TLS_CERT_FILE", "missing while REDIS_TLS_KEY_FILE is set", { REDIS_URL: "rediss://a:6379", REDIS_TLS_KEY_FILE: "/etc/hostname" }],
    ["SESSION_ENCRYPTION_KEY", "missing while REDIS_CLUSTER_NODES is set", { REDIS_CLUSTER_NODES: "redis://a:6379" }],
    ["SESSION_ENCRYPTION_KEY", "missing while REDIS_SENTINELS is set", { REDIS_SENTINELS: "s:26379", REDIS_SENTINEL_MASTER: "m" }],
    ["LOG_LEVEL", "unknown", { LOG_LEVEL: "verbose" }],
    ["AUDIT_LOG", "a directory, not a file", { AUDIT_LOG: "/var/log/gateway/" }],
    ["SESSION_ENCRYPTION_KEY", "missing while REDIS_URL is set", { REDIS_URL: "redis://cache.internal:6379" }],
    ["SESSION_ENCRYPTION_KEY", "too short", { SESSION_ENCRYPTION_KEY: Buffer.alloc(16, 1).toString("base64") }],
    ["SESSION_ENCRYPTION_KEY", "not base64 or hex", { SESSION_ENCRYPTION_KEY: "correct horse battery staple, a passphrase" }],
    ["SESSION_ENCRYPTION_PREVIOUS_KEYS", "holding a bad key", { SESSION_ENCRYPTION_PREVIOUS_KEYS: `${Buffer.alloc(32, 1).toString("hex")},short` }],
    ["LOGIN_MAX_FAILURES_PER_ACCOUNT", "zero", { LOGIN_MAX_FAILURES_PER_ACCOUNT: "0" }],
    ["LOGIN_MAX_CONSECUTIVE_FAILURES", "over the NIST cap of 100", { LOGIN_MAX_CONSECUTIVE_FAILURES: "101" }],
    ["LOGIN_MAX_FAILURES_PER_ADDRESS", "non-numeric", { LOGIN_MAX_FAILURES_PER_ADDRESS: "many" }],
    ["LOGIN_ACCOUNT_LOCK_MINUTES", "zero", { LOGIN_ACCOUNT_LOCK_MINUTES: "0" }],
    ["TRUSTED_PROXY_HOPS", "over 10", { TRUSTED_PROXY_HOPS: "11" }],
    ["SPINE_TIMEOUT_MS", "over 5000 (two calls in a row must answer within 10 s)", { SPINE_TIMEOUT_MS: "5001" }],
    ["SPINE_TIMEOUT_MS", "zero", { SPINE_TIMEOUT_MS: "0" }],
    ["IDP_TIMEOUT_MS", "over 5000", { IDP_TIMEOUT_MS: "10000" }],
    ["IDP_TIMEOUT_MS", "non-numeric", { IDP_TIMEOUT_MS: "5s" }],
    [
      "SESSION_IDLE_TIMEOUT_SECONDS",
      "longer than the absolute timeout",
      { SESSION_IDLE_TIMEOUT_SECONDS: "7200", SESSION_ABSOLUTE_TIMEOUT_SECONDS: "3600" },
    ],
    ["SESSION_IDLE_TIMEOUT_SECONDS", "zero", { SESSION_IDLE_TIMEOUT_SECONDS: "0" }],
    ["SESSION_ABSOLUTE_TIMEOUT_SECONDS", "non-numeric", { SESSION_ABSOLUTE_TIMEOUT_SECONDS: "12h" }],
    ["SESSION_MAX_PER_USER", "zero (no user could sign in)", { SESSION_MAX_PER_USER: "0" }],
    ["SESSION_MAX_PER_USER", "over 1000", { SESSION_MAX_PER_USER: "1001" }],
    ["SESSION_MAX_PER_USER", "non-numeric", { SESSION_MAX_PER_USER: "ten" }],
    ["USER_INFO_CACHE_TTL_SECONDS", "negative", { USER_INFO_CACHE_TTL_SECONDS: "-5" }],
    ["IDP_TIME_ZONE", "not an IANA zone", { IDP_TIME_ZONE: "Mars/Olympus_Mons" }],
    ["IDP_TIME_ZONE", "an offset, not a zone", { IDP_TIME_ZONE: "GMT+6" }],
    ["FEDERATION_ROUTER_SECRET", "shorter than 32 characters", { FEDERATION_ROUTER_SECRET: ROUTER_SECRET.slice(1) }],
    ["FEDERATION_ROUTER_SECRET", "holding a space (it travels in a header)", { FEDERATION_ROUTER_SECRET: `${ROUTER_SECRET} and more` }],
    ["SESSION_COOKIE", "neither on nor off", { SESSION_COOKIE: "yes" }],
    ["CORS_ORIGINS", "a wildcard (credentials are always allowed to listed origins)", { CORS_ORIGINS: "*" }],
    ["CORS_ORIGINS", "an origin with a path", { CORS_ORIGINS: "https://app.example.org/app" }],
    ["CORS_ORIGINS", "an origin with a trailing slash", { CORS_ORIGINS: "https://app.example.org/" }],
    ["CORS_ORIGINS", "not http(s)", { CORS_ORIGINS: "chrome-extension://abcdef" }],
    ["CORS_ORIGINS", "a bare host name", { CORS_ORIGINS: "https://app.example.org,app.example.org" }],
    ["BACKEND_MAX_RESPONSE_BYTES", "below 1 KiB", { BACKEND_MAX_RESPONSE_BYTES: "1023" }],
    ["BACKEND_MAX_RESPONSE_BYTES", "non-numeric", { BACKEND_MAX_RESPONSE_BYTES: "256KB" }],
    ["BREAKER_FAILURE_THRESHOLD", "zero (no failure count means anything)", { BREAKER_FAILURE_THRESHOLD: "0" }],
    ["BREAKER_FAILURE_THRESHOLD", "non-numeric", { BREAKER_FAILURE_THRESHOLD: "five" }],
    ["BREAKER_COOL_DOWN_MS", "below 100 ms", { BREAKER_COOL_DOWN_MS: "99" }],
    ["BREAKER_COOL_DOWN_MS", "over 10 minutes", { BREAKER_COOL_DOWN_MS: "600001" }],
    ["HTTP_REQUEST_TIMEOUT_MS", "zero (Node's 'no timeout')", { HTTP_REQUEST_TIMEOUT_MS: "0" }],
    ["HTTP_HEADERS_TIMEOUT_MS", "longer than the request timeout", { HTTP_REQUEST_TIMEOUT_MS: "5000", HTTP_HEADERS_TIMEOUT_MS: "6000" }],
    ["HTTP_KEEP_ALIVE_TIMEOUT_MS", "over 10 minutes", { HTTP_KEEP_ALIVE_TIMEOUT_MS: "600001" }],
    ["HTTP_MAX_CONNECTIONS", "zero", { HTTP_MAX_CONNECTIONS: "0" }],
  ])("refuses %s when it is %s, with a ConfigError whose message starts with the name", (setting, _case, env) => {
    const error = refusal(env);

    expect(error.setting).toBe(setting);
    expect(error.message.startsWith(`${setting}: `)).toBe(true);
    // Says what was expected, beyond the name.
    expect(error.message.length).toBeGreaterThan(setting.length + 10);
  });

  it("names what was expected, not the value given (values may be secrets)", () => {
    const secret = "s3cr3t-in-a-url";

    const error = refusal({ REDIS_URL: `http://user:${secret}@cache.internal:6379` });

    expect(error.message).not.toContain(secret);
    expect(error.message).toMatch(/redis:\/\//);
  });
});

describe("loadConfig: Redis topologies, credentials and TLS", () => {
  const KEY = { SESSION_ENCRYPTION_KEY: KEY_HEX };
  let certs: TestCertificates;
  beforeAll(() => {
    certs = makeCertificates();
  });
  afterAll(() => certs.remove());

  it("reads Cluster seed nodes with the credentials of their URLs", () => {
    const config = loadConfig(
      { ...KEY, REDIS_CLUSTER_NODES: "redis://gateway:pa%40ss@redis-a:7000, redis://gateway:pa%40ss@[::1]:7001" },
      SIMULATORS,
    );

    expect(config.redis).toEqual({
      topology: {
        kind: "cluster",
        nodes: [
          { host: "redis-a", port: 7000 },
          { host: "::1", port: 7001 },
        ],
      },
      username: "gateway",
      password: "pa@ss",
      tls: undefined,
    });
  });

  it("reads sentinels, the primary's name, and separate credentials for the sentinels and the data nodes", () => {
    const config = loadConfig(
      {
        ...KEY,
        REDIS_SENTINELS: "sentinel-a:26379,sentinel-b:26380",
        REDIS_SENTINEL_MASTER: "gateway",
        REDIS_SENTINEL_USERNAME: "watcher",
        REDIS_SENTINEL_PASSWORD: "sentinel-secret",
        REDIS_USERNAME: "gateway",
        REDIS_PASSWORD: "data-secret",
      },
      SIMULATORS,
    );

    expect(config.redis).toEqual({
      topology: {
        kind: "sentinel",
        sentinels: [
          { host: "sentinel-a", port: 26379 },
          { host: "sentinel-b", port: 26380 },
        ],
        masterName: "gateway",
        sentinelUsername: "watcher",
        sentinelPassword: "sentinel-secret",
      },
      username: "gateway",
      password: "data-secret",
      tls: undefined,
    });
  });

  it("reads the CA, the client certificate and its key at start-up for rediss://", () => {
    const config = loadConfig(
      {
        ...KEY,
        REDIS_URL: "rediss://127.0.0.1:6380",
        REDIS_TLS_CA_FILE: certs.caCert,
        REDIS_TLS_CERT_FILE: certs.clientCert,
        REDIS_TLS_KEY_FILE: certs.clientKey,
      },
      SIMULATORS,
    );

    expect(config.redis?.tls).toEqual({ ca: readFileSync(certs.caCert), cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) });
  });

  it("turns TLS on for Sentinel when a TLS file is named (there is no URL scheme to say so)", () => {
    const config = loadConfig({ ...KEY, REDIS_SENTINELS: "s:26379", REDIS_SENTINEL_MASTER: "m", REDIS_TLS_CA_FILE: certs.caCert }, SIMULATORS);

    expect(config.redis?.tls?.ca).toEqual(readFileSync(certs.caCert));
  });

  it("refuses a client key that is not the certificate's, naming REDIS_TLS_KEY_FILE", () => {
    const error = refusal({
      ...KEY,
      REDIS_URL: "rediss://127.0.0.1:6380",
      REDIS_TLS_CERT_FILE: certs.clientCert,
      REDIS_TLS_KEY_FILE: certs.serverKey,
    });

    expect(error.setting).toBe("REDIS_TLS_KEY_FILE");
  });

  it("refuses a private key given as the CA, naming REDIS_TLS_CA_FILE", () => {
    expect(refusal({ ...KEY, REDIS_URL: "rediss://127.0.0.1:6380", REDIS_TLS_CA_FILE: certs.clientKey }).setting).toBe("REDIS_TLS_CA_FILE");
  });

  it("keeps passwords out of its messages", () => {
    const error = refusal({ REDIS_CLUSTER_NODES: "redis://u:cluster-secret@a:6379,redis://u:other-secret@b:6379" });

    expect(error.message).not.toMatch(/secret/);
  });
});
