/**
 * Two gateway processes on one Redis, as two instances behind a load balancer: whatever one
 * instance does to a session, a user-info entry or a sign-in counter, the other sees at once,
 * and an instance dying takes no session with it. Both are real `node dist/src/main.js`
 * processes talking real HTTP to simulators started here.
 *
 * Other test files share this Redis, so nothing is flushed: sessions are keyed by fresh random
 * tokens, user info by the access tokens these simulators issue, and sign-in counters by
 * accounts and client addresses (X-Forwarded-For, one trusted proxy hop) made up for this run.
 */
import { afterAll, beforeAll, expect, it } from "@jest/globals";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { storeKeyOf } from "../../src/sessions/session-token.js";
import { IDP_DEMO, SPINE_DEMO, startIdpSimulator, startSpineSimulator, type IdpSimulator, type SpineSimulator } from "../../src/simulators/index.js";
import {
  CreateSessionDocument,
  CurrentSessionDocument,
  MeAndSessionDocument,
  SelectRoleDocument,
  SigninDocument,
  SignoutDocument,
} from "../generated/operations.js";
import { GatewayProcess, sharedRedisEnv } from "../support/gateway-process.js";
import { codes, freshAddress, type GraphQLResult } from "../support/harness.js";
import { describeWithRedis, RedisInspector } from "../support/redis.js";

const USER_INFO_TTL_SECONDS = 45;
/**
 * Sign-in limits, low so the tests reach them quickly. A sign-in in flight holds a place in its
 * address's window until the IdP answers (docs/security.md), so the address limit must stay
 * above the sign-ins this file sends at once from one address (8, when opening sessions).
 */
const LOGIN = { maxFailuresPerAccount: 3, accountWindowMinutes: 5, accountLockMinutes: 2, maxFailuresPerAddress: 10, addressWindowMinutes: 10 };
/** Sessions opened for the crash test, spread over both instances and both flows. */
const SESSIONS_AT_CRASH = 200;
/** Clients sending `me` to A at once while it is killed. */
const LOAD_WORKERS = 8;
const WRONG_PASSWORD = "Wr0ng-but-plausible-1";
/** The shape of a Spine session key (spine.md), to catch one in output whatever call carried it. */
const SPINE_SESSION_KEY_SHAPE = /pro-xapi-session_[0-9a-f-]{36}/;

/** An email no IdP user has: the simulator refuses it like a wrong password. */
function strangerEmail(): string {
  return `scale-${randomUUID()}@example.org`;
}

/** The hash the sign-in limits key an IdP account by (src/auth/login-throttle.ts): keys never hold the email. */
function signinAccountHash(email: string): string {
  return createHash("sha256").update(`signin:${email.toLowerCase()}`).digest("base64url");
}

/** Runs `work` over `items` with at most `concurrency` at a time, results in item order. */
async function pooled<T, R>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await work(items[index]!, index);
      }
    }),
  );
  return results;
}

