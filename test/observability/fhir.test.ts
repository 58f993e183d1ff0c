import { describe, expect, it } from "@jest/globals";
import { AuthProvider } from "../../src/domain/user.js";
import type { AuditEvent } from "../../src/observability/audit.js";
import { toFhirAuditEvent } from "../../src/observability/fhir.js";

const base = {
  time: "2026-11-21T09:00:00.000Z",
  reason: null,
  provider: AuthProvider.SPINE,
  userId: "spine:555020964101",
  businessFunction: null,
  orgIdentifier: null,
  asid: "200000000220",
  sessionIdHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
  clientAddress: "203.0.113.7",
  requestId: "req-1",
} satisfies Partial<AuditEvent>;

const DCM = "http://dicom.nema.org/resources/ontology/DCM";
const EVENTS = "urn:health-auth-gateway:audit-event";

describe("toFhirAuditEvent", () => {
  it.each<[string, AuditEvent, Record<string, unknown>]>([
    [
      "spine.session.created",
      { ...base, event: "spine.session.created", outcome: "success" },
      {
        subtype: [
          { system: DCM, code: "110122", display: "Login" },
          { system: EVENTS, code: "spine.session.created" },
        ],
        outcome: "0",
      },
    ],
    [
      "signin (failure)",
      {
        ...base,
        event: "signin",
        outcome: "failure",
        reason: "UNAUTHENTICATED",
        provider: AuthProvider.IDP,
        userId: null,
        asid: null,
        sessionIdHash: null,
      },
      {
        subtype: [
          { system: DCM, code: "110122", display: "Login" },
          { system: EVENTS, code: "signin" },
        ],
        outcome: "4",
        outcomeDesc: "UNAUTHENTICATED",
      },
    ],
    [
      "role.selected",
      { ...base, event: "role.selected", outcome: "success", businessFunction: "REFERRING_CLINICIAN", orgIdentifier: "R01" },
      { subtype: [{ system: EVENTS, code: "role.selected" }], outcome: "0" },
    ],
    [
      "signout",
      { ...base, event: "signout", outcome: "success" },
      {
        subtype: [
          { system: DCM, code: "110123", display: "Logout" },
          { system: EVENTS, code: "signout" },
        ],
        outcome: "0",
      },
    ],
    [
      "session.expired",
      { ...base, event: "session.expired", outcome: "success", reason: "IDLE" },
      {
        subtype: [
          { system: DCM, code: "110123", display: "Logout" },
          { system: EVENTS, code: "session.expired" },
        ],
        outcome: "0",
        outcomeDesc: "IDLE",
      },
    ],
    [
      "session.evicted",
      { ...base, event: "session.evicted", outcome: "success", reason: "SESSION_LIMIT" },
      {
        subtype: [
          { system: DCM, code: "110123", display: "Logout" },
          { system: EVENTS, code: "session.evicted" },
        ],
        outcome: "0",
        outcomeDesc: "SESSION_LIMIT",
      },
    ],
    [
      "refused.rate_limited",
      { ...base, event: "refused.rate_limited", outcome: "failure", reason: "createSession", userId: null, sessionIdHash: null },
      { subtype: [{ system: EVENTS, code: "refused.rate_limited" }], outcome: "4", outcomeDesc: "createSession" },
    ],
    [
      "refused.forbidden",
      { ...base, event: "refused.forbidden", outcome: "failure", reason: "ROLE_NOT_HELD", businessFunction: "BOOKING_MANAGER", orgIdentifier: "R09" },
      { subtype: [{ system: EVENTS, code: "refused.forbidden" }], outcome: "4", outcomeDesc: "ROLE_NOT_HELD" },
    ],
  ])("renders %s as an R4 AuditEvent: type, subtype, action, recorded, outcome, agent, source and entity", (_name, event, expected) => {
    const resource = toFhirAuditEvent(event);

    expect(resource).toMatchObject({
      resourceType: "AuditEvent",
      type: { system: DCM, code: "110114", display: "User Authentication" },
      action: "E",
      recorded: event.time,
      ...expected,
    });
    expect(resource.subtype).toEqual(expected["subtype"]);
    expect(resource.agent[0]).toEqual({
      who: event.userId === null ? { display: "unknown user" } : { identifier: { system: "urn:health-auth-gateway:user-id", value: event.userId } },
      requestor: true,
      ...(event.businessFunction === null
        ? {}
        : { role: [{ coding: [{ system: "urn:health-auth-gateway:ers-business-function", code: event.businessFunction }] }] }),
      network: { address: "203.0.113.7", type: "2" },
    });
    expect(resource.agent.slice(1)).toEqual(
      event.orgIdentifier === null
        ? []
        : [{ who: { identifier: { system: "https://fhir.nhs.uk/Id/ods-organization-code", value: event.orgIdentifier } }, requestor: false }],
    );
    expect(resource.source).toEqual({
      site: "health-auth-gateway",
      observer: {
        display: "health-auth-gateway",
        ...(event.asid === null ? {} : { identifier: { system: "https://fhir.nhs.uk/Id/nhsSpineASID", value: event.asid } }),
      },
    });
    expect(resource.entity).toEqual([
      {
        what: { identifier: { system: "urn:health-auth-gateway:session-id-sha256", value: event.sessionIdHash ?? "none" } },
        detail: [
          { type: "requestId", valueString: "req-1" },
          { type: "provider", valueString: event.provider },
        ],
      },
    ]);
  });

  it("leaves out the network address and request id of an expiry no request caused (found by the sweep)", () => {
    const resource = toFhirAuditEvent({
      ...base,
      event: "session.expired",
      outcome: "success",
      reason: "IDLE",
      clientAddress: null,
      requestId: null,
    });

    expect(resource.agent[0]).not.toHaveProperty("network");
    expect(resource.entity[0]!.detail).toEqual([{ type: "provider", valueString: "SPINE" }]);
  });

  it("marks a failure of a backend or the store as serious (8), a refusal as minor (4)", () => {
    const failed = (reason: string) => toFhirAuditEvent({ ...base, event: "signin", outcome: "failure", reason }).outcome;

    expect([failed("UPSTREAM_UNAVAILABLE"), failed("STORE_UNAVAILABLE"), failed("INTERNAL_SERVER_ERROR"), failed("UNAUTHENTICATED")]).toEqual([
      "8",
      "8",
      "8",
      "4",
    ]);
  });
});
