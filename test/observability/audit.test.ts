import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { hashSessionId } from "../../src/observability/audit.js";
import { IDP_DEMO, SPINE_DEMO } from "../../src/simulators/index.js";
import {
  CreateSessionDocument,
  CurrentSessionDocument,
  MeDocument,
  SelectRoleDocument,
  SigninDocument,
  SignoutDocument,
} from "../generated/operations.js";
import { codes, idpUser, spineUser, Stack } from "../support/harness.js";
import { waitFor } from "../support/wait.js";

const ASID = SPINE_DEMO.asid;
const SPINE_USER_ID = "spine:555020964101";
const LOOPBACK = expect.stringMatching(/^(::ffff:)?127\.0\.0\.1$/);

/** The request id to send, so each event can be matched with its request exactly. */
const newId = (): string => `audit-${randomUUID()}`;
const sent = (requestId: string) => ({ headers: { "x-request-id": requestId } });

/** An audit event with every field: the ones not given are null, time and address are checked for shape. */
function event(fields: Record<string, unknown>): Record<string, unknown> {
  return {
    time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    reason: null,
    provider: null,
    userId: null,
    businessFunction: null,
    orgIdentifier: null,
    asid: null,
    sessionIdHash: null,
    clientAddress: LOOPBACK,
    ...fields,
  };
}

