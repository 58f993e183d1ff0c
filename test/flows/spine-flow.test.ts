import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { CreateSessionDocument, CurrentSessionDocument, MeDocument, SelectRoleDocument, SignoutDocument } from "../generated/operations.js";
import { codes, spineUser, Stack } from "../support/harness.js";
import { waitFor } from "../support/wait.js";

describe("Spine flow: createSession, selectRole, me, signout", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await Stack.start();
  });
  afterAll(() => stack.close());
  beforeEach(() => {
    stack.spine.clearFaults();
    stack.spine.resetCalls();
  });

  async function open(): Promise<string> {
    const result = await stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken });
    expect(result.errors).toBeUndefined();
    return result.data!.createSession.token!;
  }

  it("opens a session from a smartcard token with A001, before any role is selected", async () => {
    const result = await stack.execute(CreateSessionDocument, { token: spineUser.smartcardToken });

    expect(result.errors).toBeUndefined();
    const { token, session } = result.data!.createSession;
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(session).toMatchObject({ provider: "SPINE", roleSelected: false, permission: null });
    expect(session.user).toMatchObject({
      id: "spine:555020964101",
      provider: "SPINE",
      identifier: "555020964101",
      firstName: "SA Assurance",
      lastName: "GP-Card",
      middleName: null,
      displayName: "SA Assurance GP-Card",
      groups: [],
      profiles: [],
    });
    expect(session.user.permissions).toEqual([
      { businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R01", orgName: "NHST_X3" },
      { businessFunction: "SERVICE_PROVIDER_CLINICIAN", orgIdentifier: "R01", orgName: "NHST_X3" },
    ]);
    expect(session.id).not.toContain(token!);
    expect(Date.parse(session.expiresAt) - Date.parse(session.createdAt)).toBe(30 * 60 * 1000);
  });

  it("sends A001 with the ASID, JSON headers and only the token in the body", async () => {
    await open();

    const [call] = stack.spine.calls("A001");
    expect(stack.spine.calls("A001")).toHaveLength(1);
    expect(call!.method).toBe("POST");
    expect(call!.path).toBe("/v1/ProfessionalSession");
    expect(call!.headers["xapi_asid"]).toBe(stack.spine.asid);
    expect(call!.headers["accept"]).toBe("application/json");
    expect(call!.headers["content-type"]).toMatch(/^application\/json/);
    expect(call!.body).toEqual({ typeInfo: "uk.nhs.ers.xapi.dto.v1.session.ProfessionalSession", token: spineUser.smartcardToken });
  });

  it("selects a held role with A002 and rotates the session token", async () => {
    const token = await open();

    const result = await stack.execute(SelectRoleDocument, { businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R01" }, { token });

    expect(result.errors).toBeUndefined();
    const payload = result.data!.selectRole;
    expect(payload.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(payload.token).not.toBe(token);
    expect(payload.session).toMatchObject({
      roleSelected: true,
      permission: { businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R01", orgName: "NHST_X3" },
    });
    const [call] = stack.spine.calls("A002");
    const sessionKey = call!.path.split("/").pop();
    expect(call!.method).toBe("PUT");
    expect(call!.headers["http_x_session_key"]).toBe(sessionKey);
    expect(call!.headers["xapi_asid"]).toBe(stack.spine.asid);
    expect(call!.body).toEqual({
      typeInfo: "uk.nhs.ers.xapi.dto.v1.session.ProfessionalSession",
      token: spineUser.smartcardToken,
      permission: { businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R01" },
    });

    const old = await stack.execute(MeDocument, {}, { token });
    expect(old.data!.me).toBeNull();
    const current = await stack.execute(CurrentSessionDocument, {}, { token: payload.token! });
    expect(current.data!.session).toMatchObject({ id: payload.session.id, roleSelected: true });
  });

  it("refuses a role the user does not hold with FORBIDDEN and never calls A002", async () => {
    const token = await open();

    const result = await stack.execute(SelectRoleDocument, { businessFunction: "ERS_ADMIN", orgIdentifier: "R01" }, { token });

    expect(codes(result)).toEqual(["FORBIDDEN"]);
    expect(stack.spine.calls("A002")).toHaveLength(0);
    const still = await stack.execute(MeDocument, {}, { token });
    expect(still.data!.me?.id).toBe("spine:555020964101");
  });

  it("refuses selectRole without a session with UNAUTHENTICATED", async () => {
    const none = await stack.execute(SelectRoleDocument, { businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R01" });
    const unknown = await stack.execute(
      SelectRoleDocument,
      { businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R01" },
      { token: "A".repeat(43) },
    );

    expect(codes(none)).toEqual(["UNAUTHENTICATED"]);
    expect(codes(unknown)).toEqual(["UNAUTHENTICATED"]);
    expect(stack.spine.calls("A002")).toHaveLength(0);
  });

  it("answers a smartcard token Spine refuses (403) with UNAUTHENTICATED", async () => {
    const result = await stack.execute(CreateSessionDocument, { token: "AQIC5wM2LY4Sf-not-a-known-card=@AAJTSQACMDE=#" });

    expect(codes(result)).toEqual(["UNAUTHENTICATED"]);
    expect(stack.spine.calls("A001")).toHaveLength(1);
  });

  it("answers a Spine 422 with UPSTREAM_REJECTED and the e-RS code from the OperationOutcome", async () => {
    const token = await open();
    stack.spine.inject("A002", {
      kind: "status",
      status: 422,
      contentType: "application/json",
      body: JSON.stringify({
        resourceType: "OperationOutcome",
        issue: [
          {
            severity: "error",
            code: "invalid",
            details: { coding: [{ system: "http://fhir.nhs.net/ValueSet/ers-apierrorcode-1", code: "NO_RELATIONSHIP", display: "No relationship" }] },
            diagnostics: "permission: no legitimate relationship",
          },
        ],
      }),
    });

    const result = await stack.execute(SelectRoleDocument, { businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R01" }, { token });

    expect(codes(result)).toEqual(["UPSTREAM_REJECTED"]);
    expect(result.errors![0]!.extensions).toMatchObject({ backend: "SPINE", ersCode: "NO_RELATIONSHIP" });
    expect(result.errors![0]!.message).not.toContain("legitimate relationship");
  });

  it("ends the gateway session when Spine no longer knows its session key (A002 answers 403)", async () => {
    const token = await open();
    stack.spine.inject("A002", { kind: "status", status: 403, body: "{}", contentType: "application/json" });

    const result = await stack.execute(SelectRoleDocument, { businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R01" }, { token });

    expect(codes(result)).toEqual(["UNAUTHENTICATED"]);
    expect((await stack.execute(MeDocument, {}, { token })).data!.me).toBeNull();
  });

  it("signs out with A003 carrying the session key, after which me and session are null", async () => {
    const token = await open();

    const result = await stack.execute(SignoutDocument, {}, { token });

    expect(result.data).toEqual({ signout: true });
    const [call] = stack.spine.calls("A003");
    expect(call!.method).toBe("DELETE");
    expect(call!.headers["http_x_session_key"]).toBe(call!.path.split("/").pop());
    expect((await stack.execute(MeDocument, {}, { token })).data!.me).toBeNull();
    expect((await stack.execute(CurrentSessionDocument, {}, { token })).data!.session).toBeNull();
  });

  it("answers signout without a session with false and calls no backend", async () => {
    const result = await stack.execute(SignoutDocument, {});

    expect(result.data).toEqual({ signout: false });
    expect(stack.spine.calls()).toHaveLength(0);
  });

  it("waits for the session's A002 in flight before it sends A003", async () => {
    const token = await open();
    stack.spine.inject("A002", { kind: "latency", ms: 300, times: 1 });

    const selecting = stack.execute(SelectRoleDocument, { businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R01" }, { token });
    // The sign-out is sent once the A002 is in flight (logged at Spine before the latency holds it).
    await waitFor(() => stack.spine.calls("A002").length === 1, { what: "the A002 at Spine" });
    const signingOut = stack.execute(SignoutDocument, {}, { token });
    await Promise.all([selecting, signingOut]);

    const order = stack.spine.calls().map((call) => call.route);
    expect(order).toEqual(["A001", "A002", "A003"]);
    const [a002] = stack.spine.calls("A002");
    const [a003] = stack.spine.calls("A003");
    expect(a003!.at).toBeGreaterThanOrEqual(a002!.at + 250);
  });

  it("ends the gateway session even when Spine fails the sign-out", async () => {
    const token = await open();
    stack.spine.inject("A003", { kind: "status", status: 503 });

    const result = await stack.execute(SignoutDocument, {}, { token });

    expect(result.data).toEqual({ signout: true });
    expect((await stack.execute(MeDocument, {}, { token })).data!.me).toBeNull();
  });

  it("passes business functions outside the catalogue through unchanged", async () => {
    const card = (await import("../../src/simulators/index.js")).SPINE_DEMO.users.find((user) =>
      user.permissions.some((permission) => permission.businessFunction === "CLINICAL_SAFETY_OFFICER"),
    )!;

    const result = await stack.execute(CreateSessionDocument, { token: card.smartcardToken });

    expect(result.data!.createSession.session.user.permissions.map((p) => p.businessFunction)).toContain("CLINICAL_SAFETY_OFFICER");
  });
});
