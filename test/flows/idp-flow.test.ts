import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import {
  CurrentSessionDocument,
  MeAndSessionDocument,
  MeDocument,
  SelectRoleDocument,
  SigninDocument,
  SignoutDocument,
} from "../generated/operations.js";
import { IDP_DEMO, type RecordedCall } from "../../src/simulators/index.js";
import { codes, type idpUser, Stack } from "../support/harness.js";
import { waitFor } from "../support/wait.js";

const [documentedUser, referenceUser, inactiveUser] = IDP_DEMO.users as [typeof idpUser, typeof idpUser, typeof idpUser];

const USERINFO_PATH = /^\/api\/1\.0\/sso\/token\/([A-Za-z0-9]+)$/;
const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** The access token the gateway holds for a session, read from the path of a user-info call it made. */
function accessTokenOf(call: RecordedCall | undefined): string {
  const match = USERINFO_PATH.exec(call?.path ?? "");
  expect(match).not.toBeNull();
  return match![1]!;
}

/** Signs a demo user in through the gateway; returns the gateway token. */
async function signin(stack: Stack, user: typeof idpUser = documentedUser): Promise<string> {
  const result = await stack.execute(SigninDocument, { email: user.email, password: user.password });
  expect(result.errors).toBeUndefined();
  return result.data!.signin.token!;
}

/**
 * Ends every live access token at the IdP, so the next sign-in of each user gets a new token
 * (a live one would be handed out again, idp.md) and the gateway has nothing cached for it.
 */
function endAllIdpTokens(stack: Stack): void {
  for (const user of IDP_DEMO.users) stack.idp.expireTokensOf(user.email);
}

