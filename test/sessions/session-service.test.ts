/**
 * SessionService's own guarantees under concurrency, below HTTP: what still holds when the lock
 * did not (a holder past its TTL), and how the lock waits. On the in-memory store, whose
 * registers and capped indexes keep the same contract as Redis's (test/store).
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { randomUUID } from "node:crypto";
import { sessionCoordination } from "../../src/composition/store.js";
import { AuthProvider } from "../../src/domain/user.js";
import type { ActiveSession, NewSession, SessionRecord, SpineSessionRecord } from "../../src/sessions/session.js";
import { SessionService, type SessionServiceOptions } from "../../src/sessions/session.service.js";
import { SPINE_DEMO } from "../../src/simulators/index.js";
import { openStore, type RegisterStore, type Store } from "../../src/store/store.js";
import { waitFor } from "../support/wait.js";

const OPTIONS = { idleTimeoutMs: 60_000, absoluteTimeoutMs: 600_000, maxPerUser: 10, lockTtlMs: 200, now: Date.now };
const user = SPINE_DEMO.users[0]!;

/** Where the service keeps sessions and coordinates them, as the gateway builds them. */
function stored(store: Store): Pick<SessionServiceOptions, "store" | "expiries" | "coordination"> {
  return { store: store.namespace<SessionRecord>("session"), expiries: store.expiryIndex("session"), coordination: sessionCoordination(store) };
}

/** A Spine session of a user of its own, as A001 would describe them. */
function spineSession(): NewSession {
  const { firstName, middleName, lastName } = user;
  return {
    credential: { provider: AuthProvider.SPINE, sessionKey: `pro-xapi-session_${randomUUID()}`, smartcardToken: user.smartcardToken },
    user: {
      provider: AuthProvider.SPINE,
      identifier: randomUUID(),
      displayName: `${firstName} ${lastName}`,
      firstName,
      middleName,
      lastName,
      email: null,
      active: null,
      groups: [],
      permissions: [...user.permissions],
      profiles: [],
      lastLoginAt: null,
    },
    permission: null,
  };
}

describe("SessionService changes of one session", () => {
  let store: Store;
  let sessions: SessionService;
  beforeAll(() => {
    store = openStore({ redis: undefined, operationTimeoutMs: 1_000, onError: () => {} });
    sessions = new SessionService({ ...stored(store), ...OPTIONS });
  });
  afterAll(() => store.close());

  async function open(): Promise<{ token: string; session: ActiveSession<SpineSessionRecord> }> {
    const { token, session } = await sessions.open(spineSession());
    return { token, session: session as ActiveSession<SpineSessionRecord> };
  }

  it("refuses to rotate a token another rotation replaced, even without the lock, and stores nothing for it", async () => {
    const { session } = await open();
    const first = await sessions.rotate(session, { permission: user.permissions[0]! });

    const stored = await store.count("session");

    const second = await sessions.rotate(session, { permission: user.permissions[1]! });

    expect(second).toBeNull();
    expect(await store.count("session")).toBe(stored);
    expect((await sessions.find(first!.token))?.record.permission).toEqual(user.permissions[0]);
    expect(await sessions.holdsCurrentToken(session)).toBe(false);
  });

  it("refuses to rotate a session that ended meanwhile: no token of it is left", async () => {
    const { token, session } = await open();
    expect(await sessions.end(session.record.id, session)).not.toBeNull();

    const rotated = await sessions.rotate(session, { permission: user.permissions[0]! });

    expect(rotated).toBeNull();
    expect(await sessions.find(token)).toBeNull();
  });

  it("ends the rotated token when handed the token from before the rotation, and only once", async () => {
    const { token, session } = await open();
    const rotated = (await sessions.rotate(session, { permission: user.permissions[0]! }))!;

    const ended = await sessions.end(session.record.id, session);

    expect(ended?.permission).toEqual(user.permissions[0]);
    expect([await sessions.find(token), await sessions.find(rotated.token)]).toEqual([null, null]);
    expect(await sessions.end(session.record.id, session)).toBeNull();
  });

  it("lets a second holder of a session's lock in only after the first let go", async () => {
    const { session } = await open();
    const order: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    // The lock attempts the store refused, counted, to know when the second holder is waiting.
    const coordination = sessionCoordination(store);
    let refused = 0;
    const locks: RegisterStore = {
      ...coordination.locks,
      compareAndSet: async (...args) => {
        const set = await coordination.locks.compareAndSet(...args);
        if (!set) refused += 1;
        return set;
      },
    };
    const counted = new SessionService({ ...stored(store), coordination: { ...coordination, locks }, ...OPTIONS });

    const first = counted.withLock(session.record.id, async (locked) => {
      order.push(`first in (${locked})`);
      await held;
      order.push("first out");
    });
    const second = counted.withLock(session.record.id, async (locked) => void order.push(`second in (${locked})`));
    await waitFor(() => refused > 0, { what: "the second holder refused the lock once" });
    release();
    await Promise.all([first, second]);

    expect(order).toEqual(["first in (true)", "first out", "second in (true)"]);
  });

  it("tells a waiter it did not get the lock once its wait (the lock's TTL) is over, rather than wait for ever", async () => {
    const { session } = await open();
    // A holder whose lock lives longer than this service waits: one on another instance with a longer TTL.
    const other = new SessionService({ ...stored(store), ...OPTIONS, lockTtlMs: 5_000 });
    let release: (() => void) | undefined;
    const holding = other.withLock(session.record.id, () => new Promise<void>((resolve) => (release = resolve)));
    // Held: the holder's work has begun.
    await waitFor(() => release !== undefined, { what: "the other instance holding the lock" });
    const started = Date.now();

    const locked = await sessions.withLock(session.record.id, async (got) => got);

    expect(locked).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(OPTIONS.lockTtlMs - 5);
    expect(Date.now() - started).toBeLessThan(OPTIONS.lockTtlMs + 500);
    release!();
    await holding;
  });

  it("leaves no entry of a session in its user's index, nor its current-token register, once it ended or expired", async () => {
    let now = Date.now();
    const clocked = new SessionService({ ...stored(store), ...OPTIONS, now: () => now });
    const users = store.cappedIndex("user-sessions");
    const signedOut = await clocked.open(spineSession());
    const forgotten = await clocked.open(spineSession());
    const userOf = (session: ActiveSession): string => `spine:${session.record.user.identifier}`;
    expect(await users.members(userOf(forgotten.session))).toEqual([forgotten.session.record.id]);

    await clocked.end(signedOut.session.record.id, signedOut.session);
    now += OPTIONS.idleTimeoutMs;
    await clocked.expireDue(() => undefined);

    expect([await users.members(userOf(signedOut.session)), await users.members(userOf(forgotten.session))]).toEqual([[], []]);
    expect(await store.registers("session-current").get(forgotten.session.record.id)).toBeUndefined();
  });
});