describe("audit trail of the session flows", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await Stack.start({
      env: { LOGIN_MAX_FAILURES_PER_ACCOUNT: "1", SESSION_IDLE_TIMEOUT_SECONDS: "600", SESSION_ABSOLUTE_TIMEOUT_SECONDS: "900" },
    });
  });
  afterAll(() => stack.close());
  beforeEach(() => {
    stack.audit.length = 0;
  });

  it("records a Spine session's creation, a refused role, the role selected and the sign-out, with user, role, org, ASID and session hash", async () => {
    const [create, refused, select, signout] = [newId(), newId(), newId(), newId()];

    const created = (await stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken }, sent(create))).data!.createSession;
    const sessionIdHash = hashSessionId(created.session.id);
    expect(
      codes(
        await stack.execute(
          SelectRoleDocument,
          { businessFunction: "BOOKING_MANAGER", orgIdentifier: "R09" },
          { token: created.token!, ...sent(refused) },
        ),
      ),
    ).toEqual(["FORBIDDEN"]);
    const selected = (
      await stack.execute(
        SelectRoleDocument,
        { businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R01" },
        { token: created.token!, ...sent(select) },
      )
    ).data!.selectRole;
    expect((await stack.execute(SignoutDocument, {}, { token: selected.token!, ...sent(signout) })).data).toEqual({ signout: true });

    const spine = { provider: "SPINE", userId: SPINE_USER_ID, asid: ASID, sessionIdHash };
    expect(stack.audit).toEqual([
      event({ event: "spine.session.created", outcome: "success", requestId: create, ...spine }),
      event({
        event: "refused.forbidden",
        outcome: "failure",
        reason: "ROLE_NOT_HELD",
        businessFunction: "BOOKING_MANAGER",
        orgIdentifier: "R09",
        requestId: refused,
        ...spine,
      }),
      event({
        event: "role.selected",
        outcome: "success",
        businessFunction: "REFERRING_CLINICIAN",
        orgIdentifier: "R01",
        requestId: select,
        ...spine,
      }),
      event({ event: "signout", outcome: "success", businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R01", requestId: signout, ...spine }),
    ]);
    expect(sessionIdHash).not.toBe(created.session.id);
  });

  it("records an IdP sign-in, a role selection refused on it, and its sign-out", async () => {
    const [signin, refused, signout] = [newId(), newId(), newId()];

    const payload = (await stack.execute(SigninDocument, { email: idpUser.email, password: idpUser.password }, sent(signin))).data!.signin;
    expect(
      codes(
        await stack.execute(
          SelectRoleDocument,
          { businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R01" },
          { token: payload.token!, ...sent(refused) },
        ),
      ),
    ).toEqual(["FORBIDDEN"]);
    expect((await stack.execute(SignoutDocument, {}, { token: payload.token!, ...sent(signout) })).data).toEqual({ signout: true });

    const idp = { provider: "IDP", userId: payload.session.user.id, sessionIdHash: hashSessionId(payload.session.id) };
    expect(idp.userId).toMatch(/^idp:/);
    expect(stack.audit).toEqual([
      event({ event: "signin", outcome: "success", requestId: signin, ...idp }),
      event({
        event: "refused.forbidden",
        outcome: "failure",
        reason: "NOT_A_SPINE_SESSION",
        businessFunction: "REFERRING_CLINICIAN",
        orgIdentifier: "R01",
        requestId: refused,
        ...idp,
      }),
      event({ event: "signout", outcome: "success", requestId: signout, ...idp }),
    ]);
  });

  it("records failed sign-ins with the reason, and a refusal by the sign-in limits as its own event", async () => {
    const [wrong, limited, refusedCard, down] = [newId(), newId(), newId(), newId()];
    const email = IDP_DEMO.users[2]!.email;

    expect(codes(await stack.execute(SigninDocument, { email, password: "Wr0ng-pass" }, sent(wrong)))).toEqual(["UNAUTHENTICATED"]);
    expect(codes(await stack.execute(SigninDocument, { email, password: "Wr0ng-pass" }, sent(limited)))).toEqual(["RATE_LIMITED"]);
    expect(
      codes(await stack.execute(CreateSessionDocument, { token: "AQIC5wM2LY4Sf-refused-by-spine-Xk29fQ=@AAJTSQACMDE=#" }, sent(refusedCard))),
    ).toEqual(["UNAUTHENTICATED"]);
    stack.spine.inject("A001", { kind: "status", status: 503, times: 1 });
    expect(codes(await stack.execute(CreateSessionDocument, { token: SPINE_DEMO.users[1]!.smartcardToken }, sent(down)))).toEqual([
      "UPSTREAM_UNAVAILABLE",
    ]);

    expect(stack.audit).toEqual([
      event({ event: "signin", outcome: "failure", reason: "UNAUTHENTICATED", provider: "IDP", requestId: wrong }),
      event({ event: "refused.rate_limited", outcome: "failure", reason: "signin", provider: "IDP", requestId: limited }),
      event({ event: "spine.session.created", outcome: "failure", reason: "UNAUTHENTICATED", provider: "SPINE", asid: ASID, requestId: refusedCard }),
      event({ event: "spine.session.created", outcome: "failure", reason: "UPSTREAM_UNAVAILABLE", provider: "SPINE", asid: ASID, requestId: down }),
    ]);
  });

  it("records a session's expiry when its token is next presented: idle, then absolute", async () => {
    const idleSession = (await stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken })).data!.createSession;
    const busySession = (await stack.execute(CreateSessionDocument, { token: SPINE_DEMO.users[1]!.smartcardToken })).data!.createSession;
    stack.clock.advance(500_000);
    expect((await stack.execute(MeDocument, {}, { token: busySession.token! })).data!.me).not.toBeNull();
    stack.clock.advance(200_000);
    stack.audit.length = 0;
    const [idle, absolute, after] = [newId(), newId(), newId()];

    // 700 s unused: past the idle limit (600 s).
    expect((await stack.execute(MeDocument, {}, { token: idleSession.token!, ...sent(idle) })).data).toEqual({ me: null });
    stack.clock.advance(250_000);
    // Used at 500 s, so idle until 1100 s; but 950 s old, past the absolute limit (900 s).
    expect((await stack.execute(CurrentSessionDocument, {}, { token: busySession.token!, ...sent(absolute) })).data).toEqual({ session: null });
    // Found once: the record is gone after the expiry was recorded.
    expect((await stack.execute(MeDocument, {}, { token: busySession.token!, ...sent(after) })).data).toEqual({ me: null });

    expect(stack.audit).toEqual([
      event({
        event: "session.expired",
        outcome: "success",
        reason: "IDLE",
        provider: "SPINE",
        userId: SPINE_USER_ID,
        asid: ASID,
        sessionIdHash: hashSessionId(idleSession.session.id),
        requestId: idle,
      }),
      event({
        event: "session.expired",
        outcome: "success",
        reason: "ABSOLUTE",
        provider: "SPINE",
        userId: busySession.session.user.id,
        asid: ASID,
        sessionIdHash: hashSessionId(busySession.session.id),
        requestId: absolute,
      }),
    ]);
  });
});

