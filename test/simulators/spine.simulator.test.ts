import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { SPINE_DEMO, startSpineSimulator, type SpineSimulator } from "../../src/simulators/index.js";
import { GP, MULTI_ROLE, PROFESSIONAL_SESSION, UNCATALOGUED, createSession, sessionKeyOf, spine, type Reply } from "./http.js";

const CATALOGUE = [
  "REFERRING_CLINICIAN",
  "REFERRING_CLINICIAN_ADMIN",
  "REFERRING_ADMIN",
  "BMS_HCP_PROXY",
  "BMS_ADMIN",
  "SERVICE_PROVIDER_CLINICIAN",
  "SERVICE_PROVIDER_CLINICIAN_ADMIN",
  "SERVICE_PROVIDER_ADMIN",
  "SERVICE_DEFINER",
  "BOOKING_MANAGER",
  "COMMISSIONER",
  "INFORMATION_ANALYST",
  "ERS_ADMIN",
  "ADDITIONAL_REQUIREMENTS_MANAGER",
  "REFERRER_RIGHTS_MANAGER",
];

const SESSION_ID = /^pro-xapi-session_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function operationOutcome(code: string, display: string, diagnostics: string): unknown {
  return {
    resourceType: "OperationOutcome",
    issue: [
      {
        severity: "error",
        code: "invalid",
        details: { coding: [{ system: "http://fhir.nhs.net/ValueSet/ers-apierrorcode-1", code, display }] },
        diagnostics,
      },
    ],
  };
}

function selectRole(
  sim: SpineSimulator,
  key: string,
  permission: unknown,
  options: { token?: string; headerKey?: string | undefined } = {},
): Promise<Reply> {
  const body = { typeInfo: PROFESSIONAL_SESSION, token: options.token ?? GP.smartcardToken, permission };
  const headerKey = "headerKey" in options ? options.headerKey : key;
  return spine(sim, "PUT", `/v1/ProfessionalSession/${key}`, body, { HTTP_X_SESSION_KEY: headerKey });
}

function deleteSession(sim: SpineSimulator, key: string, headers = { HTTP_X_SESSION_KEY: key as string | undefined }): Promise<Reply> {
  return spine(sim, "DELETE", `/v1/ProfessionalSession/${key}`, undefined, headers);
}

