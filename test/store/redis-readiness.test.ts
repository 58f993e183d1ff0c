/**
 * What the store says about itself on private redis-server processes: ready only when it takes
 * writes (not a replica, not with refused credentials), a Redis that lost its data told to
 * operators, and TLS with a private CA and a client certificate.
 */
import { afterAll, beforeAll, expect, it } from "@jest/globals";
import { StoreError } from "../../src/errors/store-error.js";
import { openStore, type Store } from "../../src/store/store.js";
import { CreateSessionDocument, MeDocument } from "../generated/operations.js";
import { codes, spineUser, Stack } from "../support/harness.js";
import { describeWithRedisServer, redisSettings, RedisServer } from "../support/redis.js";
import { waitFor } from "../support/redis-topologies.js";
import { makeCertificates, type TestCertificates } from "../support/tls.js";

const stores: Store[] = [];
function store(env: Record<string, string>, onDataLost?: () => void): Store {
  const opened = openStore({ redis: redisSettings(env), operationTimeoutMs: 1_000, onError: () => {}, onDataLost });
  stores.push(opened);
  return opened;
}
afterAll(async () => {
  await Promise.all(stores.map((opened) => opened.close()));
});

async function readyz(stack: Stack): Promise<{ status: number; down: string[] | undefined }> {
  const response = await fetch(`${stack.url}/readyz`);
  return { status: response.status, down: ((await response.json()) as { down?: string[] }).down };
}

describeWithRedisServer("Store readiness: ready only when it accepts writes", () => {
  let primary: RedisServer;
  let replica: RedisServer;
  let locked: RedisServer;
  let stack: Stack;
  beforeAll(async () => {
    primary = await RedisServer.start();
    replica = await RedisServer.start(undefined, { args: ["--replicaof", "127.0.0.1", String(primary.port)] });
    locked = await RedisServer.start(undefined, { args: ["--requirepass", "the-right-password"] });
    stack = await Stack.start({ env: { REDIS_URL: replica.url } });
  });
  afterAll(async () => {
    await stack?.close();
    await Promise.all([primary, replica, locked].map((server) => server?.kill()));
  });

  it("answers /readyz 503 naming the store when REDIS_URL is a replica, and sign-ins STORE_UNAVAILABLE", async () => {
    expect(await readyz(stack)).toEqual({ status: 503, down: ["store"] });
    expect(codes(await stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken }))).toEqual(["STORE_UNAVAILABLE"]);
  });

  it("is ready on the primary the replica copies", async () => {
    await expect(store({ REDIS_URL: primary.url }).ready()).resolves.toBeUndefined();
  });

  it("is not ready with a refused password, and ready with the right one", async () => {
    await expect(store({ REDIS_URL: `redis://:wrong-password@127.0.0.1:${locked.port}` }).ready()).rejects.toBeInstanceOf(StoreError);
    await expect(store({ REDIS_URL: `redis://:the-right-password@127.0.0.1:${locked.port}` }).ready()).resolves.toBeUndefined();
  });
});

describeWithRedisServer("Redis restarted without persistence (sessions and lockouts gone)", () => {
  let server: RedisServer;
  let stack: Stack;
  beforeAll(async () => {
    server = await RedisServer.start();
    stack = await Stack.start({ env: { REDIS_URL: server.url } });
  });
  afterAll(async () => {
    await stack?.close();
    await server?.kill();
  });

  it("tells operators: one error log line and gateway_store_data_lost_total, not on a mere reconnect", async () => {
    const token = (await stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken })).data!.createSession.token!;
    expect((await readyz(stack)).status).toBe(200);
    const lostLines = () => stack.logs.filter((line) => line["level"] === 50 && String(line["msg"]).includes("Redis lost its data"));
    const lostCount = async () => Number(/^gateway_store_data_lost_total (\d+)/m.exec(await (await fetch(`${stack.url}/metrics`)).text())?.[1]);

    await server.kill();
    await server.restart();
    await waitFor("the store to be ready again", async () => (await readyz(stack)).status === 200, 10_000);
    await waitFor("the loss to be told", async () => lostLines().length === 1, 10_000);

    expect(await lostCount()).toBe(1);
    expect((await stack.execute(MeDocument, {}, { token })).data!.me).toBeNull();
    // Checked again and again (every readiness check, every 5 s): told once per loss.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await readyz(stack);
    expect(await lostCount()).toBe(1);
  });

  it("says nothing when another instance on the same Redis starts (it finds the marker, it does not replace it)", async () => {
    let told = 0;
    await store({ REDIS_URL: server.url }, () => told++).ready();
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await readyz(stack);

    expect(told).toBe(0);
    expect(stack.logs.filter((line) => String(line["msg"]).includes("Redis lost its data"))).toHaveLength(1);
  });
});

describeWithRedisServer("TLS to Redis with a private CA and a client certificate (mutual TLS)", () => {
  let certs: TestCertificates;
  let server: RedisServer;
  let stack: Stack;
  beforeAll(async () => {
    certs = makeCertificates();
    server = await RedisServer.start(undefined, {
      tls: true,
      args: ["--tls-cert-file", certs.serverCert, "--tls-key-file", certs.serverKey, "--tls-ca-cert-file", certs.caCert, "--tls-auth-clients", "yes"],
    });
    stack = await Stack.start({
      env: {
        REDIS_URL: `rediss://127.0.0.1:${server.port}`,
        REDIS_TLS_CA_FILE: certs.caCert,
        REDIS_TLS_CERT_FILE: certs.clientCert,
        REDIS_TLS_KEY_FILE: certs.clientKey,
      },
    });
  });
  afterAll(async () => {
    await stack?.close();
    await server?.kill();
    certs?.remove();
  });

  it("signs in and reads the session over TLS, and is ready", async () => {
    const token = (await stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken })).data?.createSession.token;

    expect((await stack.execute(MeDocument, {}, { token: token! })).data?.me?.id).toBe("spine:555020964101");
    expect((await readyz(stack)).status).toBe(200);
  });

  it("is not ready without the client certificate the server demands", async () => {
    await expect(store({ REDIS_URL: `rediss://127.0.0.1:${server.port}`, REDIS_TLS_CA_FILE: certs.caCert }).ready()).rejects.toBeInstanceOf(
      StoreError,
    );
  });

  it("is not ready when the server's certificate is not signed by the CA it trusts", async () => {
    const env = {
      REDIS_URL: `rediss://127.0.0.1:${server.port}`,
      REDIS_TLS_CA_FILE: certs.otherCaCert,
      REDIS_TLS_CERT_FILE: certs.clientCert,
      REDIS_TLS_KEY_FILE: certs.clientKey,
    };
    await expect(store(env).ready()).rejects.toBeInstanceOf(StoreError);
  });
});

describeWithRedisServer("Store while Redis is away", () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await RedisServer.start();
  });
  afterAll(() => server?.kill());

  it("never sends a write it gave up on once Redis is back", async () => {
    const away = store({ REDIS_URL: server.url });
    await away.ready();
    await server.kill();

    await expect(away.namespace<string>("late").set("k", "written too late", 60_000)).rejects.toBeInstanceOf(StoreError);
    await server.restart();
    await waitFor("the store to reconnect", () => away.ready().then(() => true), 10_000);

    expect(await away.namespace<string>("late").get("k")).toBeUndefined();
  });
});
