import type { AuthProvider, Permission, User } from "../domain/user.js";

/** What the gateway holds to act for the user at Spine. Secrets: never leave the gateway. */
export interface SpineCredential {
  provider: AuthProvider.SPINE;
  /** `ProfessionalSession.id`, sent as `HTTP_X_SESSION_KEY`. */
  sessionKey: string;
  /** The smartcard SSO token: A002 must carry it again (spine.md). */
  smartcardToken: string;
}

/** What the gateway holds to act for the user at the IdP. Secrets: never leave the gateway. */
export interface IdpCredential {
  provider: AuthProvider.IDP;
  accessToken: string;
  /** Sent with sign-out in place of the password, which the gateway never keeps. */
  email: string;
}

export type BackendCredential = SpineCredential | IdpCredential;

/** One gateway session as stored, under the hash of its token. */
export interface SessionRecord {
  /** Public id, stable across token rotation. */
  id: string;
  credential: BackendCredential;
  /** Spine: the user as A001/A002 described them. IdP: the user at sign-in (fresh info comes from the cache). */
  user: User;
  /** The selected Spine role; null until selectRole and for IdP sessions. */
  permission: Permission | null;
  /** Epoch milliseconds. */
  createdAt: number;
  /** Epoch milliseconds of the last use that was written back. */
  lastSeenAt: number;
}

/** A session found by its token in this request. */
export interface ActiveSession {
  /** The store key (hash of the token), never the token. */
  key: string;
  record: SessionRecord;
  /** When it ends if unused (idle) or at the latest (absolute), epoch milliseconds. */
  expiresAt: number;
}
