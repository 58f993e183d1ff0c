/**
 * The project's own picture of a user, whichever backend they came from. Backend wire
 * shapes are turned into these in src/backends/*; nothing above that layer sees the wire.
 */

/** Which backend authenticated the user (and answered for them). */
export enum AuthProvider {
  SPINE = "SPINE",
  IDP = "IDP",
}

/** A Spine role: an e-RS business function at an organisation. */
export interface Permission {
  /** An open set: codes Spine adds later pass through unchanged. */
  businessFunction: string;
  /** ODS code of the organisation. */
  orgIdentifier: string;
  orgName: string | null;
}

/** An IdP profile: what the user may act as, and where (catchment area codes). */
export interface Profile {
  /** Lower case, as the IdP names it: provider, admin, facility, patient, or another. */
  type: string;
  id: string;
  catchment: string[];
}

export interface User {
  provider: AuthProvider;
  /** The backend's own id of the user, as a string. */
  identifier: string;
  displayName: string;
  firstName: string | null;
  middleName: string | null;
  lastName: string | null;
  email: string | null;
  active: boolean | null;
  groups: string[];
  permissions: Permission[];
  profiles: Profile[];
  /** ISO-8601 instant with zone, or null. Kept as text so records survive JSON stores as they are. */
  lastLoginAt: string | null;
}

/** The globally unique id of a user in the graph: `spine:<identifier>` or `idp:<id>`. */
export function globalUserId(user: Pick<User, "provider" | "identifier">): string {
  return `${user.provider === AuthProvider.SPINE ? "spine" : "idp"}:${user.identifier}`;
}

export function samePermission(
  a: Pick<Permission, "businessFunction" | "orgIdentifier">,
  b: Pick<Permission, "businessFunction" | "orgIdentifier">,
): boolean {
  return a.businessFunction === b.businessFunction && a.orgIdentifier === b.orgIdentifier;
}
