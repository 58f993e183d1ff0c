/**
 * Spine's wire shapes (shared/contracts/spine.md) and their translation into domain
 * types. Nothing outside src/backends/spine knows these names.
 */
import { AuthProvider, type Permission, type User } from "../../domain/user.js";
import { isObject, list, text } from "../wire.js";

export const PROFESSIONAL_SESSION_TYPE = "uk.nhs.ers.xapi.dto.v1.session.ProfessionalSession";

/** A ProfessionalSession as the gateway keeps it. */
export interface SpineSession {
  /** `ProfessionalSession.id`: the session key sent as `HTTP_X_SESSION_KEY`. A credential. */
  sessionKey: string;
  user: User;
  permission: Permission | null;
}

function permissionFrom(value: unknown): Permission | undefined {
  if (!isObject(value)) return undefined;
  const businessFunction = text(value.businessFunction);
  const orgIdentifier = text(value.orgIdentifier);
  if (businessFunction === undefined || orgIdentifier === undefined) return undefined;
  return { businessFunction, orgIdentifier, orgName: text(value.orgName) ?? null };
}

/** Reads a ProfessionalSession body; undefined when it is not one. */
export function parseProfessionalSession(body: unknown): SpineSession | undefined {
  if (!isObject(body) || !isObject(body.user)) return undefined;
  const sessionKey = text(body.id);
  const identifier = text(body.user.identifier);
  if (sessionKey === undefined || identifier === undefined) return undefined;
  const permissions = list(body.user.permissions).map(permissionFrom);
  // A permission Spine sends that lacks its two keys is not a role anyone could select;
  // failing the whole session for it would lock the user out of the others.
  const firstName = text(body.user.firstName) ?? null;
  const middleName = text(body.user.middleName) ?? null;
  const lastName = text(body.user.lastName) ?? null;
  const permission = body.permission == null ? null : permissionFrom(body.permission);
  if (permission === undefined) return undefined;
  return {
    sessionKey,
    permission,
    user: {
      provider: AuthProvider.SPINE,
      identifier,
      displayName: [firstName, middleName, lastName].filter(Boolean).join(" ") || identifier,
      firstName,
      middleName,
      lastName,
      email: null,
      active: null,
      groups: [],
      permissions: permissions.filter((p): p is Permission => p !== undefined),
      profiles: [],
      lastLoginAt: null,
    },
  };
}

/** The e-RS error code of an eRS-OperationOutcome-1 body: `issue[0].details.coding[0].code`. */
export function ersCodeOf(body: unknown): string | undefined {
  if (!isObject(body)) return undefined;
  const issue = list(body.issue)[0];
  if (!isObject(issue) || !isObject(issue.details)) return undefined;
  const coding = list(issue.details.coding)[0];
  return isObject(coding) ? text(coding.code) : undefined;
}
