import { randomUUID } from "node:crypto";
import { isObject } from "../../backends/wire.js";
import { headerOf, startSimServer, type SimRequest, type SimResponse, type SimulatorHandle } from "../sim-server.js";
import { SPINE_DEMO, type SpineDemoUser, type SpinePermission } from "./spine.seed.js";

/** Options of {@link startSpineSimulator}. */
interface SpineSimulatorOptions {
  /** Interface to listen on; default `127.0.0.1`. */
  host?: string;
  /** Port to listen on; default 0 (ephemeral). */
  port?: number;
  /** The ASID every call must carry in `XAPI_ASID`; default {@link SPINE_DEMO}.asid. */
  asid?: string;
  /** Clock for the call log; default `Date.now`. */
  now?: () => number;
  /** Smartcard holders it knows besides {@link SPINE_DEMO}'s: tests sharing one store give each run users of its own. */
  extraUsers?: readonly SpineDemoUser[];
}

/** A running simulator of the e-RS professional session API (A001 create, A002 select role, A003 delete). */
export interface SpineSimulator extends SimulatorHandle {
  /** The ASID it accepts. */
  readonly asid: string;
}

const TYPE_INFO = "uk.nhs.ers.xapi.dto.v1.session.ProfessionalSession";
const SESSION_PATH = "/v1/ProfessionalSession";
const FORBIDDEN: SimResponse = { status: 403 };

interface Session {
  readonly id: string;
  readonly token: string;
  readonly user: SpineDemoUser;
  permission: SpinePermission | null;
}

/** Starts a Spine e-RS simulator that follows shared/contracts/spine.md, seeded with {@link SPINE_DEMO}. */
export async function startSpineSimulator(options: SpineSimulatorOptions = {}): Promise<SpineSimulator> {
  const asid = options.asid ?? SPINE_DEMO.asid;
  const usersByToken = new Map([...SPINE_DEMO.users, ...(options.extraUsers ?? [])].map((u) => [u.smartcardToken, u]));
  // A003 removes the entry, which is what makes an ended session's key answer 403 afterwards.
  const sessions = new Map<string, Session>();

  const asidAccepted = (req: SimRequest): boolean => headerOf(req, "XAPI_ASID") === asid;

  /** The live session named by the path, if the session key header names the same one. */
  function sessionOf(req: SimRequest): Session | undefined {
    const key = req.params["sessionKey"]!;
    return headerOf(req, "HTTP_X_SESSION_KEY") === key ? sessions.get(key) : undefined;
  }

  /** The 422s both A001 and A002 share: body, typeInfo and token must be there before anything else is looked at. */
  function validateEnvelope(req: SimRequest): SimResponse | { body: Record<string, unknown>; token: string } {
    if (req.malformedBody || !isObject(req.body)) {
      return operationOutcome("INVALID_VALUE", "request body: must be a JSON ProfessionalSession object");
    }
    if (req.body["typeInfo"] !== TYPE_INFO) return operationOutcome("INVALID_VALUE", `typeInfo: must be ${TYPE_INFO}`);
    const token = req.body["token"];
    if (typeof token !== "string" || token === "") return operationOutcome("MISSING_VALUE", "token: may not be null");
    return { body: req.body, token };
  }

  const handle = await startSimServer({
    host: options.host,
    port: options.port,
    now: options.now ?? Date.now,
    bodyFormat: "json",
    routes: [
      {
        name: "A001",
        method: "POST",
        path: SESSION_PATH,
        handle(req) {
          if (!asidAccepted(req)) return FORBIDDEN;
          const envelope = validateEnvelope(req);
          if ("status" in envelope) return envelope;
          const user = usersByToken.get(envelope.token);
          if (user === undefined) return FORBIDDEN;
          const session: Session = { id: `pro-xapi-session_${randomUUID()}`, token: envelope.token, user, permission: null };
          sessions.set(session.id, session);
          return { status: 201, body: toWire(session) };
        },
      },
      {
        name: "A002",
        method: "PUT",
        path: `${SESSION_PATH}/:sessionKey`,
        handle(req) {
          const session = asidAccepted(req) ? sessionOf(req) : undefined;
          if (session === undefined) return FORBIDDEN;
          const envelope = validateEnvelope(req);
          if ("status" in envelope) return envelope;
          // A valid key presented with another user's token is "not the caller's" session (spine.md A002).
          if (envelope.token !== session.token) return FORBIDDEN;
          const wanted = envelope.body["permission"];
          if (!isObject(wanted)) return operationOutcome("MISSING_VALUE", "permission: may not be null");
          const held = session.user.permissions.find(
            (p) => p.businessFunction === wanted["businessFunction"] && p.orgIdentifier === wanted["orgIdentifier"],
          );
          if (held === undefined) {
            return operationOutcome("INVALID_VALUE", "permission: must be one of the user's permissions");
          }
          session.permission = held;
          return { status: 200, body: toWire(session) };
        },
      },
      {
        name: "A003",
        method: "DELETE",
        path: `${SESSION_PATH}/:sessionKey`,
        handle(req) {
          const session = asidAccepted(req) ? sessionOf(req) : undefined;
          if (session === undefined) return FORBIDDEN;
          sessions.delete(session.id);
          return { status: 204 };
        },
      },
    ],
    fallback: (status) => ({
      status,
      body: {
        resourceType: "OperationOutcome",
        issue: [{ severity: "error", code: status === 404 ? "not-found" : "not-supported" }],
      },
    }),
  });

  return { ...handle, asid };
}

/** The eRS-OperationOutcome-1 body of a 422 (spine.md). */
function operationOutcome(code: "MISSING_VALUE" | "INVALID_VALUE", diagnostics: string): SimResponse {
  const display = code === "MISSING_VALUE" ? "Missing value" : "Invalid value";
  return {
    status: 422,
    body: {
      resourceType: "OperationOutcome",
      issue: [
        {
          severity: "error",
          code: "invalid",
          details: { coding: [{ system: "http://fhir.nhs.net/ValueSet/ers-apierrorcode-1", code, display }] },
          diagnostics,
        },
      ],
    },
  };
}

function toWire(session: Session): unknown {
  const { user } = session;
  return {
    typeInfo: TYPE_INFO,
    id: session.id,
    token: session.token,
    user: {
      identifier: user.identifier,
      firstName: user.firstName,
      lastName: user.lastName,
      middleName: user.middleName,
      permissions: user.permissions.map(permissionToWire),
    },
    permission: session.permission === null ? null : permissionToWire(session.permission),
  };
}

function permissionToWire(p: SpinePermission): SpinePermission {
  return { businessFunction: p.businessFunction, orgIdentifier: p.orgIdentifier, orgName: p.orgName };
}
