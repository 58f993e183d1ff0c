import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { parseUserInfo } from "../../src/backends/idp/idp.wire.js";
import { loadConfig } from "../../src/config/config.js";
import { startGateway, type RunningGateway } from "../../src/gateway.js";
import { IDP_DEMO, SPINE_DEMO } from "../../src/simulators/index.js";
import { hashSessionId } from "../../src/observability/audit.js";
import { EXPIRED_RECORD_GRACE_MS } from "../../src/sessions/session.service.js";
import { newSessionToken, storeKeyOf } from "../../src/sessions/session-token.js";
import { Sealer, sealingKey } from "../../src/store/sealed-store.js";
import {
  CreateSessionDocument,
  MeAndSessionDocument,
  MeDocument,
  SelectRoleDocument,
  SigninDocument,
  SignoutDocument,
} from "../generated/operations.js";
import { codes, idpUser, spineUser, Stack, TEST_ENCRYPTION_KEY } from "../support/harness.js";
import { describeWithRedis, describeWithRedisServer, freePort, RedisInspector, RedisServer } from "../support/redis.js";

const IDLE_MS = 600_000;
const HELD_ROLE = { businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R01" };
const WELL_FORMED_TOKEN = "A".repeat(43);

/** Runs `work` and says how long it took, in milliseconds. */
async function timed<T>(work: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = performance.now();
  const result = await work();
  return { result, ms: performance.now() - started };
}

describeWithRedis("Session store on Redis", (redisUrl) => {
  let stack: Stack;
  let redis: RedisInspector;
  let second: RunningGateway | undefined;
  const issued: string[] = [];
  beforeAll(async () => {
    stack = await Stack.start({
      env: { REDIS_URL: redisUrl, SESSION_IDLE_TIMEOUT_SECONDS: String(IDLE_MS / 1000), SESSION_ABSOLUTE_TIMEOUT_SECONDS: "900" },
    });
    redis = await RedisInspector.connect(redisUrl);
  });
  afterEach(async () => {
    await redis.forget(issued.splice(0));
  });
  afterAll(async () => {
    await second?.close();
    await stack?.close();
    await redis?.close();
  });

  /** A gateway of its own on the same Redis and the same simulators: another instance behind the load balancer. */
  async function secondGateway(): Promise<RunningGateway> {
    const config = loadConfig(
      {
        PORT: "0",
        SPINE_URL: stack.spine.url,
        SPINE_ASID: SPINE_DEMO.asid,
        IDP_URL: stack.idp.url,
        IDP_CLIENT_ID: IDP_DEMO.clientId,
        IDP_API_TOKEN: IDP_DEMO.apiToken,
        REDIS_URL: redisUrl,
        SESSION_ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
        LOG_LEVEL: "silent",
      },
      { asid: SPINE_DEMO.asid, clientId: IDP_DEMO.clientId, apiToken: IDP_DEMO.apiToken },
    );
    second = await startGateway(
      { ...config, spine: { ...config.spine, url: config.spine.url! }, idp: { ...config.idp, url: config.idp.url! } },
      { now: stack.clock.now, expirySweepIntervalMs: 0 },
    );
    return second;
  }

  async function ttlOf(key: string): Promise<number> {
    return redis.client.pTTL(key);
  }

  /** A session record stays in Redis until its idle expiry plus the grace the expiry sweep reads it in. */
  const RECORD_TTL_MS = IDLE_MS + EXPIRED_RECORD_GRACE_MS;

  it("runs the Spine flow with the session in Redis under session::<hash>, kept until its idle expiry (plus the sweep's grace) and indexed by it", async () => {
    const created = await stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken });
    const first = created.data!.createSession.token!;
    issued.push(first);
    const firstKey = RedisInspector.sessionKey(first);
    expect(await redis.client.exists(firstKey)).toBe(1);
    expect(await ttlOf(firstKey)).toBeGreaterThan(0);
    expect(await ttlOf(firstKey)).toBeLessThanOrEqual(RECORD_TTL_MS);
    const firstDue = Number(await redis.client.zScore("expiry:session", storeKeyOf(first)));
    expect(firstDue).toBeGreaterThan(stack.clock.now());
    expect(firstDue).toBeLessThanOrEqual(stack.clock.now() + IDLE_MS);

    const selected = await stack.execute(SelectRoleDocument, HELD_ROLE, { token: first });
    const rotated = selected.data!.selectRole.token!;
    issued.push(rotated);
    const rotatedKey = RedisInspector.sessionKey(rotated);
    expect(await redis.client.exists(firstKey)).toBe(0);
    expect(await redis.client.exists(rotatedKey)).toBe(1);
    expect(await ttlOf(rotatedKey)).toBeGreaterThan(0);
    expect(await ttlOf(rotatedKey)).toBeLessThanOrEqual(RECORD_TTL_MS);
    expect(await redis.client.zScore("expiry:session", storeKeyOf(first))).toBeNull();

    const me = await stack.execute(MeAndSessionDocument, {}, { token: rotated });
    expect(me.errors).toBeUndefined();
    expect(me.data).toMatchObject({ me: { id: "spine:555020964101" }, session: { roleSelected: true } });

    const signout = await stack.execute(SignoutDocument, {}, { token: rotated });
    expect(signout.data).toEqual({ signout: true });
    expect(await redis.client.exists(rotatedKey)).toBe(0);
    expect(await redis.client.zScore("expiry:session", storeKeyOf(rotated))).toBeNull();
    expect((await stack.execute(MeDocument, {}, { token: rotated })).data!.me).toBeNull();
  });

  it("runs the IdP sign-in with the session and the cached user info in Redis, each with a TTL", async () => {
    const signedIn = await stack.execute(SigninDocument, { email: idpUser.email, password: idpUser.password });
    const token = signedIn.data!.signin.token!;
    issued.push(token);

    const me = await stack.execute(MeDocument, {}, { token });

    expect(me.errors).toBeUndefined();
    expect(me.data!.me?.id).toMatch(/^idp:/);
    const sessionKey = RedisInspector.sessionKey(token);
    expect(await ttlOf(sessionKey)).toBeGreaterThan(0);
    expect(await ttlOf(sessionKey)).toBeLessThanOrEqual(RECORD_TTL_MS);
    // The access token as the IdP issued it, read off the simulator's call log: the store has it sealed.
    const accessToken = stack.idp.calls("userinfo").at(-1)!.path.split("/").pop()!;
    const storedSession = (await redis.client.get(sessionKey))!;
    expect(JSON.parse(storedSession)).toMatchObject({ value: expect.stringMatching(/^v1\.[\w-]{8}\.[\w-]+\.[\w-]+$/) });
    expect(storedSession).not.toContain(accessToken);
    expect(storedSession).not.toContain(idpUser.email);
    const userInfoKey = `userinfo::${storeKeyOf(accessToken)}`;
    expect(await ttlOf(userInfoKey)).toBeGreaterThan(0);
    expect(await ttlOf(userInfoKey)).toBeLessThanOrEqual(60_000);
    expect(await redis.client.get(userInfoKey)).not.toContain(idpUser.email);
  });

  it("stores an IdP session sealed with only who the user is, and reads one an earlier release stored with the whole user", async () => {
    const sealer = new Sealer(sealingKey(Buffer.from(TEST_ENCRYPTION_KEY, "base64")));
    const signedIn = await stack.execute(SigninDocument, { email: idpUser.email, password: idpUser.password });
    const token = signedIn.data!.signin.token!;
    issued.push(token);
    const stored = JSON.parse((await redis.client.get(RedisInspector.sessionKey(token)))!) as { value: string; expires: number };
    const record = sealer.open<Record<string, unknown>>(stored.value, storeKeyOf(token))!;
    // Earlier releases read provider and identifier of an IdP user, for the audit trail: both are there.
    expect(record["user"]).toEqual({ provider: "IDP", identifier: "6" });

    // The same session as an earlier release wrote it, under a token of its own.
    const earlier = { ...record, id: randomUUID(), user: parseUserInfo(idpUser.userInfo, "UTC") };
    const earlierToken = newSessionToken();
    issued.push(earlierToken);
    await redis.client.set(
      RedisInspector.sessionKey(earlierToken),
      JSON.stringify({ value: sealer.seal(earlier, storeKeyOf(earlierToken)), expires: stored.expires }),
      {
        PX: 60_000,
      },
    );

    const me = await stack.execute(MeDocument, {}, { token: earlierToken });
    expect(me.errors).toBeUndefined();
    expect(me.data!.me).toMatchObject({ id: "idp:6", displayName: "Dr. Rahima Khatun" });
    expect((await stack.execute(SignoutDocument, {}, { token: earlierToken })).data).toEqual({ signout: true });
    expect(stack.audit.at(-1)).toMatchObject({
      event: "signout",
      outcome: "success",
      provider: "IDP",
      userId: "idp:6",
      sessionIdHash: hashSessionId(earlier.id),
    });
  });

  it("writes a session under its namespace only: session::<hash>, with no other copy of the hash but its expiry index entry", async () => {
    const created = await stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken });
    const signedIn = await stack.execute(SigninDocument, { email: idpUser.email, password: idpUser.password });
    const tokens = [created.data!.createSession.token!, signedIn.data!.signin.token!];
    issued.push(...tokens);

    for (const token of tokens) {
      expect(await redis.keys(`*${storeKeyOf(token)}*`)).toEqual([`session::${storeKeyOf(token)}`]);
    }
  });

  it("moves the Redis TTL with the session's expiry, capped by the absolute timeout", async () => {
    const created = await stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken });
    const token = created.data!.createSession.token!;
    issued.push(token);
    const key = RedisInspector.sessionKey(token);

    stack.clock.advance(500_000);
    const me = await stack.execute(MeDocument, {}, { token });

    expect(me.data!.me?.id).toBe("spine:555020964101");
    // Touched 500 s in: idle would allow 600 s more, the absolute limit (900 s) allows 400 s;
    // the record stays 5 minutes longer, so that the expiry sweep can still say whose it was.
    const ttl = await ttlOf(key);
    expect(ttl).toBeGreaterThan(395_000 + 300_000);
    expect(ttl).toBeLessThanOrEqual(400_000 + 300_000);
  });

  it("shares sessions between gateways on the same Redis: opened on one, used and ended on another", async () => {
    const other = await secondGateway();
    const created = await stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken });
    const token = created.data!.createSession.token!;
    issued.push(token);
    const ask = (query: string): Promise<{ data?: { me: { id: string } | null; signout?: boolean } }> =>
      fetch(`${other.url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ query }),
      }).then((response) => response.json() as never);

    expect((await ask("{ me { id } }")).data).toEqual({ me: { id: "spine:555020964101" } });

    expect((await ask("mutation { signout }")).data).toEqual({ signout: true });
    expect((await stack.execute(MeDocument, {}, { token })).data!.me).toBeNull();
  });
});

describe("Session store unreachable (REDIS_URL at a closed port): the gateway fails closed", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await Stack.start({ env: { REDIS_URL: `redis://127.0.0.1:${await freePort()}` } });
  });
  afterAll(() => stack.close());

  it("answers createSession with STORE_UNAVAILABLE within 3 s", async () => {
    const { result, ms } = await timed(() => stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken }));

    expect(codes(result)).toEqual(["STORE_UNAVAILABLE"]);
    expect(result.data).toBeNull();
    expect(ms).toBeLessThan(3_000);
  });

  it("asks no backend when the store cannot be read, since the sign-in limits cannot be checked", async () => {
    stack.spine.resetCalls();
    stack.idp.resetCalls();

    await stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken });
    await stack.execute(SigninDocument, { email: idpUser.email, password: idpUser.password });

    expect(stack.spine.calls()).toHaveLength(0);
    expect(stack.idp.calls()).toHaveLength(0);
  });

  it("answers signin with STORE_UNAVAILABLE within 3 s", async () => {
    const { result, ms } = await timed(() => stack.execute(SigninDocument, { email: idpUser.email, password: idpUser.password }));

    expect(codes(result)).toEqual(["STORE_UNAVAILABLE"]);
    expect(ms).toBeLessThan(3_000);
  });

  it("answers me with a well-formed token with STORE_UNAVAILABLE, not with null, within 3 s", async () => {
    const { result, ms } = await timed(() => stack.execute(MeDocument, {}, { token: WELL_FORMED_TOKEN }));

    expect(codes(result)).toEqual(["STORE_UNAVAILABLE"]);
    expect(result.errors![0]!.path).toEqual(["me"]);
    expect(ms).toBeLessThan(3_000);
  });

  it("answers selectRole with STORE_UNAVAILABLE, not UNAUTHENTICATED, and calls no backend", async () => {
    stack.spine.resetCalls();

    const result = await stack.execute(SelectRoleDocument, HELD_ROLE, { token: WELL_FORMED_TOKEN });

    expect(codes(result)).toEqual(["STORE_UNAVAILABLE"]);
    expect(stack.spine.calls("A002")).toHaveLength(0);
  });

  it("answers signout with STORE_UNAVAILABLE, not false", async () => {
    const result = await stack.execute(SignoutDocument, {}, { token: WELL_FORMED_TOKEN });

    expect(codes(result)).toEqual(["STORE_UNAVAILABLE"]);
  });

  it("still answers me without a token, or with a malformed one, with null: no store read is needed", async () => {
    const none = await stack.execute(MeDocument, {});
    const malformed = await stack.execute(MeDocument, {}, { token: "not-a-token" });

    expect(none.errors).toBeUndefined();
    expect(none.data).toEqual({ me: null });
    expect(malformed.errors).toBeUndefined();
    expect(malformed.data).toEqual({ me: null });
  });

  it("names store as down in /readyz (503) within 2.5 s", async () => {
    const { result: response, ms } = await timed(() => fetch(`${stack.url}/readyz`));

    expect(response.status).toBe(503);
    const body = (await response.json()) as { down: string[]; checks: Record<string, string> };
    expect(body.down).toEqual(["store"]);
    expect(body.checks).toEqual({ store: "down", spine: "up", idp: "up", audit: "up" });
    expect(ms).toBeLessThan(2_500);
  });
});

