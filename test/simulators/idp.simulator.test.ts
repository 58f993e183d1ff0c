import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { IDP_DEMO, startIdpSimulator, type IdpSimulator } from "../../src/simulators/index.js";
import { INACTIVE, PROVIDER, SUPERVISOR, accessTokenOf, idp, signIn } from "./http.js";

const NOT_AUTHENTICATED = { error: true, message: "Not authenticated", code: 401 };
const ACCESS_TOKEN = /^[A-Za-z0-9]{42}$/;
const T0 = Date.parse("2024-05-01T09:00:00Z");

const userInfo = (sim: IdpSimulator, token: string, headers?: Record<string, string | undefined>) =>
  idp(sim, "GET", `/api/1.0/sso/token/${token}`, undefined, headers);
const signOut = (sim: IdpSimulator, token: string, form: Record<string, string>, headers?: Record<string, string | undefined>) =>
  idp(sim, "POST", `/api/1.0/sso/signout/${token}`, form, headers);

describe("IdP simulator", () => {
  let sim: IdpSimulator;
  let clock = T0;
  beforeAll(async () => {
    sim = await startIdpSimulator({ now: () => clock });
  });
  afterAll(() => sim.close());
  afterEach(() => {
    // Every test starts signed out, on the default clock and status.
    for (const user of IDP_DEMO.users) sim.expireTokensOf(user.email);
    sim.setNotAuthenticatedStatus(401);
    sim.resetCalls();
    clock = T0;
  });

  it("uses the demo organisation's credentials by default", () => {
    expect(sim.clientId).toBe(IDP_DEMO.clientId);
    expect(sim.apiToken).toBe(IDP_DEMO.apiToken);
    expect(sim.url).toBe(`http://127.0.0.1:${sim.port}`);
  });

  describe("sign-in", () => {
    it("answers 200 with exactly one 42-character alphanumeric access token", async () => {
      const reply = await signIn(sim);
      expect(reply.status).toBe(200);
      expect(reply.contentType).toMatch(/^application\/json/);
      expect(reply.json).toEqual({ access_token: expect.stringMatching(ACCESS_TOKEN) });
    });

    it("answers a repeated sign-in with the same live token", async () => {
      const first = await accessTokenOf(sim);
      clock += 300_000;
      expect(await accessTokenOf(sim)).toBe(first);
    });

    it("gives different users different tokens", async () => {
      expect(await accessTokenOf(sim, PROVIDER)).not.toBe(await accessTokenOf(sim, SUPERVISOR));
    });

    it("matches the email case-insensitively", async () => {
      const reply = await signIn(sim, { email: PROVIDER.email.toUpperCase(), password: PROVIDER.password });
      expect(reply.status).toBe(200);
    });

    it.each([
      ["a wrong password", { email: PROVIDER.email, password: "not-the-password" }],
      ["an unknown email", { email: "nobody@example.org", password: PROVIDER.password }],
      ["another user's password", { email: PROVIDER.email, password: SUPERVISOR.password }],
    ])("answers 401 with the error body for %s", async (_, credentials) => {
      const reply = await signIn(sim, credentials);
      expect(reply.status).toBe(401);
      expect(reply.json).toEqual(NOT_AUTHENTICATED);
    });

    it("answers 401 when the password is missing", async () => {
      const reply = await idp(sim, "POST", "/api/1.0/sso/signin", { email: PROVIDER.email });
      expect(reply.status).toBe(401);
      expect(reply.json).toEqual(NOT_AUTHENTICATED);
    });

    it("answers 404 with code 401 in the body once set to the published docs' quirk", async () => {
      sim.setNotAuthenticatedStatus(404);
      const reply = await signIn(sim, { email: PROVIDER.email, password: "wrong" });
      expect(reply.status).toBe(404);
      expect(reply.json).toEqual(NOT_AUTHENTICATED);
    });

    it.each([
      ["a wrong client_id", { client_id: "999999" }],
      ["a wrong API token", { "X-Auth-Token": "0".repeat(48) }],
      ["no client_id", { client_id: undefined }],
      ["no API token", { "X-Auth-Token": undefined }],
    ])("answers 401 for %s, even when not-authenticated answers are set to 404", async (_, headers) => {
      sim.setNotAuthenticatedStatus(404);
      const reply = await idp(sim, "POST", "/api/1.0/sso/signin", { email: PROVIDER.email, password: PROVIDER.password }, headers);
      expect(reply.status).toBe(401);
      expect(reply.json).toEqual(NOT_AUTHENTICATED);
    });

    it("does not take the credentials as JSON", async () => {
      const json = await fetch(`${sim.url}/api/1.0/sso/signin`, {
        method: "POST",
        headers: { client_id: sim.clientId, "X-Auth-Token": sim.apiToken, "Content-Type": "application/json" },
        body: JSON.stringify({ email: PROVIDER.email, password: PROVIDER.password }),
      });
      expect(json.status).toBe(401);
      await json.arrayBuffer();
    });

    it("records the form fields and the organisation's headers", async () => {
      await signIn(sim);
      const [call] = sim.calls("signin");
      expect(call).toMatchObject({
        route: "signin",
        method: "POST",
        path: "/api/1.0/sso/signin",
        body: { email: PROVIDER.email, password: PROVIDER.password },
        at: T0,
      });
      expect(call!.headers["client_id"]).toBe(IDP_DEMO.clientId);
      expect(call!.headers["x-auth-token"]).toBe(IDP_DEMO.apiToken);
    });
  });

  describe("token lifetime", () => {
    it("ends a token 600 seconds after the sign-in that created it", async () => {
      const token = await accessTokenOf(sim);
      clock = T0 + 599_999;
      expect((await userInfo(sim, token)).status).toBe(200);
      clock = T0 + 600_000;
      const reply = await userInfo(sim, token);
      expect(reply.status).toBe(401);
      expect(reply.json).toEqual(NOT_AUTHENTICATED);
    });

    it("does not extend a token when the user signs in again", async () => {
      const token = await accessTokenOf(sim);
      clock = T0 + 599_000;
      expect(await accessTokenOf(sim)).toBe(token);
      clock = T0 + 600_000;
      expect((await userInfo(sim, token)).status).toBe(401);
    });

    it("issues a new token on sign-in after the old one ended", async () => {
      const token = await accessTokenOf(sim);
      clock = T0 + 600_000;
      const next = await accessTokenOf(sim);
      expect(next).not.toBe(token);
      expect((await userInfo(sim, next)).status).toBe(200);
    });

    it("honours a configured lifetime", async () => {
      let now = T0;
      const short = await startIdpSimulator({ tokenLifetimeSeconds: 5, now: () => now });
      try {
        const token = await accessTokenOf(short);
        now = T0 + 4_999;
        expect((await userInfo(short, token)).status).toBe(200);
        now = T0 + 5_000;
        expect((await userInfo(short, token)).status).toBe(401);
      } finally {
        await short.close();
      }
    });

    it("refuses a lifetime that is not positive", async () => {
      await expect(startIdpSimulator({ tokenLifetimeSeconds: 0 })).rejects.toThrow(/tokenLifetimeSeconds/);
    });

    it("ends a user's token on expireTokensOf and refuses an unknown email", async () => {
      const token = await accessTokenOf(sim);
      sim.expireTokensOf(PROVIDER.email);
      expect((await userInfo(sim, token)).status).toBe(401);
      expect(() => sim.expireTokensOf("nobody@example.org")).toThrow(/nobody@example.org/);
    });
  });

  describe("user info", () => {
    it("answers 200 with the documented shape, the current token and the sign-in time as last_login", async () => {
      clock = Date.parse("2024-05-01T09:15:30Z");
      const token = await accessTokenOf(sim, PROVIDER);
      const reply = await userInfo(sim, token);
      expect(reply.status).toBe(200);
      expect(reply.json).toEqual({
        id: 6,
        name: "Dr. Rahima Khatun",
        email: PROVIDER.email,
        is_active: true,
        activated: true,
        activated_at: null,
        last_login: "2024-05-01 09:15:30",
        access_token: token,
        created_at: "2014-09-04 13:26:14",
        updated_at: "2015-01-20 09:52:58",
        deleted_at: null,
        groups: ["Provider", "MCI Approver", "API Consumer"],
        profiles: [
          { type: "provider", id: "123", catchment: ["302618", "302614"] },
          { type: "admin", id: "2", catchment: ["3026"] },
          { type: "facility", id: "10000069", catchment: ["302618"] },
          { type: "patient", id: "10091232131", catchment: [] },
        ],
      });
    });

    it("answers in the reference implementation's shape for the supervisor", async () => {
      const token = await accessTokenOf(sim, SUPERVISOR);
      const body = (await userInfo(sim, token)).json as Record<string, unknown>;
      expect(body["id"]).toBe("18");
      expect(body["is_active"]).toBe(1);
      expect(body).not.toHaveProperty("activated");
      expect(Object.values(body)).not.toContain(null);
      expect(body["access_token"]).toBe(token);
      const profiles = body["profiles"] as Array<Record<string, unknown>>;
      expect(profiles.every((p) => typeof p["name"] === "string" && !("type" in p))).toBe(true);
      expect(profiles.map((p) => p["name"])).toContain("mci-supervisor");
    });

    it("answers without groups or profiles, inactive, for the inactive account", async () => {
      const token = await accessTokenOf(sim, INACTIVE);
      const body = (await userInfo(sim, token)).json as Record<string, unknown>;
      expect(body["is_active"]).toBe(0);
      expect(body).not.toHaveProperty("groups");
      expect(body).not.toHaveProperty("profiles");
    });

    it.each([401, 404] as const)("answers %s with the error body for an unknown token", async (status) => {
      sim.setNotAuthenticatedStatus(status);
      const reply = await userInfo(sim, "A".repeat(42));
      expect(reply.status).toBe(status);
      expect(reply.json).toEqual(NOT_AUTHENTICATED);
    });

    it("answers 401 to a wrong client pair even for a live token", async () => {
      const token = await accessTokenOf(sim);
      const reply = await userInfo(sim, token, { "X-Auth-Token": token });
      expect(reply.status).toBe(401);
      expect(reply.json).toEqual(NOT_AUTHENTICATED);
    });
  });

  describe("sign-out", () => {
    it("answers 200 to an email-only form and ends the token", async () => {
      const token = await accessTokenOf(sim);
      const reply = await signOut(sim, token, { email: PROVIDER.email });
      expect(reply.status).toBe(200);
      expect(reply.json).toEqual({ message: "Signed out" });
      expect((await userInfo(sim, token)).status).toBe(401);
    });

    it("ends the token for every client that was given it", async () => {
      const first = await accessTokenOf(sim);
      const second = await accessTokenOf(sim);
      await signOut(sim, first, { email: PROVIDER.email });
      expect((await userInfo(sim, second)).status).toBe(401);
    });

    it("issues a new token on the next sign-in", async () => {
      const token = await accessTokenOf(sim);
      await signOut(sim, token, { email: PROVIDER.email });
      expect(await accessTokenOf(sim)).not.toBe(token);
    });

    it.each([401, 404] as const)("answers %s with the error body for an unknown token", async (status) => {
      sim.setNotAuthenticatedStatus(status);
      const reply = await signOut(sim, "B".repeat(42), { email: PROVIDER.email });
      expect(reply.status).toBe(status);
      expect(reply.json).toEqual(NOT_AUTHENTICATED);
    });

    it.each([
      ["another user's email", { email: SUPERVISOR.email }],
      ["no email", {}],
    ])("refuses %s and keeps the token", async (_, form) => {
      const token = await accessTokenOf(sim);
      const reply = await signOut(sim, token, form);
      expect(reply.status).toBe(401);
      expect((await userInfo(sim, token)).status).toBe(200);
    });

    it("answers 401 to a wrong client pair and keeps the token", async () => {
      const token = await accessTokenOf(sim);
      const reply = await signOut(sim, token, { email: PROVIDER.email }, { client_id: "999999" });
      expect(reply.status).toBe(401);
      expect((await userInfo(sim, token)).status).toBe(200);
    });
  });

  it("answers 404 with its error body for a path it does not serve", async () => {
    const reply = await idp(sim, "GET", "/api/1.0/sso/whoami");
    expect(reply.status).toBe(404);
    expect(reply.json).toEqual({ error: true, message: "Not found", code: 404 });
  });

  it("refuses a not-authenticated status other than 401 or 404", () => {
    expect(() => sim.setNotAuthenticatedStatus(403 as 401)).toThrow(RangeError);
  });

  it("accepts a configured client pair and no other", async () => {
    const custom = await startIdpSimulator({ clientId: "c-1", apiToken: "t-1" });
    try {
      expect((await signIn(custom)).status).toBe(200);
      const credentials = { email: PROVIDER.email, password: PROVIDER.password };
      const demoPair = await idp(custom, "POST", "/api/1.0/sso/signin", credentials, {
        client_id: IDP_DEMO.clientId,
        "X-Auth-Token": IDP_DEMO.apiToken,
      });
      expect(demoPair.status).toBe(401);
    } finally {
      await custom.close();
    }
  });
});

describe("IDP_DEMO", () => {
  it("holds at least three users with distinct emails, passwords and labels", () => {
    expect(IDP_DEMO.users.length).toBeGreaterThanOrEqual(3);
    expect(new Set(IDP_DEMO.users.map((u) => u.email)).size).toBe(IDP_DEMO.users.length);
    expect(IDP_DEMO.users.every((u) => u.label.length > 0 && u.password.length > 0)).toBe(true);
    expect(IDP_DEMO.users.every((u) => u.userInfo["email"] === u.email)).toBe(true);
  });
});