describe("IdP flow: signin, me, session, signout (default user-info cache)", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await Stack.start();
  });
  afterAll(() => stack.close());
  beforeEach(() => {
    endAllIdpTokens(stack);
    stack.idp.clearFaults();
    stack.idp.resetCalls();
    stack.spine.resetCalls();
  });
  afterEach(() => {
    stack.idp.setNotAuthenticatedStatus(401);
  });

  it("signs in the documented-shape user and maps every field of the user info", async () => {
    const signedInFrom = Math.floor(stack.clock.now() / 1000) * 1000;
    const result = await stack.execute(SigninDocument, { email: documentedUser.email, password: documentedUser.password });
    const signedInBy = stack.clock.now();

    expect(result.errors).toBeUndefined();
    const { token, session } = result.data!.signin;
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(session).toMatchObject({ provider: "IDP", roleSelected: false, permission: null });
    expect(session.id).not.toContain(token!);
    expect(session.user).toEqual({
      id: "idp:6",
      provider: "IDP",
      identifier: "6",
      displayName: "Dr. Rahima Khatun",
      firstName: null,
      middleName: null,
      lastName: null,
      email: "rahima.khatun@example.org",
      active: true,
      groups: ["Provider", "MCI Approver", "API Consumer"],
      permissions: [],
      profiles: [
        { type: "provider", id: "123", catchment: ["302618", "302614"] },
        { type: "admin", id: "2", catchment: ["3026"] },
        { type: "facility", id: "10000069", catchment: ["302618"] },
        { type: "patient", id: "10091232131", catchment: [] },
      ],
      lastLoginAt: expect.stringMatching(ISO_WITH_ZONE),
    });
    // The simulator stamps last_login (zone-less, UTC here) at sign-in; the gateway reads it in IDP_TIME_ZONE (UTC).
    const lastLogin = Date.parse(session.user.lastLoginAt!);
    expect(lastLogin).toBeGreaterThanOrEqual(signedInFrom);
    expect(lastLogin).toBeLessThanOrEqual(signedInBy);
  });

  it("signs in the reference-implementation-shape user: string id, is_active 1, type under name, an extra type", async () => {
    const result = await stack.execute(SigninDocument, { email: referenceUser.email, password: referenceUser.password });

    expect(result.errors).toBeUndefined();
    const { session } = result.data!.signin;
    expect(session).toMatchObject({ provider: "IDP", roleSelected: false, permission: null });
    expect(session.user).toEqual({
      id: "idp:18",
      provider: "IDP",
      identifier: "18",
      displayName: "Karim Uddin",
      firstName: null,
      middleName: null,
      lastName: null,
      email: "karim.uddin@example.org",
      active: true,
      groups: ["MCI Admin", "MCI Approver", "API Consumer"],
      permissions: [],
      profiles: [
        { type: "mci-supervisor", id: "42", catchment: ["3026"] },
        { type: "admin", id: "7", catchment: ["302618"] },
        { type: "provider", id: "1000020", catchment: ["302614"] },
      ],
      lastLoginAt: expect.stringMatching(ISO_WITH_ZONE),
    });
  });

  it("signs in the inactive user without groups or profiles as active false with empty lists", async () => {
    const result = await stack.execute(SigninDocument, { email: inactiveUser.email, password: inactiveUser.password });

    expect(result.errors).toBeUndefined();
    const { session } = result.data!.signin;
    expect(session).toMatchObject({ provider: "IDP", roleSelected: false, permission: null });
    expect(session.user).toMatchObject({
      id: "idp:31",
      identifier: "31",
      displayName: "Facility Sync Bot",
      email: "sync.bot@example.org",
      active: false,
      groups: [],
      permissions: [],
      profiles: [],
      lastLoginAt: expect.stringMatching(ISO_WITH_ZONE),
    });
  });

  it("sends one form-encoded signin with the organisation's pair, then one userinfo GET with the same pair", async () => {
    await stack.execute(SigninDocument, { email: documentedUser.email, password: documentedUser.password });

    expect(stack.idp.calls().map((call) => call.route)).toEqual(["signin", "userinfo"]);
    const [signinCall, userinfoCall] = stack.idp.calls();
    expect(signinCall!.method).toBe("POST");
    expect(signinCall!.path).toBe("/api/1.0/sso/signin");
    expect(signinCall!.headers["content-type"]).toMatch(/^application\/x-www-form-urlencoded/);
    expect(signinCall!.headers["client_id"]).toBe(IDP_DEMO.clientId);
    expect(signinCall!.headers["x-auth-token"]).toBe(IDP_DEMO.apiToken);
    expect(signinCall!.body).toEqual({ email: documentedUser.email, password: documentedUser.password });
    expect(userinfoCall!.method).toBe("GET");
    expect(userinfoCall!.path).toMatch(USERINFO_PATH);
    expect(userinfoCall!.headers["client_id"]).toBe(IDP_DEMO.clientId);
    expect(userinfoCall!.headers["x-auth-token"]).toBe(IDP_DEMO.apiToken);
    expect(userinfoCall!.body).toBeUndefined();
  });

  it("never sends the IdP access token or the organisation's API token to a client or into a log", async () => {
    const responsesBefore = stack.responses.length;
    const token = await signin(stack);
    const accessToken = accessTokenOf(stack.idp.calls("userinfo")[0]);
    await stack.execute(MeDocument, {}, { token });
    await stack.execute(CurrentSessionDocument, {}, { token });
    await stack.execute(SelectRoleDocument, { businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R01" }, { token });
    await stack.execute(SignoutDocument, {}, { token });

    const responses = stack.responses.slice(responsesBefore);
    expect(responses.length).toBeGreaterThanOrEqual(5);
    for (const body of responses) {
      expect(body).not.toContain(accessToken);
      expect(body).not.toContain(IDP_DEMO.apiToken);
    }
    const logs = JSON.stringify(stack.logs);
    expect(logs).not.toContain(accessToken);
    expect(logs).not.toContain(IDP_DEMO.apiToken);
    expect(logs).not.toContain(documentedUser.password);
  });

  it("answers a wrong password with UNAUTHENTICATED and asks for no user info", async () => {
    const result = await stack.execute(SigninDocument, { email: documentedUser.email, password: "not-the-password" });

    expect(codes(result)).toEqual(["UNAUTHENTICATED"]);
    expect(result.data).toBeNull();
    expect(stack.idp.calls("signin")).toHaveLength(1);
    expect(stack.idp.calls("userinfo")).toHaveLength(0);
  });

  it("answers a wrong password with UNAUTHENTICATED when the IdP says so with 404 (the published docs' quirk)", async () => {
    stack.idp.setNotAuthenticatedStatus(404);

    const result = await stack.execute(SigninDocument, { email: documentedUser.email, password: "not-the-password" });

    expect(codes(result)).toEqual(["UNAUTHENTICATED"]);
    expect(stack.idp.calls("userinfo")).toHaveLength(0);
  });

  it("answers with the user in me and session for the signed-in token", async () => {
    const token = await signin(stack, referenceUser);

    const me = await stack.execute(MeDocument, {}, { token });
    const session = await stack.execute(CurrentSessionDocument, {}, { token });

    expect(me.errors).toBeUndefined();
    expect(me.data!.me).toMatchObject({ id: "idp:18", provider: "IDP", displayName: "Karim Uddin", active: true });
    expect(session.errors).toBeUndefined();
    expect(session.data!.session).toMatchObject({ provider: "IDP", roleSelected: false, permission: null, user: { id: "idp:18" } });
    expect(Date.parse(session.data!.session!.expiresAt) - Date.parse(session.data!.session!.createdAt)).toBe(30 * 60 * 1000);
  });

  it("answers repeated me and session within the cache TTL without asking the IdP again", async () => {
    const token = await signin(stack);
    stack.idp.resetCalls();

    for (let i = 0; i < 3; i++) {
      const result = await stack.execute(MeAndSessionDocument, {}, { token });
      expect(result.data).toMatchObject({ me: { id: "idp:6" }, session: { provider: "IDP" } });
    }
    const me = await stack.execute(MeDocument, {}, { token });

    expect(me.data!.me?.id).toBe("idp:6");
    expect(stack.idp.calls("userinfo")).toHaveLength(0);
  });

  it("refuses selectRole on an IdP session with FORBIDDEN, calls no Spine endpoint and keeps the session", async () => {
    const token = await signin(stack);

    const result = await stack.execute(SelectRoleDocument, { businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R01" }, { token });

    expect(codes(result)).toEqual(["FORBIDDEN"]);
    expect(stack.spine.calls()).toHaveLength(0);
    expect((await stack.execute(MeDocument, {}, { token })).data!.me?.id).toBe("idp:6");
  });

  it("answers a userinfo body of the wrong shape at signin with UPSTREAM_BAD_RESPONSE from IDP", async () => {
    stack.idp.inject("userinfo", { kind: "wrong-shape", times: 1 });

    const result = await stack.execute(SigninDocument, { email: documentedUser.email, password: documentedUser.password });

    expect(codes(result)).toEqual(["UPSTREAM_BAD_RESPONSE"]);
    expect(result.errors![0]!.extensions).toMatchObject({ backend: "IDP" });
    expect(result.data).toBeNull();
    expect(stack.idp.calls().map((call) => call.route)).toEqual(["signin", "userinfo"]);
  });

  it("signs out at the IdP with the access token in the path and only the email in the form", async () => {
    const token = await signin(stack);
    const accessToken = accessTokenOf(stack.idp.calls("userinfo")[0]);
    stack.idp.resetCalls();

    const result = await stack.execute(SignoutDocument, {}, { token });

    expect(result.data).toEqual({ signout: true });
    const calls = stack.idp.calls("signout");
    expect(calls).toHaveLength(1);
    const [call] = calls;
    expect(call!.method).toBe("POST");
    expect(call!.path).toBe(`/api/1.0/sso/signout/${accessToken}`);
    expect(call!.headers["content-type"]).toMatch(/^application\/x-www-form-urlencoded/);
    expect(call!.headers["client_id"]).toBe(IDP_DEMO.clientId);
    expect(call!.headers["x-auth-token"]).toBe(IDP_DEMO.apiToken);
    // The gateway never keeps the password (idp.md), so the form carries the email and nothing else.
    expect(call!.body).toEqual({ email: documentedUser.email });
    expect(call!.body).not.toHaveProperty("password");
  });

  it("answers me and session with null after signout, without asking the IdP", async () => {
    const token = await signin(stack);
    await stack.execute(SignoutDocument, {}, { token });
    stack.idp.resetCalls();

    expect((await stack.execute(MeDocument, {}, { token })).data!.me).toBeNull();
    expect((await stack.execute(CurrentSessionDocument, {}, { token })).data!.session).toBeNull();
    expect(stack.idp.calls()).toHaveLength(0);
  });

  // idp.md: a repeated sign-in while a token is live returns the same token, so one client's
  // sign-out ends the other's token too. The gateway's cached user info for that token must
  // not outlive the sign-out it made itself.
  it("ends the access token for a second session of the same user that shares it", async () => {
    const first = await signin(stack);
    const second = await signin(stack);
    expect((await stack.execute(MeDocument, {}, { token: second })).data!.me?.id).toBe("idp:6");

    expect((await stack.execute(SignoutDocument, {}, { token: first })).data).toEqual({ signout: true });
    const [signoutCall] = stack.idp.calls("signout");
    stack.idp.resetCalls();

    expect((await stack.execute(MeDocument, {}, { token: second })).data!.me).toBeNull();
    const userinfoCalls = stack.idp.calls("userinfo");
    expect(userinfoCalls).toHaveLength(1);
    // The second session asked about the very token the first one signed out.
    expect(signoutCall!.path.split("/").pop()).toBe(accessTokenOf(userinfoCalls[0]));
    // The second gateway session ended with the token: it is not asked about again.
    expect((await stack.execute(CurrentSessionDocument, {}, { token: second })).data!.session).toBeNull();
    expect(stack.idp.calls("userinfo")).toHaveLength(1);
  });

  it("answers signout of a session whose shared token another session already ended with true", async () => {
    const first = await signin(stack);
    const second = await signin(stack);
    await stack.execute(SignoutDocument, {}, { token: first });

    const result = await stack.execute(SignoutDocument, {}, { token: second });

    expect(result.data).toEqual({ signout: true });
    const [firstSignout, secondSignout] = stack.idp.calls("signout");
    expect(stack.idp.calls("signout")).toHaveLength(2);
    expect(secondSignout!.path).toBe(firstSignout!.path);
    expect((await stack.execute(MeDocument, {}, { token: second })).data!.me).toBeNull();
  });

  it("gives the user a new access token at the next sign-in after signout", async () => {
    const first = await signin(stack);
    await stack.execute(SignoutDocument, {}, { token: first });

    const next = await signin(stack);

    const [before, after] = stack.idp.calls("userinfo");
    expect(stack.idp.calls("userinfo")).toHaveLength(2);
    expect(accessTokenOf(after)).not.toBe(accessTokenOf(before));
    expect((await stack.execute(MeDocument, {}, { token: next })).data!.me?.id).toBe("idp:6");
  });

  it("does not let a me that races the IdP sign-out keep the ended token's user info cached", async () => {
    const first = await signin(stack);
    const second = await signin(stack);
    // Hold the IdP sign-out open, so a read of the shared token can happen while it is under way.
    stack.idp.inject("signout", { kind: "latency", ms: 400, times: 1 });

    const signingOut = stack.execute(SignoutDocument, {}, { token: first });
    await waitFor(() => stack.idp.calls("signout").length === 1);
    await stack.execute(MeDocument, {}, { token: second });
    expect((await signingOut).data).toEqual({ signout: true });

    // The token is dead at the IdP now; the second session must see that, not a cached user.
    expect((await stack.execute(MeDocument, {}, { token: second })).data!.me).toBeNull();
  });

  it.each([
    ["answers 503", { kind: "status", status: 503 } as const],
    ["drops the connection", { kind: "drop" } as const],
  ])("ends the gateway session and answers true when the IdP %s at signout", async (_, fault) => {
    const token = await signin(stack);
    stack.idp.inject("signout", fault);

    const result = await stack.execute(SignoutDocument, {}, { token });

    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ signout: true });
    expect(stack.idp.calls("signout")).toHaveLength(1);
    stack.idp.clearFaults();
    expect((await stack.execute(MeDocument, {}, { token })).data!.me).toBeNull();
    expect((await stack.execute(CurrentSessionDocument, {}, { token })).data!.session).toBeNull();
  });
});