describeWithRedisServer("Session store when Redis goes away and comes back (a private redis-server)", () => {
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
  beforeEach(async () => {
    // Each test starts with Redis up.
    if (!(await up())) await server.restart();
  });

  async function up(): Promise<boolean> {
    const response = await fetch(`${stack.url}/readyz`);
    return response.status === 200;
  }

  async function open(): Promise<string> {
    const created = await stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken });
    expect(created.errors).toBeUndefined();
    return created.data!.createSession.token!;
  }

  it("fails closed once Redis dies: me answers STORE_UNAVAILABLE within 3 s and readiness names the store", async () => {
    const token = await open();
    expect((await stack.execute(MeDocument, {}, { token })).data!.me?.id).toBe("spine:555020964101");

    await server.kill();
    const { result, ms } = await timed(() => stack.execute(MeDocument, {}, { token }));

    expect(codes(result)).toEqual(["STORE_UNAVAILABLE"]);
    expect(ms).toBeLessThan(3_000);
    const readiness = await fetch(`${stack.url}/readyz`);
    expect(readiness.status).toBe(503);
    expect(((await readiness.json()) as { down: string[] }).down).toEqual(["store"]);
  });

  it("recovers when Redis is back on the same port: new sessions work again", async () => {
    await server.kill();
    expect(codes(await stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken }))).toEqual(["STORE_UNAVAILABLE"]);

    await server.restart();
    // The client reconnects with a back-off of at most 2 s.
    const deadline = Date.now() + 8_000;
    let created = await stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken });
    while (created.errors !== undefined && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      created = await stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken });
    }

    expect(created.errors).toBeUndefined();
    const token = created.data!.createSession.token!;
    const me = await stack.execute(MeDocument, {}, { token });
    expect(me.errors).toBeUndefined();
    expect(me.data!.me?.id).toBe("spine:555020964101");
    expect((await fetch(`${stack.url}/readyz`)).status).toBe(200);
  });
});