describeWithRedis("Two gateway processes on one Redis", (redisUrl) => {
  const encryptionKey = randomBytes(32).toString("base64");
  /** This run's own client address for every request that is not about sign-in limits. */
  const clientAddress = freshAddress();
  let auditDir: string;
  let spine: SpineSimulator;
  let idp: IdpSimulator;
  let redis: RedisInspector;
  let a: GatewayProcess;
  let b: GatewayProcess;
  /** Every gateway token either instance issued, for clean-up and the secrets check. */
  const issued: string[] = [];
  /** Emails refused during the run, for clean-up of their counters and the secrets check. */
  const strangers: string[] = [];
  const addresses: string[] = [clientAddress];

  const gatewayEnv = (name: string): Record<string, string> => ({
    ...sharedRedisEnv({ spine, idp, redisUrl, encryptionKey }),
    AUDIT_LOG: join(auditDir, `${name}.audit.jsonl`),
    // The load balancer in front appends the client's address; each instance trusts that one hop.
    TRUSTED_PROXY_HOPS: "1",
    USER_INFO_CACHE_TTL_SECONDS: String(USER_INFO_TTL_SECONDS),
    LOGIN_MAX_FAILURES_PER_ACCOUNT: String(LOGIN.maxFailuresPerAccount),
    LOGIN_ACCOUNT_WINDOW_MINUTES: String(LOGIN.accountWindowMinutes),
    LOGIN_ACCOUNT_LOCK_MINUTES: String(LOGIN.accountLockMinutes),
    LOGIN_MAX_FAILURES_PER_ADDRESS: String(LOGIN.maxFailuresPerAddress),
    LOGIN_ADDRESS_WINDOW_MINUTES: String(LOGIN.addressWindowMinutes),
    // The crash test holds SESSIONS_AT_CRASH sessions of a few demo users live at once: far above the default cap.
    SESSION_MAX_PER_USER: String(SESSIONS_AT_CRASH),
  });

  beforeAll(async () => {
    auditDir = mkdtempSync(join(tmpdir(), "gateway-scale-"));
    [spine, idp, redis] = await Promise.all([startSpineSimulator(), startIdpSimulator(), RedisInspector.connect(redisUrl)]);
    [a, b] = await Promise.all([GatewayProcess.start("A", gatewayEnv("A")), GatewayProcess.start("B", gatewayEnv("B"))]);
  }, 40_000);

  afterAll(async () => {
    // Children first, whatever happened: nothing of this file may outlive it.
    await Promise.all([a?.kill(), b?.kill()]);
    if (redis !== undefined) {
      await redis.forget(issued);
      const accessTokens = idp === undefined ? [] : idp.calls("userinfo").map((call) => decodeURIComponent(call.path.split("/").pop()!));
      const userInfoKeys = [...new Set(accessTokens)].map((token) => `userinfo::${storeKeyOf(token)}`);
      const loginKeys = (
        await Promise.all([
          ...strangers.map((email) => redis.keys(`login*::account:${signinAccountHash(email)}*`)),
          ...addresses.map((address) => redis.keys(`login::address:${createHash("sha256").update(address).digest("base64url")}:*`)),
        ])
      ).flat();
      const leftovers = [...userInfoKeys, ...loginKeys];
      if (leftovers.length > 0) await redis.client.del(leftovers);
      await redis.close();
    }
    await Promise.all([spine?.close(), idp?.close()]);
    if (auditDir !== undefined) rmSync(auditDir, { recursive: true, force: true });
  }, 20_000);

  /** Opens a session by either flow on `gateway`; with `role`, selects it (on `roleOn`, default the same gateway). */
  async function open(
    gateway: GatewayProcess,
    user: { spine: (typeof SPINE_DEMO.users)[number] } | { idp: (typeof IDP_DEMO.users)[number] },
    role?: { on: GatewayProcess },
  ): Promise<{ token: string; userId: string }> {
    const opened =
      "spine" in user
        ? await gateway
            .execute(CreateSessionDocument, { token: user.spine.smartcardToken }, { forwardedFor: clientAddress })
            .then((r) => payload(r, (d) => d.createSession))
        : await gateway
            .execute(SigninDocument, { email: user.idp.email, password: user.idp.password }, { forwardedFor: clientAddress })
            .then((r) => payload(r, (d) => d.signin));
    if (role === undefined || !("spine" in user)) return opened;
    const held = user.spine.permissions[0]!;
    const selected = await role.on.execute(
      SelectRoleDocument,
      { businessFunction: held.businessFunction, orgIdentifier: held.orgIdentifier },
      { token: opened.token, forwardedFor: clientAddress },
    );
    return payload(selected, (d) => d.selectRole);
  }

  /** The token and user of a session payload; records the token as issued. */
  function payload<T>(
    result: GraphQLResult<T>,
    field: (data: T) => { token: string | null; session: { user: { id: string } } | null },
  ): { token: string; userId: string } {
    expect(result.errors).toBeUndefined();
    const { token, session } = field(result.data!);
    issued.push(token!);
    return { token: token!, userId: session!.user.id };
  }

  const me = (gateway: GatewayProcess, token: string) => gateway.execute(MeAndSessionDocument, {}, { token, forwardedFor: clientAddress });

  it("serves on B a session opened on A, in both flows, reading IdP user info A cached rather than asking the IdP again", async () => {
    const spineSession = await open(a, { spine: SPINE_DEMO.users[0]! });
    const idpSession = await open(a, { idp: IDP_DEMO.users[0]! });
    const userInfoCalls = idp.calls("userinfo").length;

    const spineOnB = await me(b, spineSession.token);
    const idpOnB = await me(b, idpSession.token);

    expect(spineOnB.errors).toBeUndefined();
    expect(spineOnB.data).toEqual({ me: { id: spineSession.userId }, session: { id: expect.any(String), provider: "SPINE", roleSelected: false } });
    expect(idpOnB.errors).toBeUndefined();
    expect(idpOnB.data!.me).toEqual({ id: idpSession.userId });
    expect(idp.calls("userinfo")).toHaveLength(userInfoCalls);
    // The cached user info lives as long as USER_INFO_CACHE_TTL_SECONDS says, under its namespace.
    const accessToken = decodeURIComponent(idp.calls("userinfo").at(-1)!.path.split("/").pop()!);
    const ttl = await redis.client.pTTL(`userinfo::${storeKeyOf(accessToken)}`);
    expect(ttl).toBeGreaterThan((USER_INFO_TTL_SECONDS - 10) * 1000);
    expect(ttl).toBeLessThanOrEqual(USER_INFO_TTL_SECONDS * 1000);
  });

  it("shows on A a role selected on B, and the token from before the change is dead on both", async () => {
    const user = SPINE_DEMO.users[1]!;
    const before = await open(a, { spine: user });
    const held = user.permissions[0]!;

    const selected = await b.execute(
      SelectRoleDocument,
      { businessFunction: held.businessFunction, orgIdentifier: held.orgIdentifier },
      { token: before.token, forwardedFor: clientAddress },
    );
    const after = payload(selected, (d) => d.selectRole);

    const onA = await a.execute(CurrentSessionDocument, {}, { token: after.token, forwardedFor: clientAddress });
    expect(onA.errors).toBeUndefined();
    expect(onA.data!.session).toMatchObject({
      roleSelected: true,
      permission: { businessFunction: held.businessFunction, orgIdentifier: held.orgIdentifier },
      user: { id: before.userId },
    });
    for (const gateway of [a, b]) {
      const stale = await me(gateway, before.token);
      expect(stale.errors).toBeUndefined();
      expect(stale.data).toEqual({ me: null, session: null });
    }
  });

  it("ends on B at once a session signed out on A, with no cached user info left behind for B to serve", async () => {
    const idpSession = await open(b, { idp: IDP_DEMO.users[1]! });
    const spineSession = await open(b, { spine: SPINE_DEMO.users[2]! });
    expect((await me(b, idpSession.token)).data!.me).toEqual({ id: idpSession.userId });
    const accessToken = decodeURIComponent(idp.calls("userinfo").at(-1)!.path.split("/").pop()!);
    const userInfoKey = `userinfo::${storeKeyOf(accessToken)}`;
    expect(await redis.client.exists(userInfoKey)).toBe(1);

    for (const session of [idpSession, spineSession]) {
      expect((await a.execute(SignoutDocument, {}, { token: session.token, forwardedFor: clientAddress })).data).toEqual({ signout: true });
      const afterwards = await me(b, session.token);
      expect(afterwards.errors).toBeUndefined();
      expect(afterwards.data).toEqual({ me: null, session: null });
      expect(await redis.client.exists(RedisInspector.sessionKey(session.token))).toBe(0);
    }
    expect(await redis.client.exists(userInfoKey)).toBe(0);
  });

  it("counts an account's failed sign-ins on A and B toward one lock, and refuses on both once it is reached, asking the IdP nothing", async () => {
    const email = strangerEmail();
    strangers.push(email);
    const from = freshAddress();
    addresses.push(from);
    const attempt = (gateway: GatewayProcess) => gateway.execute(SigninDocument, { email, password: WRONG_PASSWORD }, { forwardedFor: from });

    // Three failures, spread A, B, A: none of the instances saw the limit's worth alone.
    expect(codes(await attempt(a))).toEqual(["UNAUTHENTICATED"]);
    expect(codes(await attempt(b))).toEqual(["UNAUTHENTICATED"]);
    expect(codes(await attempt(a))).toEqual(["UNAUTHENTICATED"]);
    const idpSignins = idp.calls("signin").length;

    expect(codes(await attempt(b))).toEqual(["RATE_LIMITED"]);
    expect(codes(await attempt(a))).toEqual(["RATE_LIMITED"]);
    expect(idp.calls("signin")).toHaveLength(idpSignins);

    // The counters and the lock live in Redis as long as their window and lock say, keyed by hash, never by email.
    const account = signinAccountHash(email);
    const window = Math.floor(Date.now() / (LOGIN.accountWindowMinutes * 60_000));
    const counted = await redis.client.pTTL(`login::account:${account}:${window}`);
    expect(counted).toBeGreaterThan((LOGIN.accountWindowMinutes * 60 - 30) * 1000);
    expect(counted).toBeLessThanOrEqual(LOGIN.accountWindowMinutes * 60_000);
    const locked = await redis.client.pTTL(`login-lock::account:${account}`);
    expect(locked).toBeGreaterThan((LOGIN.accountLockMinutes * 60 - 30) * 1000);
    expect(locked).toBeLessThanOrEqual(LOGIN.accountLockMinutes * 60_000);
    expect(await redis.keys(`*${email}*`)).toEqual([]);
  });

  it("counts failed sign-ins from one client address on A and B toward one limit, then refuses even a right password from it on both", async () => {
    const from = freshAddress();
    addresses.push(from);
    for (let i = 0; i < LOGIN.maxFailuresPerAddress; i++) {
      const email = strangerEmail();
      strangers.push(email);
      const result = await (i % 2 === 0 ? a : b).execute(SigninDocument, { email, password: WRONG_PASSWORD }, { forwardedFor: from });
      expect(codes(result)).toEqual(["UNAUTHENTICATED"]);
    }
    const user = IDP_DEMO.users[0]!;

    for (const gateway of [a, b]) {
      const refused = await gateway.execute(SigninDocument, { email: user.email, password: user.password }, { forwardedFor: from });
      expect(codes(refused)).toEqual(["RATE_LIMITED"]);
    }
    // The same right password from an address with no failures still works: the limit is the address's.
    expect((await open(a, { idp: user })).userId).toMatch(/^idp:/);
  });

  it("loses no session when A is killed mid-load: B serves every session that was live at that moment", async () => {
    // Half Spine (every other one with a role selected, on the other instance), half IdP; opened on A and B in turn.
    const plans = Array.from({ length: SESSIONS_AT_CRASH }, (_, i) => {
      const gateway = i % 2 === 0 ? a : b;
      const other = gateway === a ? b : a;
      if (i % 4 < 2) return () => open(gateway, { idp: IDP_DEMO.users[(i >> 2) % 2]! });
      return () => open(gateway, { spine: SPINE_DEMO.users[i % SPINE_DEMO.users.length]! }, i % 4 === 3 ? { on: other } : undefined);
    });
    const sessions = await pooled(plans, 8, (plan) => plan());
    expect(new Set(sessions.map((session) => session.token)).size).toBe(SESSIONS_AT_CRASH);

    // A steady load of `me` on A: each worker takes the next session in turn.
    const load = { next: 0, stop: false, inFlight: 0, served: 0, wrong: 0, failed: 0 };
    let servedAll!: () => void;
    const everySessionServedOnce = new Promise<void>((resolve) => (servedAll = resolve));
    const workers = Array.from({ length: LOAD_WORKERS }, async () => {
      while (!load.stop) {
        const session = sessions[load.next++ % sessions.length]!;
        load.inFlight++;
        try {
          const result = await me(a, session.token);
          if (result.data?.me?.id === session.userId) load.served++;
          else load.wrong++;
        } catch {
          // The connection died under the request: the kill reached it before its answer did.
          load.failed++;
        } finally {
          // A wrong answer or a failure before the kill ends the load early: the assertions below then say what went wrong.
          if (load.served >= sessions.length || load.wrong > 0 || load.failed > 0) servedAll();
          load.inFlight--;
        }
      }
    });
    await everySessionServedOnce;

    load.stop = true;
    const inFlightAtKill = load.inFlight;
    await a.kill();
    await Promise.all(workers);
    const live = (await Promise.all(sessions.map((session) => redis.client.exists(RedisInspector.sessionKey(session.token))))).filter(
      (exists) => exists === 1,
    ).length;

    const onB = await pooled(sessions, 8, async (session) => (await me(b, session.token)).data?.me?.id === session.userId);
    const servedByB = onB.filter(Boolean).length;

    console.log(
      `sessions live when A was killed: ${live}; served by B afterwards: ${servedByB} ` +
        `(A served ${load.served} me requests before the kill, ${inFlightAtKill} in flight at the kill, ${load.failed} of them failed at the client)`,
    );
    expect(a.running).toBe(false);
    expect(load.wrong).toBe(0);
    // Mid-load: requests were on their way to A when it died.
    expect(inFlightAtKill).toBeGreaterThan(0);
    expect(load.failed).toBeLessThanOrEqual(inFlightAtKill);
    expect(live).toBe(SESSIONS_AT_CRASH);
    expect(servedByB).toBe(live);
  }, 45_000);

  it("writes no secret to either process's output or audit log", () => {
    const accessTokens = [
      ...new Set([...idp.calls("userinfo"), ...idp.calls("signout")].map((call) => decodeURIComponent(call.path.split("/").pop()!))),
    ];
    const secrets: Array<[string, string]> = [
      ...issued.map((token, i): [string, string] => [`gateway session token #${i + 1}`, token]),
      ...accessTokens.map((token, i): [string, string] => [`IdP access token #${i + 1}`, token]),
      ...SPINE_DEMO.users.map((user, i): [string, string] => [`smartcard token #${i + 1}`, user.smartcardToken]),
      ...IDP_DEMO.users.map((user, i): [string, string] => [`password #${i + 1}`, user.password]),
      ["wrong password", WRONG_PASSWORD],
      ["IdP API token", IDP_DEMO.apiToken],
      ["session encryption key", encryptionKey],
    ];
    expect(accessTokens.length).toBeGreaterThan(0);
    const audits = ["A", "B"].map((name) => readFileSync(join(auditDir, `${name}.audit.jsonl`), "utf8"));
    // Both audit trails saw the run (so there is something to search), and so did the output streams, if anything was written.
    for (const audit of audits) expect(audit.length).toBeGreaterThan(0);

    for (const [where, text] of [
      ["A's output", a.output],
      ["B's output", b.output],
      ["A's audit log", audits[0]!],
      ["B's audit log", audits[1]!],
    ] as const) {
      const leaked = secrets.filter(([, value]) => [value, encodeURIComponent(value)].some((form) => text.includes(form))).map(([label]) => label);
      expect({ where, leaked }).toEqual({ where, leaked: [] });
      expect({ where, spineSessionKey: SPINE_SESSION_KEY_SHAPE.test(text) }).toEqual({ where, spineSessionKey: false });
    }
  });
});
