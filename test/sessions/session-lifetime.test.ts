import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { createHash } from "node:crypto";
import {
  CreateSessionDocument,
  CurrentSessionDocument,
  MeAndSessionDocument,
  MeDocument,
  SelectRoleDocument,
  SigninDocument,
} from "../generated/operations.js";
import { codes, idpUser, spineUser, Stack } from "../support/harness.js";
import { describeWithRedis, RedisInspector } from "../support/redis.js";
import { newSessionToken, storeKeyOf } from "../../src/sessions/session-token.js";

const IDLE_MS = 60_000;
const ABSOLUTE_MS = 300_000;
const LIFETIMES = { SESSION_IDLE_TIMEOUT_SECONDS: "60", SESSION_ABSOLUTE_TIMEOUT_SECONDS: "300" };
const HELD_ROLE = { businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R01" };

describe("Session lifetime (idle 60 s, absolute 300 s)", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await Stack.start({ env: LIFETIMES });
  });
  afterAll(() => stack.close());
  beforeEach(() => {
    stack.spine.resetCalls();
  });

  async function open(): Promise<{ token: string; createdAt: number; expiresAt: number }> {
    const result = await stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken });
    expect(result.errors).toBeUndefined();
    const { token, session } = result.data!.createSession;
    return { token: token!, createdAt: Date.parse(session.createdAt), expiresAt: Date.parse(session.expiresAt) };
  }

  async function me(token: string): Promise<string | null> {
    const result = await stack.execute(MeDocument, {}, { token });
    expect(result.errors).toBeUndefined();
    return result.data?.me?.id ?? null;
  }

  it("keeps a session unused for just under the idle timeout", async () => {
    const { token } = await open();

    stack.clock.advance(IDLE_MS - 1_000);

    expect(await me(token)).toBe("spine:555020964101");
  });

  it("ends a session unused for longer than the idle timeout: me is null and selectRole is UNAUTHENTICATED", async () => {
    const { token } = await open();

    stack.clock.advance(IDLE_MS + 1_000);

    expect(await me(token)).toBeNull();
    const session = await stack.execute(CurrentSessionDocument, {}, { token });
    expect(session.errors).toBeUndefined();
    expect(session.data!.session).toBeNull();
    const selecting = await stack.execute(SelectRoleDocument, HELD_ROLE, { token });
    expect(codes(selecting)).toEqual(["UNAUTHENTICATED"]);
    expect(stack.spine.calls("A002")).toHaveLength(0);
  });

  it("ends an IdP session unused for longer than the idle timeout", async () => {
    const signin = await stack.execute(SigninDocument, { email: idpUser.email, password: idpUser.password });
    const token = signin.data!.signin.token!;
    expect(await me(token)).toMatch(/^idp:/);

    stack.clock.advance(IDLE_MS + 1_000);

    expect(await me(token)).toBeNull();
  });

  it("keeps a session used every 30 s alive past the idle timeout, and ends it at the absolute timeout", async () => {
    const { token } = await open();

    for (let elapsed = 30_000; elapsed < ABSOLUTE_MS; elapsed += 30_000) {
      stack.clock.advance(30_000);
      expect({ elapsed, me: await me(token) }).toEqual({ elapsed, me: "spine:555020964101" });
    }
    stack.clock.advance(30_000);

    expect(await me(token)).toBeNull();
    const selecting = await stack.execute(SelectRoleDocument, HELD_ROLE, { token });
    expect(codes(selecting)).toEqual(["UNAUTHENTICATED"]);
  });

  it("reports expiresAt as createdAt + the idle timeout on a new session", async () => {
    const opened = await open();

    expect(opened.expiresAt - opened.createdAt).toBe(IDLE_MS);
    const current = await stack.execute(CurrentSessionDocument, {}, { token: opened.token });
    expect(Date.parse(current.data!.session!.createdAt)).toBe(opened.createdAt);
    expect(Date.parse(current.data!.session!.expiresAt)).toBe(opened.createdAt + IDLE_MS);
  });

  it("slides expiresAt with use, never past createdAt + the absolute timeout", async () => {
    const { token, createdAt } = await open();
    const reported: number[] = [];

    for (let elapsed = 30_000; elapsed < ABSOLUTE_MS; elapsed += 30_000) {
      stack.clock.advance(30_000);
      const current = await stack.execute(CurrentSessionDocument, {}, { token });
      const expiresAt = Date.parse(current.data!.session!.expiresAt);
      reported.push(expiresAt - createdAt);
      expect(Date.parse(current.data!.session!.createdAt)).toBe(createdAt);
    }

    // Used at 30 s, 60 s, ... 270 s: idle expiry follows each use until the absolute limit caps it.
    // (Seconds: the shared clock also runs in real time between the steps.)
    expect(reported.map((ms) => Math.round(ms / 1000))).toEqual([90, 120, 150, 180, 210, 240, 270, 300, 300]);
    expect(Math.max(...reported)).toBe(ABSOLUTE_MS);
  });

  it("keeps createdAt and the absolute limit across selectRole's token rotation", async () => {
    const { token, createdAt } = await open();
    stack.clock.advance(40_000);

    const selected = await stack.execute(SelectRoleDocument, HELD_ROLE, { token });

    expect(selected.errors).toBeUndefined();
    const rotated = selected.data!.selectRole;
    expect(Date.parse(rotated.session.createdAt)).toBe(createdAt);
    for (let elapsed = 80_000; elapsed < ABSOLUTE_MS; elapsed += 40_000) {
      stack.clock.advance(40_000);
      expect({ elapsed, me: await me(rotated.token!) }).toEqual({ elapsed, me: "spine:555020964101" });
    }
    stack.clock.advance(20_000);
    expect(await me(rotated.token!)).toBeNull();
  });
});

