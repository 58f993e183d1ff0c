import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { pino } from "pino";
import { AuthService, type RequestScope } from "../../src/auth/auth.service.js";
import { LoginThrottle } from "../../src/auth/login-throttle.js";
import { UserInfoCache } from "../../src/auth/user-info.cache.js";
import { IdpClient } from "../../src/backends/idp/idp.client.js";
import { SpineClient } from "../../src/backends/spine/spine.client.js";
import { StoreError } from "../../src/errors/store-error.js";
import { sessionCoordination } from "../../src/composition/store.js";
import { toUserView } from "../../src/graph/user/user.view.js";
import { requestScope } from "../../src/http/request-context.js";
import { AuditTrail, hashSessionId } from "../../src/observability/audit.js";
import type { SessionRecord } from "../../src/sessions/session.js";
import { SessionService } from "../../src/sessions/session.service.js";
import { newSessionToken, storeKeyOf } from "../../src/sessions/session-token.js";
import { AuthProvider } from "../../src/domain/user.js";
import { IDP_DEMO, SPINE_DEMO, startIdpSimulator, startSpineSimulator, type IdpSimulator, type SpineSimulator } from "../../src/simulators/index.js";
import { openStore, type Store, type KeyValueStore } from "../../src/store/store.js";

/** Sign-in limits far above what these tests reach. */
const LOGIN_LIMITS = {
  maxFailuresPerAccount: 10,
  accountWindowMs: 900_000,
  accountLockMs: 900_000,
  maxConsecutiveFailures: 100,
  consecutiveMemoryMs: 86_400_000,
  maxFailuresPerAddress: 100,
  addressWindowMs: 3_600_000,
  now: Date.now,
};

const SESSION_OPTIONS = { idleTimeoutMs: 60_000, absoluteTimeoutMs: 600_000, maxPerUser: 10, lockTtlMs: 3_000, now: Date.now };

/**
 * The service on its own, with real clients against the simulators and a session store that
 * fails its writes: the case of a store lost between the sign-in checks and the new session.
 */
describe("AuthService with a session store that cannot be written", () => {
  let spine: SpineSimulator;
  let idp: IdpSimulator;
  let store: Store;
  let auth: AuthService;
  const scope: RequestScope = {
    session: async () => null,
    forgetSession: () => {},
    sessionEnded: () => {},
    userInfo: undefined as never,
    log: pino({ level: "silent" }),
    clientAddress: "127.0.0.1",
    requestId: "auth-service-test",
  };
  const auditLines: string[] = [];

  beforeAll(async () => {
    spine = await startSpineSimulator();
    idp = await startIdpSimulator();
    store = openStore({ redis: undefined, operationTimeoutMs: 1_000, onError: () => {} });
    const failingWrites: KeyValueStore<never> = {
      get: async () => undefined,
      set: async () => {
        throw new StoreError("write", new Error("lost"));
      },
      delete: async () => {},
    };
    const idpClient = new IdpClient({
      baseUrl: `${idp.url}/`,
      clientId: IDP_DEMO.clientId,
      apiToken: IDP_DEMO.apiToken,
      timeoutMs: 2_000,
      timeZone: "UTC",
    });
    auth = new AuthService({
      spine: new SpineClient({ baseUrl: `${spine.url}/`, asid: SPINE_DEMO.asid, timeoutMs: 2_000 }),
      idp: idpClient,
      sessions: new SessionService({
        store: failingWrites,
        expiries: store.expiryIndex("session"),
        coordination: sessionCoordination(store),
        ...SESSION_OPTIONS,
      }),
      userInfo: new UserInfoCache({ idp: idpClient, cache: store.namespace("userinfo"), ttlMs: 0 }),
      throttle: new LoginThrottle({ counters: store.counters("login"), locks: store.namespace("login-lock"), ...LOGIN_LIMITS }),
      audit: new AuditTrail({
        destination: { write: (line: string) => auditLines.push(line) },
        log: pino({ level: "silent" }),
        now: Date.now,
        spineAsid: SPINE_DEMO.asid,
      }),
    });
  });
  afterAll(async () => {
    await store.close();
    await Promise.all([spine.close(), idp.close()]);
  });

  it("closes the Spine session it could not store (A003), so none is left open at Spine", async () => {
    await expect(auth.createSpineSession(scope, SPINE_DEMO.users[0]!.smartcardToken)).rejects.toBeInstanceOf(StoreError);

    const [created] = spine.calls("A001");
    const closed = spine.calls("A003");
    expect(created).toBeDefined();
    expect(closed).toHaveLength(1);
    expect(closed[0]!.headers["http_x_session_key"]).toBe(closed[0]!.path.split("/").pop());
    expect(auditLines.map((line) => JSON.parse(line) as Record<string, unknown>)).toEqual([
      expect.objectContaining({ event: "spine.session.created", outcome: "failure", reason: "STORE_UNAVAILABLE", asid: SPINE_DEMO.asid }),
    ]);
  });
});

