import { AuthProvider, type Permission, type User } from "../domain/user.js";

/** What the gateway holds to act for the user at Spine. Secrets: never leave the gateway. */
interface SpineCredential {
  provider: AuthProvider.SPINE;
  /** `ProfessionalSession.id`, sent as `HTTP_X_SESSION_KEY`. */
  sessionKey: string;
  /** The smartcard SSO token: A002 must carry it again (spine.md). */
  smartcardToken: string;
}

/** What the gateway holds to act for the user at the IdP. Secrets: never leave the gateway. */
interface IdpCredential {
  provider: AuthProvider.IDP;
  accessToken: string;
  /** Sent with sign-out in place of the password, which the gateway never keeps. */
  email: string;
}

/** Who a session is for, by the ids that name them in the graph and the audit trail. */
type UserReference = Pick<User, "provider" | "identifier">;

/** What every stored session holds besides its backend's part. */
interface StoredSession {
  /** Public id, stable across token rotation. */
  id: string;
  /** Epoch milliseconds. */
  createdAt: number;
  /** Epoch milliseconds of the last use that was written back. */
  lastSeenAt: number;
}

/** A Spine session as stored. */
export interface SpineSessionRecord extends StoredSession {
  credential: SpineCredential;
  /** The user as A001/A002 described them: Spine has no user-info call, so this is the only copy (roles are checked against it). */
  user: User;
  /** The selected role; null until selectRole. */
  permission: Permission | null;
}

/** An IdP session as stored. */
export interface IdpSessionRecord extends StoredSession {
  credential: IdpCredential;
  /**
   * Only who the user is: their user info is read fresh (through the cache) whenever it is
   * shown, so a copy here would cost every live session some 500 bytes for nothing. Records
   * written by earlier releases hold the whole User, which is a reference too; earlier releases
   * read no more of it than this.
   */
  user: UserReference;
  permission: null;
}

/** One gateway session as stored, under the hash of its token. */
export type SessionRecord = SpineSessionRecord | IdpSessionRecord;

/** What a new session is made of; the service adds the id and the times. */
export type NewSession = Omit<SpineSessionRecord, keyof StoredSession> | Omit<IdpSessionRecord, keyof StoredSession>;

/** A session found by its token in this request. */
export interface ActiveSession<R extends SessionRecord = SessionRecord> {
  /** The store key (hash of the token), never the token. */
  key: string;
  record: R;
  /** When it ends if unused (idle) or at the latest (absolute), epoch milliseconds. */
  expiresAt: number;
}

/** What an IdP sign-in stores: the credential and who the user is, none of what the IdP answers afresh. */
export function newIdpSession(credential: IdpCredential, user: User): Omit<IdpSessionRecord, keyof StoredSession> {
  return { credential, user: { provider: user.provider, identifier: user.identifier }, permission: null };
}

/** Narrows to a Spine session's record, which holds the whole user. */
export function isSpineRecord(record: SessionRecord): record is SpineSessionRecord {
  return record.credential.provider === AuthProvider.SPINE;
}
