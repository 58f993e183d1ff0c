import type { AuditEvent, AuditEventName } from "./audit.js";

const DCM = "http://dicom.nema.org/resources/ontology/DCM";
/** The gateway's own code for each event, beside the DICOM code where one fits. */
const GATEWAY_EVENTS = "urn:health-auth-gateway:audit-event";
/** e-RS business functions are an open set (the contract): a code system of the gateway, not a published one. */
const BUSINESS_FUNCTIONS = "urn:health-auth-gateway:ers-business-function";
const ODS = "https://fhir.nhs.uk/Id/ods-organization-code";
const ASID = "https://fhir.nhs.uk/Id/nhsSpineASID";
const USER_IDS = "urn:health-auth-gateway:user-id";
const SESSION_ID_HASHES = "urn:health-auth-gateway:session-id-sha256";

/** DICOM Login (110122) for events that start a session, Logout (110123) for those that end one. */
const DICOM_SUBTYPE: Partial<Record<AuditEventName, { code: string; display: string }>> = {
  signin: { code: "110122", display: "Login" },
  "spine.session.created": { code: "110122", display: "Login" },
  signout: { code: "110123", display: "Logout" },
  "session.expired": { code: "110123", display: "Logout" },
  "session.evicted": { code: "110123", display: "Logout" },
};

/** A FHIR R4 AuditEvent resource (the parts this gateway fills in). */
interface FhirAuditEvent {
  resourceType: "AuditEvent";
  type: { system: string; code: string; display: string };
  subtype: Array<{ system: string; code: string; display?: string }>;
  action: "E";
  recorded: string;
  outcome: "0" | "4" | "8";
  outcomeDesc?: string;
  agent: Array<{
    who: { identifier: { system: string; value: string } } | { display: string };
    requestor: boolean;
    role?: Array<{ coding: Array<{ system: string; code: string }> }>;
    network?: { address: string; type: "2" };
  }>;
  source: { site: string; observer: { display: string; identifier?: { system: string; value: string } } };
  entity: Array<{ what: { identifier: { system: string; value: string } }; detail: Array<{ type: string; valueString: string }> }>;
}

/**
 * Renders an audit event as a FHIR R4 AuditEvent: DICOM "User Authentication" (110114), the
 * event as subtype, action Execute, outcome 0 (success), 4 (refused: a minor failure) or 8
 * (a backend or the store failed), the user as requesting agent with their role and client
 * address, the organisation as a second agent, the gateway (with its ASID) as observer, and
 * the session (by the hash of its id) as entity with the request id.
 */
export function toFhirAuditEvent(event: AuditEvent): FhirAuditEvent {
  const dicom = DICOM_SUBTYPE[event.event];
  const agent: FhirAuditEvent["agent"] = [
    {
      who: event.userId === null ? { display: "unknown user" } : { identifier: { system: USER_IDS, value: event.userId } },
      requestor: true,
      ...(event.businessFunction === null ? {} : { role: [{ coding: [{ system: BUSINESS_FUNCTIONS, code: event.businessFunction }] }] }),
      ...(event.clientAddress === null ? {} : { network: { address: event.clientAddress, type: "2" } }),
    },
  ];
  if (event.orgIdentifier !== null) agent.push({ who: { identifier: { system: ODS, value: event.orgIdentifier } }, requestor: false });
  return {
    resourceType: "AuditEvent",
    type: { system: DCM, code: "110114", display: "User Authentication" },
    subtype: [...(dicom === undefined ? [] : [{ system: DCM, ...dicom }]), { system: GATEWAY_EVENTS, code: event.event }],
    action: "E",
    recorded: event.time,
    outcome: event.outcome === "success" ? "0" : /^(UPSTREAM_|STORE_|INTERNAL_)/.test(event.reason ?? "") ? "8" : "4",
    ...(event.reason === null ? {} : { outcomeDesc: event.reason }),
    agent,
    source: {
      site: "health-auth-gateway",
      observer: { display: "health-auth-gateway", ...(event.asid === null ? {} : { identifier: { system: ASID, value: event.asid } }) },
    },
    entity: [
      {
        what: { identifier: { system: SESSION_ID_HASHES, value: event.sessionIdHash ?? "none" } },
        detail: [
          ...(event.requestId === null ? [] : [{ type: "requestId", valueString: event.requestId }]),
          ...(event.provider === null ? [] : [{ type: "provider", valueString: event.provider }]),
        ],
      },
    ],
  };
}
