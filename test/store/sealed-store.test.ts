import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createClient } from "@keyv/redis";
import { storeKeyOf } from "../../src/sessions/session-token.js";
import { Sealer, sealedStore, sealingKey } from "../../src/store/sealed-store.js";
import { openStore } from "../../src/store/store.js";
import { CreateSessionDocument, MeDocument } from "../generated/operations.js";
import { spineUser, Stack } from "../support/harness.js";

const record = { credential: { sessionKey: "pro-xapi-session_secret", smartcardToken: "AQIC-card-secret" }, user: { email: "a@example.org" } };

describe("Sealer (AES-256-GCM)", () => {
  const current = sealingKey(randomBytes(32));
  const sealer = new Sealer(current);

  it("opens what it sealed, under the same store key", () => {
    expect(sealer.open(sealer.seal(record, "k1"), "k1")).toEqual(record);
  });

  it("writes nothing of the value in the clear, and a new IV each time", () => {
    const first = sealer.seal(record, "k1");
    const second = sealer.seal(record, "k1");

    expect(first).toMatch(/^v1\.[\w-]{8}\.[\w-]{16}\.[\w-]+$/);
    expect(first).not.toBe(second);
    for (const secret of ["pro-xapi-session_secret", "AQIC-card-secret", "a@example.org"]) expect(first).not.toContain(secret);
  });

  it("refuses a value moved under another store key (the key is bound in as additional data)", () => {
    expect(sealer.open(sealer.seal(record, "k1"), "k2")).toBeUndefined();
  });

  it("refuses an altered value", () => {
    const sealed = sealer.seal(record, "k1");
    const body = sealed.split(".")[3]!;
    const flipped = `${body.slice(0, 10)}${body[10] === "A" ? "B" : "A"}${body.slice(11)}`;

    expect(sealer.open(sealed.replace(body, flipped), "k1")).toBeUndefined();
  });

  it("refuses values sealed by an unknown key, and things that were never sealed", () => {
    const stranger = new Sealer(sealingKey(randomBytes(32)));

    expect(sealer.open(stranger.seal(record, "k1"), "k1")).toBeUndefined();
    expect(sealer.open(JSON.stringify(record), "k1")).toBeUndefined();
    expect(sealer.open(record, "k1")).toBeUndefined();
    expect(sealer.open("v1.x.y", "k1")).toBeUndefined();
  });

  it("opens values sealed before a key rotation with the previous key, and seals new ones with the current key", () => {
    const old = new Sealer(current);
    const next = sealingKey(randomBytes(32));
    const rotated = new Sealer(next, [current]);
    const before = old.seal(record, "k1");

    expect(rotated.open(before, "k1")).toEqual(record);
    expect(rotated.seal(record, "k1").split(".")[1]).toBe(next.id);
    expect(old.open(rotated.seal(record, "k1"), "k1")).toBeUndefined();
  });

  it("reports a stored value it cannot open, and reads it as absent", async () => {
    const store = openStore({ redis: undefined, operationTimeoutMs: 1_000, onError: () => {} });
    const raw = store.namespace<string>("sealed-test");
    const unreadable: string[] = [];
    const sealed = sealedStore<typeof record>(raw, sealer, (key) => unreadable.push(key));
    await raw.set("forged", "v1.AAAAAAAA.AAAAAAAAAAAAAAAA.AAAA", 10_000);

    expect(await sealed.get("forged")).toBeUndefined();
    expect(unreadable).toEqual(["forged"]);
    await store.close();
  });
});

const REDIS_URL = process.env.REDIS_URL;
if (REDIS_URL === undefined) {
  console.warn("SKIPPED: session encryption key rotation across gateways on Redis. Set REDIS_URL=redis://127.0.0.1:6379 to run it.");
}

(REDIS_URL === undefined ? describe.skip : describe)("session encryption on a shared Redis", () => {
  const oldKey = randomBytes(32).toString("base64");
  const newKey = randomBytes(32).toString("hex");
  const redis = createClient({ url: REDIS_URL });
  let before: Stack;
  let token: string;
  beforeAll(async () => {
    await redis.connect();
    before = await Stack.start({ env: { REDIS_URL: REDIS_URL!, SESSION_ENCRYPTION_KEY: oldKey } });
    token = (await before.execute(CreateSessionDocument, { token: spineUser.smartcardToken })).data!.createSession.token!;
  });
  afterAll(async () => {
    await redis.del(`session::${storeKeyOf(token)}`);
    await redis.close();
    await before.close();
  });

  it("keeps sessions across a key rotation when the old key is listed as previous", async () => {
    const after = await Stack.start({ env: { REDIS_URL: REDIS_URL!, SESSION_ENCRYPTION_KEY: newKey, SESSION_ENCRYPTION_PREVIOUS_KEYS: oldKey } });
    try {
      expect((await after.execute(MeDocument, {}, { token })).data!.me?.id).toBe("spine:555020964101");
    } finally {
      await after.close();
    }
  });

  it("treats sessions it cannot open as absent, and says so in the log", async () => {
    const stranger = await Stack.start({ env: { REDIS_URL: REDIS_URL!, SESSION_ENCRYPTION_KEY: newKey } });
    try {
      const me = await stranger.execute(MeDocument, {}, { token });

      expect(me.errors).toBeUndefined();
      expect(me.data!.me).toBeNull();
      expect(stranger.logs.some((line) => line["namespace"] === "session" && String(line["msg"]).includes("could not be opened"))).toBe(true);
    } finally {
      await stranger.close();
    }
  });
});