// With the default TTL, sign-in warms the shared user-info cache and every later `me` is a
// cache hit: neither the IdP's ending of a token nor the in-flight de-duplication would be
// exercised. A TTL of 0 turns the shared cache off, so every `me` asks the IdP (through the
// in-flight de-duplication), which is what these tests need. The cache's TTL runs on keyv's
// real clock, not the stack's, so advancing the stack clock alone would not empty it.
describe("IdP flow: user info read fresh (USER_INFO_CACHE_TTL_SECONDS=0)", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await Stack.start({ env: { USER_INFO_CACHE_TTL_SECONDS: "0" } });
  });
  afterAll(() => stack.close());
  beforeEach(() => {
    endAllIdpTokens(stack);
    stack.idp.clearFaults();
    stack.idp.resetCalls();
  });
  afterEach(() => {
    stack.idp.setNotAuthenticatedStatus(401);
  });

  it("makes one userinfo call for 20 concurrent me requests of one session", async () => {
    const token = await signin(stack);
    stack.idp.resetCalls();
    // Holds the first userinfo call open while the other 19 requests arrive; without the
    // in-flight de-duplication each would make its own call.
    stack.idp.inject("userinfo", { kind: "latency", ms: 300, times: 1 });

    const results = await Promise.all(Array.from({ length: 20 }, () => stack.execute(MeDocument, {}, { token })));

    for (const result of results) expect(result.data!.me?.id).toBe("idp:6");
    expect(stack.idp.calls("userinfo")).toHaveLength(1);
  });

  it("asks the IdP again on the next me once the first call has returned", async () => {
    const token = await signin(stack);
    stack.idp.resetCalls();

    await stack.execute(MeDocument, {}, { token });
    await stack.execute(MeDocument, {}, { token });

    expect(stack.idp.calls("userinfo")).toHaveLength(2);
  });

  it.each([401, 404] as const)("ends the gateway session when the IdP ended the access token (answering %p)", async (status) => {
    const token = await signin(stack);
    stack.idp.setNotAuthenticatedStatus(status);
    stack.idp.expireTokensOf(documentedUser.email);
    stack.idp.resetCalls();

    const me = await stack.execute(MeDocument, {}, { token });

    expect(me.errors).toBeUndefined();
    expect(me.data!.me).toBeNull();
    expect(stack.idp.calls("userinfo")).toHaveLength(1);
    const session = await stack.execute(CurrentSessionDocument, {}, { token });
    expect(session.data!.session).toBeNull();
    expect(stack.idp.calls("userinfo")).toHaveLength(1);
  });

  it("ends the gateway session once the access token's 600 s lifetime is over", async () => {
    const token = await signin(stack);
    expect((await stack.execute(MeDocument, {}, { token })).data!.me?.id).toBe("idp:6");

    stack.clock.advance(601_000);
    stack.idp.resetCalls();

    const me = await stack.execute(MeDocument, {}, { token });
    expect(me.errors).toBeUndefined();
    expect(me.data!.me).toBeNull();
    expect(stack.idp.calls("userinfo")).toHaveLength(1);
    const session = await stack.execute(CurrentSessionDocument, {}, { token });
    expect(session.data!.session).toBeNull();
    expect(stack.idp.calls("userinfo")).toHaveLength(1);
  });

  it("keeps the gateway session while the access token lives (599 s after sign-in)", async () => {
    const token = await signin(stack);

    stack.clock.advance(599_000);

    expect((await stack.execute(MeDocument, {}, { token })).data!.me?.id).toBe("idp:6");
  });
});