/**
 * What a session record holds as stored: the whole user for Spine (no user-info call there),
 * only who the user is for the IdP (their info is read fresh). Earlier releases stored the
 * whole IdP user, and shared Redis means such records are still read during a rolling deploy.
 */
describe("AuthService sessions as stored", () => {
  let spine: SpineSimulator;
  let idp: IdpSimulator;
  let store: Store;
  let records: KeyValueStore<SessionRecord>;
  let sessions: SessionService;
  let userInfo: UserInfoCache;
  let audit: AuditTrail;
  let auth: AuthService;
  const auditLines: Array<Record<string, unknown>> = [];
  const idpUser = IDP_DEMO.users[0]!;
  const scopeFor = (token: string | undefined): RequestScope =>
    requestScope(sessions, userInfo, audit, {
      token,
      clientAddress: "127.0.0.1",
      requestId: "stored-sessions-test",
      log: () => pino({ level: "silent" }),
    });

  beforeAll(async () => {
    spine = await startSpineSimulator();
    idp = await startIdpSimulator();
    store = openStore({ redis: undefined, operationTimeoutMs: 1_000, onError: () => {} });
    records = store.namespace<SessionRecord>("session");
    sessions = new SessionService({
      store: records,
      expiries: store.expiryIndex("session"),
      coordination: sessionCoordination(store),
      ...SESSION_OPTIONS,
    });
    const idpClient = new IdpClient({
      baseUrl: `${idp.url}/`,
      clientId: IDP_DEMO.clientId,
      apiToken: IDP_DEMO.apiToken,
      timeoutMs: 2_000,
      timeZone: "UTC",
    });
    userInfo = new UserInfoCache({ idp: idpClient, cache: store.namespace("userinfo"), ttlMs: 60_000 });
    audit = new AuditTrail({
      destination: { write: (line: string) => auditLines.push(JSON.parse(line) as Record<string, unknown>) },
      log: pino({ level: "silent" }),
      now: Date.now,
      spineAsid: SPINE_DEMO.asid,
    });
    auth = new AuthService({
      spine: new SpineClient({ baseUrl: `${spine.url}/`, asid: SPINE_DEMO.asid, timeoutMs: 2_000 }),
      idp: idpClient,
      sessions,
      userInfo,
      throttle: new LoginThrottle({ counters: store.counters("login"), locks: store.namespace("login-lock"), ...LOGIN_LIMITS }),
      audit,
    });
  });
  afterAll(async () => {
    await store.close();
    await Promise.all([spine.close(), idp.close()]);
  });

  it("stores an IdP session with the user's provider and id only, and still answers signin with the whole user", async () => {
    const signedIn = await auth.signin(scopeFor(undefined), idpUser.email, idpUser.password);

    const stored = await records.get(storeKeyOf(signedIn.token));
    expect(stored?.user).toEqual({ provider: "IDP", identifier: "6" });
    expect(JSON.stringify(stored)).not.toMatch(/profiles|groups|Rahima/);
    expect(toUserView(signedIn.user)).toMatchObject({
      id: "idp:6",
      displayName: "Dr. Rahima Khatun",
      groups: ["Provider", "MCI Approver", "API Consumer"],
    });
    expect(signedIn.user.profiles).toHaveLength(4);
    expect(auditLines.at(-1)).toMatchObject({ event: "signin", outcome: "success", userId: "idp:6" });
  });

  it("stores a Spine session with the whole user, as A001 described them", async () => {
    const created = await auth.createSpineSession(scopeFor(undefined), SPINE_DEMO.users[0]!.smartcardToken);

    const { id, ...shown } = toUserView(created.user);
    expect(id).toBe("spine:555020964101");
    expect(shown.permissions).toEqual(SPINE_DEMO.users[0]!.permissions);
    expect((await records.get(storeKeyOf(created.token)))?.user).toEqual(shown);
  });

  it("reads an IdP session stored with the whole user by an earlier release: me answers from the IdP, signout is audited with the same user id", async () => {
    const signedIn = await auth.signin(scopeFor(undefined), idpUser.email, idpUser.password);
    const current = (await records.get(storeKeyOf(signedIn.token)))!;
    const { credential } = current;
    if (credential.provider !== AuthProvider.IDP) throw new Error("expected an IdP session");
    // The record as earlier releases wrote it: the user as the IdP described them at sign-in.
    const earlier = { ...current, id: randomUUID(), user: await userInfo.get(credential.accessToken) };
    const token = newSessionToken();
    await records.set(storeKeyOf(token), earlier, 60_000);
    expect(JSON.stringify(await records.get(storeKeyOf(token)))).toContain('"profiles"');

    expect(await auth.me(scopeFor(token))).toMatchObject({ provider: "IDP", identifier: "6", displayName: "Dr. Rahima Khatun" });
    expect(await auth.signout(scopeFor(token))).toBe(true);
    expect(auditLines.at(-1)).toMatchObject({
      event: "signout",
      outcome: "success",
      provider: "IDP",
      userId: "idp:6",
      sessionIdHash: hashSessionId(earlier.id),
    });
    expect(await records.get(storeKeyOf(token))).toBeUndefined();
  });
});