describe("Session tokens (src/sessions/session-token.ts)", () => {
  it("issues 43-character base64url tokens of 32 random bytes", () => {
    const token = newSessionToken();

    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(token, "base64url")).toHaveLength(32);
  });

  it("issues a different token every time", () => {
    const tokens = new Set(Array.from({ length: 10_000 }, () => newSessionToken()));

    expect(tokens.size).toBe(10_000);
  });

  it("keys a session by the SHA-256 of its token, never the token itself", () => {
    const token = newSessionToken();

    const key = storeKeyOf(token);

    expect(key).toBe(createHash("sha256").update(token).digest("base64url"));
    expect(key).not.toContain(token);
    expect(storeKeyOf(token)).toBe(key);
    expect(storeKeyOf(newSessionToken())).not.toBe(key);
  });
});

describe("Session tokens over HTTP", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await Stack.start();
  });
  afterAll(() => stack.close());

  it("gives two sessions of the same user different tokens and different ids", async () => {
    const first = await stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken });
    const second = await stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken });

    const [a, b] = [first.data!.createSession, second.data!.createSession];
    expect(a.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(b.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a.token).not.toBe(b.token);
    expect(a.session.id).not.toBe(b.session.id);
    expect(a.session.id).not.toContain(a.token!);
  });

  it.each([
    ["one character short", "A".repeat(42)],
    ["one character long", "A".repeat(44)],
    ["characters outside base64url", `${"A".repeat(42)}=`],
    ["standard base64 characters", `${"A".repeat(41)}+/`],
    ["a JWT", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"],
    ["non-ASCII", "é".repeat(43)],
  ])("answers a malformed token (%s) with me and session null, without error", async (_name, token) => {
    const result = await stack.execute(MeAndSessionDocument, {}, { token });

    expect(result.status).toBe(200);
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ me: null, session: null });
  });

  it("answers a well-formed but unknown token with me null, without error", async () => {
    const result = await stack.execute(MeAndSessionDocument, {}, { token: newSessionToken() });

    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ me: null, session: null });
  });
});

describeWithRedis("Session tokens in Redis", (redisUrl) => {
  let stack: Stack;
  let redis: RedisInspector;
  const issued: string[] = [];
  beforeAll(async () => {
    stack = await Stack.start({ env: { REDIS_URL: redisUrl } });
    redis = await RedisInspector.connect(redisUrl);
  });
  afterEach(async () => {
    await redis.forget(issued.splice(0));
  });
  afterAll(async () => {
    await stack?.close();
    await redis?.close();
  });

  it("stores sessions under the SHA-256 of the token: no key or value holds a gateway token", async () => {
    const created = await stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken });
    const first = created.data!.createSession.token!;
    const selected = await stack.execute(SelectRoleDocument, HELD_ROLE, { token: first });
    const rotated = selected.data!.selectRole.token!;
    const signedIn = await stack.execute(SigninDocument, { email: idpUser.email, password: idpUser.password });
    const idp = signedIn.data!.signin.token!;
    issued.push(first, rotated, idp);

    const keys = [...(await redis.keys("session::*")), ...(await redis.keys("userinfo::*"))];

    expect(keys).toContain(RedisInspector.sessionKey(rotated));
    expect(keys).toContain(RedisInspector.sessionKey(idp));
    expect(keys).not.toContain(RedisInspector.sessionKey(first));
    for (const key of keys) {
      const value = (await redis.client.get(key)) ?? "";
      for (const token of [first, rotated, idp]) {
        expect(key).not.toContain(token);
        expect(value).not.toContain(token);
      }
    }
  });
});