describe("audit trail of sessions nobody comes back for", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await Stack.start({ env: { SESSION_IDLE_TIMEOUT_SECONDS: "600", SESSION_ABSOLUTE_TIMEOUT_SECONDS: "900" }, expirySweepIntervalMs: 20 });
  });
  afterAll(() => stack.close());

  /** Waits (briefly) until the sweep has written `count` expiry events. */
  async function expiries(count: number): Promise<Array<Record<string, unknown>>> {
    const deadline = Date.now() + 3_000;
    const found = () => stack.audit.filter((line) => line.event === "session.expired");
    while (found().length < count && Date.now() < deadline) await sleep(20);
    // A fixed wait on purpose: what is checked is that no more events come (the sweep runs every
    // 20 ms), and an absence has no event to wait for.
    await sleep(100);
    return found();
  }

  it("records the expiry of each abandoned session once, when it falls due, with who and which role but no request", async () => {
    const rotated = (await stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken })).data!.createSession;
    const spine = (
      await stack.execute(SelectRoleDocument, { businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R01" }, { token: rotated.token! })
    ).data!.selectRole;
    const idp = (await stack.execute(SigninDocument, { email: idpUser.email, password: idpUser.password })).data!.signin;
    const ended = (await stack.execute(CreateSessionDocument, { token: SPINE_DEMO.users[1]!.smartcardToken })).data!.createSession;
    expect((await stack.execute(SignoutDocument, {}, { token: ended.token! })).data).toEqual({ signout: true });
    stack.audit.length = 0;

    stack.clock.advance(599_000);
    expect(await expiries(0)).toEqual([]);
    stack.clock.advance(2_000);

    // One event per session: not for the token rotated away at selectRole, nor for the signed-out session.
    const events = await expiries(2);
    const sessionEvent = { outcome: "success", reason: "IDLE", clientAddress: null, requestId: null };
    expect(events).toEqual(
      expect.arrayContaining([
        event({
          event: "session.expired",
          ...sessionEvent,
          provider: "SPINE",
          userId: SPINE_USER_ID,
          businessFunction: "REFERRING_CLINICIAN",
          orgIdentifier: "R01",
          asid: ASID,
          sessionIdHash: hashSessionId(spine.session.id),
        }),
        event({
          event: "session.expired",
          ...sessionEvent,
          provider: "IDP",
          userId: idp.session.user.id,
          sessionIdHash: hashSessionId(idp.session.id),
        }),
      ]),
    );
    expect(events).toHaveLength(2);

    // Presented afterwards, the token finds nothing, and the expiry is not recorded twice.
    expect((await stack.execute(MeDocument, {}, { token: spine.token! })).data).toEqual({ me: null });
    expect(await expiries(3)).toHaveLength(2);
  });
});

describe("audit sink", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "gateway-audit-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("appends JSON lines to the file AUDIT_LOG names, none of them in the application log", async () => {
    const file = join(dir, "audit.jsonl");
    const stack = await Stack.start({ env: { AUDIT_LOG: file } });
    try {
      const requestId = newId();
      await stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken }, sent(requestId));
      await stack.close();

      const lines = readFileSync(file, "utf8")
        .trimEnd()
        .split("\n")
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(lines).toEqual([
        event({
          event: "spine.session.created",
          outcome: "success",
          provider: "SPINE",
          userId: SPINE_USER_ID,
          asid: ASID,
          sessionIdHash: expect.any(String),
          requestId,
        }),
      ]);
      expect(stack.logs.some((line) => "event" in line || JSON.stringify(line).includes("spine.session.created"))).toBe(false);
    } finally {
      await stack.close();
    }
  });

  it.each([
    ["a device that is full", () => "/dev/full", "ENOSPC"],
    ["a directory that does not exist", () => join(dir, "missing", "audit.jsonl"), "ENOENT"],
  ])("when writing to %s fails, says so at error level, counts what is lost and reports audit down in /readyz", async (_name, path, code) => {
    const stack = await Stack.start({ env: { AUDIT_LOG: path() } });
    try {
      await stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken });
      // sonic-boom's write fails asynchronously: real I/O, not the gateway's clock.
      await waitFor(() => stack.logs.some((line) => line["msg"] === "audit sink failed: audit events are being lost; /readyz reports audit down"));
      expect(stack.logs.find((line) => String(line["msg"]).startsWith("audit sink failed"))).toMatchObject({ level: 50, sinkFailure: code });

      const ready = await fetch(`${stack.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({ status: "unavailable", down: ["audit"], checks: { store: "up", spine: "up", idp: "up", audit: "down" } });

      const requestId = newId();
      await stack.execute(SigninDocument, { email: idpUser.email, password: idpUser.password }, sent(requestId));
      expect(
        stack.logs.filter(
          (line) =>
            line["msg"] === "audit event lost: the audit sink has failed" && (line["audit"] as Record<string, unknown>)["requestId"] === requestId,
        ),
      ).toEqual([expect.objectContaining({ level: 50, audit: { event: "signin", outcome: "success", requestId } })]);
      const metrics = await (await fetch(`${stack.url}/metrics`)).text();
      expect(metrics).toContain('gateway_audit_events_total{event="signin",result="dropped"} 1');
    } finally {
      await stack.close();
    }
  });
});
