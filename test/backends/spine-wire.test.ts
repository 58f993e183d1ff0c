import { describe, expect, it } from "@jest/globals";
import { ersCodeOf, parseProfessionalSession } from "../../src/backends/spine/spine.wire.js";
import { AuthProvider } from "../../src/domain/user.js";

const TYPE_INFO = "uk.nhs.ers.xapi.dto.v1.session.ProfessionalSession";
const SMARTCARD_TOKEN = "AQIC5wM2LY4Sfcyw62EbAOsRpdfbGYUOyvkfZ4M6U7W52lM=@AAJTSQACMDE=#";
const SESSION_KEY = "pro-xapi-session_222c42c7-820f-4f9b-92fb-3add4b1db9f7";

/** The A001 `201 Created` example of shared/contracts/spine.md. */
const A001 = {
  typeInfo: TYPE_INFO,
  id: SESSION_KEY,
  token: SMARTCARD_TOKEN,
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
};

/** The A002 `200 OK` answer: the whole session with the chosen permission filled in, orgName included. */
const A002 = { ...A001, permission: { businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R01", orgName: "NHST_X3" } };

/** The OperationOutcome example of shared/contracts/spine.md. */
const OPERATION_OUTCOME = {
  resourceType: "OperationOutcome",
  issue: [
    {
      severity: "error",
      code: "invalid",
      details: {
        coding: [{ system: "http://fhir.nhs.net/ValueSet/ers-apierrorcode-1", code: "MISSING_VALUE", display: "Missing value" }],
      },
      diagnostics: "token: may not be null",
    },
  ],
};

const withUser = (user: Record<string, unknown>) => ({ ...A001, user: { ...A001.user, ...user } });

describe("parseProfessionalSession", () => {
  it("maps the contract's A001 example to a session key, a Spine user and no permission", () => {
    expect(parseProfessionalSession(A001)).toEqual({
      sessionKey: SESSION_KEY,
      permission: null,
      user: {
        provider: AuthProvider.SPINE,
        identifier: "555020964101",
        displayName: "SA Assurance GP-Card",
        firstName: "SA Assurance",
        middleName: null,
        lastName: "GP-Card",
        email: null,
        active: null,
        groups: [],
        permissions: [
          { businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R01", orgName: "NHST_X3" },
          { businessFunction: "SERVICE_PROVIDER_CLINICIAN", orgIdentifier: "R01", orgName: "NHST_X3" },
        ],
        profiles: [],
        lastLoginAt: null,
      },
    });
  });

  it("maps the contract's A002 answer with the selected permission and its orgName", () => {
    const session = parseProfessionalSession(A002);

    expect(session?.sessionKey).toBe(SESSION_KEY);
    expect(session?.permission).toEqual({ businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R01", orgName: "NHST_X3" });
    expect(session?.user.permissions).toHaveLength(2);
  });

  it("keeps the smartcard token of the body out of what it returns", () => {
    expect(JSON.stringify(parseProfessionalSession(A002))).not.toContain(SMARTCARD_TOKEN);
  });

  it("reads a missing permission as none selected", () => {
    const { permission: _, ...withoutPermission } = A001;

    expect(parseProfessionalSession(withoutPermission)?.permission).toBeNull();
  });

  it("includes the middle name in the display name when there is one", () => {
    expect(parseProfessionalSession(withUser({ middleName: "Q" }))?.user).toMatchObject({ middleName: "Q", displayName: "SA Assurance Q GP-Card" });
  });

  it("falls back to the identifier for the display name of a user without names", () => {
    const session = parseProfessionalSession(withUser({ firstName: null, lastName: undefined, middleName: "" }));

    expect(session?.user).toMatchObject({ displayName: "555020964101", firstName: null, middleName: null, lastName: null });
  });

  it("reads a permission without orgName with a null orgName", () => {
    const session = parseProfessionalSession(withUser({ permissions: [{ businessFunction: "REFERRING_ADMIN", orgIdentifier: "R02" }] }));

    expect(session?.user.permissions).toEqual([{ businessFunction: "REFERRING_ADMIN", orgIdentifier: "R02", orgName: null }]);
  });

  it("drops a permission lacking its business function or organisation and keeps the others", () => {
    const session = parseProfessionalSession(
      withUser({
        permissions: [
          { orgIdentifier: "R01", orgName: "NHST_X3" },
          { businessFunction: "REFERRING_CLINICIAN", orgName: "NHST_X3" },
          { businessFunction: "", orgIdentifier: "R01" },
          { businessFunction: 7, orgIdentifier: "R01" },
          null,
          "REFERRING_CLINICIAN",
          { businessFunction: "SERVICE_PROVIDER_CLINICIAN", orgIdentifier: "R01", orgName: "NHST_X3" },
        ],
      }),
    );

    expect(session?.user.permissions).toEqual([{ businessFunction: "SERVICE_PROVIDER_CLINICIAN", orgIdentifier: "R01", orgName: "NHST_X3" }]);
  });

  it("passes business functions outside the catalogue through unchanged", () => {
    const session = parseProfessionalSession(withUser({ permissions: [{ businessFunction: "CLINICAL_SAFETY_OFFICER", orgIdentifier: "R01" }] }));

    expect(session?.user.permissions.map((p) => p.businessFunction)).toEqual(["CLINICAL_SAFETY_OFFICER"]);
  });

  it("reads missing or non-list permissions as none", () => {
    expect(parseProfessionalSession(withUser({ permissions: undefined }))?.user.permissions).toEqual([]);
    expect(parseProfessionalSession(withUser({ permissions: null }))?.user.permissions).toEqual([]);
    expect(parseProfessionalSession(withUser({ permissions: { businessFunction: "REFERRING_CLINICIAN" } }))?.user.permissions).toEqual([]);
  });

  it.each([
    ["no id", { ...A001, id: undefined }],
    ["an empty id", { ...A001, id: "" }],
    ["a numeric id", { ...A001, id: 42 }],
    ["no user", { ...A001, user: undefined }],
    ["a null user", { ...A001, user: null }],
    ["a user that is a list", { ...A001, user: [A001.user] }],
    ["a user without identifier", withUser({ identifier: undefined })],
    ["a user with an empty identifier", withUser({ identifier: "" })],
    ["an OperationOutcome", OPERATION_OUTCOME],
    ["null", null],
    ["a string", SESSION_KEY],
    ["an array", [A001]],
  ])("answers undefined for a body with %s", (_, body) => {
    expect(parseProfessionalSession(body)).toBeUndefined();
  });
});

describe("ersCodeOf", () => {
  it("reads the e-RS code of the contract's OperationOutcome example", () => {
    expect(ersCodeOf(OPERATION_OUTCOME)).toBe("MISSING_VALUE");
  });

  it("reads the code of the first issue and first coding only", () => {
    const body = {
      resourceType: "OperationOutcome",
      issue: [{ details: { coding: [{ code: "NO_RELATIONSHIP" }, { code: "SECOND_CODING" }] } }, { details: { coding: [{ code: "SECOND_ISSUE" }] } }],
    };

    expect(ersCodeOf(body)).toBe("NO_RELATIONSHIP");
  });

  it.each([
    ["null", null],
    ["undefined (a body that was not JSON)", undefined],
    ["a string", "MISSING_VALUE"],
    ["an array", [OPERATION_OUTCOME]],
    ["an empty object", {}],
    ["issue that is not a list", { issue: { details: { coding: [{ code: "MISSING_VALUE" }] } } }],
    ["an empty issue list", { issue: [] }],
    ["an issue without details", { issue: [{ severity: "error", diagnostics: "token: may not be null" }] }],
    ["details that are a string", { issue: [{ details: "MISSING_VALUE" }] }],
    ["an empty coding list", { issue: [{ details: { coding: [] } }] }],
    ["a coding that is a string", { issue: [{ details: { coding: ["MISSING_VALUE"] } }] }],
    ["a coding without code", { issue: [{ details: { coding: [{ display: "Missing value" }] } }] }],
    ["a numeric code", { issue: [{ details: { coding: [{ code: 422 }] } }] }],
    ["an empty code", { issue: [{ details: { coding: [{ code: "" }] } }] }],
    ["a null first issue", { issue: [null, { details: { coding: [{ code: "MISSING_VALUE" }] } }] }],
  ])("answers undefined for %s", (_, body) => {
    expect(ersCodeOf(body)).toBeUndefined();
  });
});