describe("Spine simulator", () => {
  let sim: SpineSimulator;
  beforeAll(async () => {
    sim = await startSpineSimulator();
  });
  afterAll(() => sim.close());
  beforeEach(() => {
    sim.clearFaults();
    sim.resetCalls();
  });

  it("listens on an ephemeral port of 127.0.0.1 and accepts the demo ASID by default", () => {
    expect(sim.url).toBe(`http://127.0.0.1:${sim.port}`);
    expect(sim.port).toBeGreaterThan(0);
    expect(sim.asid).toBe("200000000220");
  });

  describe("A001 create session", () => {
    it("answers 201 with the contract's ProfessionalSession for the contract's example token", async () => {
      const reply = await createSession(sim, GP.smartcardToken);

      expect(reply.status).toBe(201);
      expect(reply.contentType).toMatch(/^application\/json/);
      expect(reply.json).toEqual({
        typeInfo: PROFESSIONAL_SESSION,
        id: expect.stringMatching(SESSION_ID),
        token: "AQIC5wM2LY4Sfcyw62EbAOsRpdfbGYUOyvkfZ4M6U7W52lM=@AAJTSQACMDE=#",
        user: {
          identifier: "555020964101",
          firstName: "SA Assurance",
          lastName: "GP-Card",
          middleName: null,
          permissions: [
            { businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R01", orgName: "NHST_X3" },
            { businessFunction: "SERVICE_PROVIDER_CLINICIAN", orgIdentifier: "R01", orgName: "NHST_X3" },
          ],
        },
        permission: null,
      });
      // Key order matches the contract's example too, for anyone reading raw bodies.
      expect(Object.keys(reply.json as object)).toEqual(["typeInfo", "id", "token", "user", "permission"]);
    });

    it("sends the middle name when the user has one", async () => {
      const reply = await createSession(sim, MULTI_ROLE.smartcardToken);
      expect(reply.status).toBe(201);
      expect((reply.json as { user: { middleName: unknown } }).user.middleName).toBe("Lakshmi");
    });

    it("creates a new session key on every call", async () => {
      const first = await sessionKeyOf(sim);
      const second = await sessionKeyOf(sim);
      expect(second).not.toBe(first);
    });

    it("accepts the XAPI_ASID header with its underscore, as Node receives it", async () => {
      await createSession(sim);
      expect(sim.calls("A001")[0]!.headers["xapi_asid"]).toBe("200000000220");
    });

    it.each([
      ["missing", { XAPI_ASID: undefined }],
      ["wrong", { XAPI_ASID: "999999999999" }],
      ["hyphenated instead of underscored", { XAPI_ASID: undefined, "XAPI-ASID": "200000000220" }],
    ])("answers 403 when the ASID is %s", async (_, headers) => {
      const body = { typeInfo: PROFESSIONAL_SESSION, token: GP.smartcardToken };
      const reply = await spine(sim, "POST", "/v1/ProfessionalSession", body, headers);
      expect(reply.status).toBe(403);
    });

    it("answers 403 for a smartcard token it does not know", async () => {
      const reply = await createSession(sim, "AQIC5wM2LY4SfUNKNOWNUNKNOWNUNKNOWNUNKNOWN00=@AAJTSQACMDE=#");
      expect(reply.status).toBe(403);
      expect(reply.text).toBe("");
    });

    it.each([
      ["missing", { typeInfo: PROFESSIONAL_SESSION }],
      ["null", { typeInfo: PROFESSIONAL_SESSION, token: null }],
      ["empty", { typeInfo: PROFESSIONAL_SESSION, token: "" }],
      ["not a string", { typeInfo: PROFESSIONAL_SESSION, token: 42 }],
    ])("answers 422 MISSING_VALUE when the token is %s", async (_, body) => {
      const reply = await spine(sim, "POST", "/v1/ProfessionalSession", body);
      expect(reply.status).toBe(422);
      expect(reply.json).toEqual(operationOutcome("MISSING_VALUE", "Missing value", "token: may not be null"));
    });

    it.each([
      ["is not JSON", "{not json"],
      ["is a JSON array", [GP.smartcardToken]],
      ["has another typeInfo", { typeInfo: "uk.nhs.ers.xapi.dto.v1.Other", token: GP.smartcardToken }],
      ["has no typeInfo", { token: GP.smartcardToken }],
    ])("answers 422 INVALID_VALUE when the body %s", async (_, body) => {
      const reply = await spine(sim, "POST", "/v1/ProfessionalSession", body);
      expect(reply.status).toBe(422);
      const issue = (reply.json as { issue: Array<{ details: { coding: Array<{ code: string }> } }> }).issue;
      expect(issue).toHaveLength(1);
      expect(issue[0]!.details.coding[0]!.code).toBe("INVALID_VALUE");
    });
  });

  describe("A002 select role", () => {
    it("answers 200 with the whole session and the chosen permission, orgName included", async () => {
      const key = await sessionKeyOf(sim);
      const reply = await selectRole(sim, key, { businessFunction: "SERVICE_PROVIDER_CLINICIAN", orgIdentifier: "R01" });

      expect(reply.status).toBe(200);
      expect(reply.json).toEqual({
        typeInfo: PROFESSIONAL_SESSION,
        id: key,
        token: GP.smartcardToken,
        user: {
          identifier: GP.identifier,
          firstName: GP.firstName,
          lastName: GP.lastName,
          middleName: null,
          permissions: GP.permissions,
        },
        permission: { businessFunction: "SERVICE_PROVIDER_CLINICIAN", orgIdentifier: "R01", orgName: "NHST_X3" },
      });
    });

    it("lets a role be selected again, replacing the first", async () => {
      const key = await sessionKeyOf(sim, MULTI_ROLE.smartcardToken);
      const options = { token: MULTI_ROLE.smartcardToken };
      await selectRole(sim, key, { businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R01" }, options);
      const reply = await selectRole(sim, key, { businessFunction: "BOOKING_MANAGER", orgIdentifier: "R02" }, options);
      expect(reply.status).toBe(200);
      expect((reply.json as { permission: unknown }).permission).toEqual({
        businessFunction: "BOOKING_MANAGER",
        orgIdentifier: "R02",
        orgName: "NHST_X4",
      });
    });

    it("lets a business function outside the catalogue be selected", async () => {
      const key = await sessionKeyOf(sim, UNCATALOGUED.smartcardToken);
      const reply = await selectRole(
        sim,
        key,
        { businessFunction: "CLINICAL_SAFETY_OFFICER", orgIdentifier: "R02" },
        { token: UNCATALOGUED.smartcardToken },
      );
      expect(reply.status).toBe(200);
      expect((reply.json as { permission: { businessFunction: string } }).permission.businessFunction).toBe("CLINICAL_SAFETY_OFFICER");
    });

    it.each([
      ["a role the user does not hold", { businessFunction: "ERS_ADMIN", orgIdentifier: "R01" }],
      ["a held role at another organisation", { businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R02" }],
    ])("answers 422 INVALID_VALUE for %s", async (_, permission) => {
      const key = await sessionKeyOf(sim);
      const reply = await selectRole(sim, key, permission);
      expect(reply.status).toBe(422);
      expect(reply.json).toEqual(operationOutcome("INVALID_VALUE", "Invalid value", "permission: must be one of the user's permissions"));
    });

    it("answers 422 MISSING_VALUE when no permission is sent", async () => {
      const key = await sessionKeyOf(sim);
      const reply = await selectRole(sim, key, undefined);
      expect(reply.status).toBe(422);
      expect(reply.json).toEqual(operationOutcome("MISSING_VALUE", "Missing value", "permission: may not be null"));
    });

    const role = { businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R01" };
    it.each([
      ["the session key header is missing", { headerKey: undefined }],
      ["the session key header names another session", { headerKey: "pro-xapi-session_other" }],
      ["the token is another user's", { token: MULTI_ROLE.smartcardToken }],
    ])("answers 403 when %s", async (_, options) => {
      const key = await sessionKeyOf(sim);
      const reply = await selectRole(sim, key, role, options);
      expect(reply.status).toBe(403);
    });

    it("answers 403 for a session key it never issued", async () => {
      const reply = await selectRole(sim, "pro-xapi-session_00000000-0000-4000-8000-000000000000", role);
      expect(reply.status).toBe(403);
    });

    it("answers 403 without the ASID even for a live session", async () => {
      const key = await sessionKeyOf(sim);
      const body = { typeInfo: PROFESSIONAL_SESSION, token: GP.smartcardToken, permission: role };
      const reply = await spine(sim, "PUT", `/v1/ProfessionalSession/${key}`, body, {
        HTTP_X_SESSION_KEY: key,
        XAPI_ASID: undefined,
      });
      expect(reply.status).toBe(403);
    });
  });

  describe("A003 delete session", () => {
    it("answers 204 with no body, then 403 to any call with that key", async () => {
      const key = await sessionKeyOf(sim);

      const deleted = await deleteSession(sim, key);
      expect(deleted.status).toBe(204);
      expect(deleted.text).toBe("");

      expect((await selectRole(sim, key, { businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R01" })).status).toBe(403);
      expect((await deleteSession(sim, key)).status).toBe(403);
    });

    it("answers 403 and keeps the session when the session key header is missing", async () => {
      const key = await sessionKeyOf(sim);
      expect((await deleteSession(sim, key, { HTTP_X_SESSION_KEY: undefined })).status).toBe(403);
      expect((await selectRole(sim, key, { businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R01" })).status).toBe(200);
    });
  });

  it("answers 404 with a JSON body for a path it does not serve", async () => {
    const reply = await spine(sim, "GET", "/v1/Referral");
    expect(reply.status).toBe(404);
    expect(reply.json).toMatchObject({ resourceType: "OperationOutcome" });
    expect(sim.calls("unmatched")).toHaveLength(1);
  });

  it("answers 405 naming the allowed methods for a method a path does not serve", async () => {
    const res = await fetch(`${sim.url}/v1/ProfessionalSession`, { headers: { XAPI_ASID: sim.asid } });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("POST");
    await res.arrayBuffer();
  });

  it("accepts only the configured ASID when one is given", async () => {
    const custom = await startSpineSimulator({ asid: "123456789012" });
    try {
      expect(custom.asid).toBe("123456789012");
      expect((await createSession(custom)).status).toBe(201);
      const demoAsid = await spine(
        custom,
        "POST",
        "/v1/ProfessionalSession",
        { typeInfo: PROFESSIONAL_SESSION, token: GP.smartcardToken },
        { XAPI_ASID: "200000000220" },
      );
      expect(demoAsid.status).toBe(403);
    } finally {
      await custom.close();
    }
  });

  it("stamps recorded calls with the given clock", async () => {
    const stamped = await startSpineSimulator({ now: () => 1_700_000_000_000 });
    try {
      await createSession(stamped);
      expect(stamped.calls("A001")[0]!.at).toBe(1_700_000_000_000);
    } finally {
      await stamped.close();
    }
  });
});

describe("SPINE_DEMO", () => {
  it("holds at least three users with distinct tokens and labels", () => {
    expect(SPINE_DEMO.users.length).toBeGreaterThanOrEqual(3);
    expect(new Set(SPINE_DEMO.users.map((u) => u.smartcardToken)).size).toBe(SPINE_DEMO.users.length);
    expect(SPINE_DEMO.users.every((u) => u.label.length > 0)).toBe(true);
  });

  it("includes a user with a middle name and roles at two organisations", () => {
    expect(SPINE_DEMO.users.some((u) => u.middleName !== null && new Set(u.permissions.map((p) => p.orgIdentifier)).size >= 2)).toBe(true);
  });

  it("includes a user with a business function outside the catalogue", () => {
    const unknown = SPINE_DEMO.users.flatMap((u) => u.permissions).filter((p) => !CATALOGUE.includes(p.businessFunction));
    expect(unknown.map((p) => p.businessFunction)).toContain("CLINICAL_SAFETY_OFFICER");
  });
});
