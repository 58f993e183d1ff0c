import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { pino } from "pino";
import { AuthService, type RequestScope } from "../../src/auth/auth.service.js";
import { LoginThrottle } from "../../src/auth/login-throttle.js";
import { UserInfoCache } from "../../src/auth/user-info.cache.js";
import { IdpClient } from "../../src/backends/idp/idp.client.js";
import { SpineClient } from "../../src/backends/spine/spine.client.js";
import { StoreError } from "../../src/errors/backend-error.js";
import { AuditTrail } from "../../src/observability/audit.js";
import { InFlightCalls } from "../../src/sessions/in-flight.js";
import { SessionService } from "../../src/sessions/session.service.js";
import { IDP_DEMO, SPINE_DEMO, startIdpSimulator, startSpineSimulator, type IdpSimulator, type SpineSimulator } from "../../src/simulators/index.js";
import { Store, type KeyValueStore } from "../../src/store/store.js";

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
    userInfo: undefined as never,
    log: pino({ level: "silent" }),
    clientAddress: "127.0.0.1",
    requestId: "auth-service-test",
  };
  const auditLines: string[] = [];

  beforeAll(async () => {
    spine = await startSpineSimulator();
    idp = await startIdpSimulator();
    store = new Store({ redisUrl: undefined, operationTimeoutMs: 1_000, onError: () => {} });
    const failingWrites: KeyValueStore<never> = {
      get: async () => undefined,
      set: async () => {
        throw new StoreError("write", new Error("lost"));
      },
      delete: async () => {},
    };
    const idpClient = new IdpClient({ baseUrl: `${idp.url}/`, clientId: IDP_DEMO.clientId, apiToken: IDP_DEMO.apiToken, timeoutMs: 2_000, timeZone: "UTC" });
    auth = new AuthService(
      new SpineClient({ baseUrl: `${spine.url}/`, asid: SPINE_DEMO.asid, timeoutMs: 2_000 }),
      idpClient,
      new SessionService(failingWrites, store.expiryIndex("session"), { idleTimeoutMs: 60_000, absoluteTimeoutMs: 600_000, now: Date.now }),
      new UserInfoCache(idpClient, store.namespace("userinfo"), 0),
      new InFlightCalls(),
      new LoginThrottle(store.counters("login"), store.namespace("login-lock"), {
        maxFailuresPerAccount: 10,
        accountWindowMs: 900_000,
        accountLockMs: 900_000,
        maxConsecutiveFailures: 100,
        consecutiveMemoryMs: 86_400_000,
        maxFailuresPerAddress: 100,
        addressWindowMs: 3_600_000,
        now: Date.now,
      }),
      new AuditTrail({ destination: { write: (line: string) => auditLines.push(line) }, log: pino({ level: "silent" }), now: Date.now, spineAsid: SPINE_DEMO.asid }),
    );
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
